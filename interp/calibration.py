"""This device's speed for the cost model (interp.cost), measured once per process, and FLOP counting.

An estimate is a part's FLOPs (exact: torch's own count, tested) at a matrix-product rate, slowed by what
the FLOPs do not see: norms, softmax, elementwise work, copies and dispatch. That work grows with the
activations, about FLOPs/hidden, so each kind of work k runs at seconds = FLOPs/rate · (1 + w_k/hidden),
its overhead width w_k in units of hidden size (interp.cost.seconds_of). The kinds: the core, each
expensive saliency method, and a layer's sensitivity split in two, its start (layer 0's work: one layer's
forward, the closed-form start at q and k, the norms of n gradients) and its work below (a layer's forward
and its n backward passes, once per layer under it), so the depth is in the FLOPs and not in the rate.

- The rate: a float32 matrix product of bert-base's FFN shape, best of a few (`device_gflops`).
- Each kind's width, measured in the background as a Celery worker process starts, or beside the embedded
  executor's first job (`calibrate_in_background`; else at the first estimate): the parts of a small
  BERT-shaped model built in memory (interp.probe), run by the engine's own functions, best of a few
  (`device_widths`, ~1 s on one CPU thread).
- Once the worker has run a part (`observe`), its kind's width on that model is the one it ran at
  (FLOPs-weighted over its runs): the same part's next estimate is its measured time, other layers scale
  by their FLOPs (a deep layer's run gives "below", layer 0's gives "start"), and a model that has not
  run a kind takes the median of the probe's width and those of the models that have (on this device).

Why: the matrix-product rate alone made every never-run estimate about 2x short (MiniLM, bert-base at
128-512 tokens: the parts ran at 0.33-0.84 of it), and a per-part rate left other layers and other models
at that 2x. One rate per kind did not carry across depth (layer 0 runs at half a deep layer's rate) nor
across widths (MiniLM's layers run at 0.6 of the rate, bert-base's at 0.8): the work besides matrix
products is what differs, and it follows the activations. A width per kind of work carries across both:
estimates of parts not run yet within 1.25x of their times on MiniLM and bert-base shapes at 94-512
tokens, and a model's other layers within 1.25x once one ran (benchmarks/estimates.py; one CPU thread
and two). Not measured on a GPU, where small models are launch-bound rather than width-bound: there the
probe's widths are a first guess until the worker's own runs take over.
"""

from __future__ import annotations

import atexit
import logging
import statistics
import threading
import time
import warnings
from collections.abc import Callable
from functools import cache
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from interp import qk_capture
from interp.cost import ModelShape, components, estimates, part_flops, width_of
from interp.part_names import CORE, Part, saliency_part, sensitivity_part
from interp.parts import Subject, compute_core, compute_part
from interp.probe import probe_subject

log = logging.getLogger(__name__)

# The calibration's clock: wall time in a worker. A benchmark on one thread of a shared machine sets
# time.process_time here and times its parts with it too.
clock = time.perf_counter


def device_gflops(device: str | torch.device = "cpu", repeats: int = 5) -> float:
    """float32 GFLOP/s of a [1024 x 768] @ [768 x 3072] product on `device`, best of `repeats`: measured
    once per device however it is named (`device_gflops()` and `device_gflops("cpu")` are one entry)."""
    return _measured_gflops(str(torch.device(device)), repeats)


@cache
def _measured_gflops(device: str, repeats: int) -> float:
    a = torch.randn(1024, 768, device=device)
    b = torch.randn(768, 3072, device=device)
    best = float("inf")
    for _ in range(repeats + 1):  # the first is a warm-up
        _sync(device)
        start = clock()
        a @ b
        _sync(device)
        best = min(best, clock() - start)
    return 2 * a.shape[0] * a.shape[1] * b.shape[1] / best / 1e9


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


PROBED = (CORE, sensitivity_part(0), sensitivity_part(1), saliency_part("integrated_gradients"))


_probing = threading.Lock()  # one probe at a time: the worker's start-up calibration and a first estimate


def device_widths(device: str = "cpu", repeats: int = 4, least_s: float = 0.2) -> dict[str, float]:
    """Each kind of work's overhead width on `device`, from the probe's parts (interp.probe): each part's
    best run, run twice and more (up to `repeats`) while its runs took less than `least_s`; layer 0 before
    layer 1 (whose "below" is what layer 0's "start" leaves). Where the probe cannot run, none: the
    estimates fall back to the matrix-product rate alone, and no job fails for want of an estimate."""
    with _probing:
        return _device_widths(device, repeats, least_s)


def calibrate_in_background(device: str | torch.device | None = None) -> threading.Thread:
    """Measure `device`'s (default: the one models load on) rate and widths in a daemon thread (a worker
    process at its start), so that its first job's estimates do not wait ~1 s for them; a job that asks
    meanwhile waits for the same probe."""
    if device is None:
        from interp.loading import pick_device

        device = pick_device()
    name = str(torch.empty(0, device=device).device)  # as a loaded model's device reads: cuda -> cuda:0

    def calibrate() -> None:
        rate, widths = device_gflops(name), device_widths(name)
        log.info("cost model calibrated on %s: %.0f GFLOP/s, overhead widths %s", name, rate, widths)

    thread = threading.Thread(target=calibrate, name="interpboard-calibration", daemon=True)
    thread.start()
    # A process ending mid-probe would abort in torch's teardown ("terminate called..."): it waits instead.
    atexit.register(thread.join)
    return thread


@cache
def _device_widths(device: str, repeats: int, least_s: float) -> dict[str, float]:
    try:
        return _probe_widths(device, repeats, least_s)
    except Exception as exc:  # noqa: BLE001 (any failure of the probe: estimates only lose precision)
        warnings.warn(
            f"the cost model's probe failed on {device} ({type(exc).__name__}: {exc})",
            RuntimeWarning,
            stacklevel=2,
        )
        return {}


def _probe_widths(device: str, repeats: int, least_s: float) -> dict[str, float]:
    subject = probe_subject(torch.device(device))
    core = compute_core(subject)  # a warm-up
    gflops, widths = device_gflops(device), {}
    for part in PROBED:
        best, runs, began = float("inf"), 0, clock()
        while runs < 2 or (runs < repeats and clock() - began < least_s):
            runs += 1
            start = clock()
            compute_core(subject) if part == CORE else compute_part(subject, part, core)
            best = min(best, clock() - start)
        kind, widths[kind] = width_of(
            subject_components(subject, part), best, shape_of(subject), gflops, widths
        )
    return widths


def shape_of(subject: Subject) -> ModelShape:
    """The cost model's numbers for this subject's model: its sensitivity's backward starts at q and k
    exactly where interp.engine's does (interp.qk_capture.layout)."""
    model = subject.lm.model
    rule = qk_capture.layout(model, subject.item.lengths)
    return ModelShape.from_config(model.config, subject.lm.task, closed_form=rule is not None)


# Per (model id, task, device) and kind of work, the widths its parts ran at here, FLOPs-weighted:
# (sum of FLOPs x width, sum of FLOPs). A short input's parts run at a larger width (per-call costs weigh
# more there); weighted by their work they do not pull the long inputs' estimates, where the budget bites.
_observed: dict[tuple[str, str, str], dict[str, tuple[float, float]]] = {}


def _model_key(subject: Subject) -> tuple[str, str, str]:
    return subject.lm.spec.id, subject.lm.task, str(subject.lm.device)


def _mean(weighted: tuple[float, float]) -> float:
    return weighted[0] / weighted[1]


def widths_for(subject: Subject) -> dict[str, float]:
    """Each kind's width for this subject's model: what its parts of that kind ran at, else the median of
    the probe's and those of the other models that ran the kind on this device."""
    device = str(subject.lm.device)
    votes = {kind: [width] for kind, width in device_widths(device).items()}
    for key, kinds in _observed.items():
        for kind, weighted in kinds.items() if key[2] == device else ():
            votes.setdefault(kind, []).append(_mean(weighted))
    own = _observed.get(_model_key(subject), {})
    return {**{k: statistics.median(v) for k, v in votes.items()}, **{k: _mean(w) for k, w in own.items()}}


def observe(subject: Subject, part: Part, seconds: float) -> None:
    """Note the width the part's kind of work just ran at on this model (seconds: its wall time)."""
    flops = subject_components(subject, part)
    if seconds > 0 and sum(flops.values()) > 0:
        gflops = device_gflops(str(subject.lm.device))
        kind, width = width_of(flops, seconds, shape_of(subject), gflops, widths_for(subject))
        kinds = _observed.setdefault(_model_key(subject), {})
        total, weight = kinds.get(kind, (0.0, 0.0))
        kinds[kind] = (total + flops[kind] * width, weight + flops[kind])


def subject_estimates(subject: Subject) -> dict[str, float]:
    """Seconds per part of this subject's full analysis on its device (see the module's docstring)."""
    request = subject.request
    gflops = device_gflops(str(subject.lm.device))
    shape = shape_of(subject)
    return estimates(
        shape, subject.item.lengths, request.methods, request.ig_steps, gflops, widths_for(subject)
    )


def subject_flops(subject: Subject, part: Part) -> int:
    request = subject.request
    return part_flops(shape_of(subject), part, subject.item.lengths, request.methods, request.ig_steps)


def subject_components(subject: Subject, part: Part) -> dict[str, int]:
    request = subject.request
    return components(shape_of(subject), part, subject.item.lengths, request.methods, request.ig_steps)


class _NoModules:
    """FlopCounterMode's module tracker, replaced: its grad hooks fail on inputs that require grad under
    no_grad (Captum's convergence delta on Llama-class models), and only the total is wanted here."""

    parents = frozenset({"Global"})

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: Any) -> None:
        return None


def counted_flops(fn: Callable[[], Any]) -> tuple[Any, int]:
    """fn()'s result and the FLOPs torch counted while it ran (2 per multiply-add, matrix products)."""
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _NoModules()  # type: ignore[assignment]
    with counter:
        result = fn()
    return result, counter.get_total_flops()
