"""This device's speed for the cost model (interp.cost), measured once per process, and FLOP counting.

The first rate is a float32 matrix product of bert-base's FFN shape, timed best of a few: what the
engine's parts, mostly matrix products, can approach. The closed-form FLOPs are exact (torch's own
count, at any number of IG steps), but a part runs below that rate: MiniLM's integrated gradients
at 1.1-1.6x the estimate on one CPU thread, the tiny test models at 10-50x (their time goes to softmax,
norms and dispatch on 32-wide tensors, which no FLOP count sees). So once the worker has run a part
(`observe`), the same model's later estimates of that part use the rate it ran at. Per part, not per
kind: a sensitivity layer's share of work that is not matrix products shrinks with its depth (MiniLM at
278 tokens: layer 0's rate made the other layers' estimates 2x too long).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from interp import qk_capture
from interp.cost import ModelShape, estimates, part_flops
from interp.part_names import Part
from interp.parts import Subject


@cache
def device_gflops(device: str = "cpu", repeats: int = 5) -> float:
    """float32 GFLOP/s of a [1024 x 768] @ [768 x 3072] product on `device`, best of `repeats`."""
    a = torch.randn(1024, 768, device=device)
    b = torch.randn(768, 3072, device=device)
    best = float("inf")
    for _ in range(repeats + 1):  # the first is a warm-up
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * a.shape[0] * a.shape[1] * b.shape[1] / best / 1e9


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def shape_of(subject: Subject) -> ModelShape:
    """The cost model's numbers for this subject's model: its sensitivity's backward starts at q and k
    exactly where interp.engine's does (interp.qk_capture.layout)."""
    model = subject.lm.model
    rule = qk_capture.layout(model, subject.item.lengths)
    return ModelShape.from_config(model.config, subject.lm.task, closed_form=rule is not None)


# GFLOP/s a part last ran at, per (model id, task, device, part name): this process's own measurements.
_measured: dict[tuple[str, str, str, str], float] = {}


def _rate_key(subject: Subject, part: Part) -> tuple[str, str, str, str]:
    return subject.lm.spec.id, subject.lm.task, str(subject.lm.device), str(part)


def observe(subject: Subject, part: Part, seconds: float) -> None:
    """Note the rate a part of this subject just ran at (seconds: its wall time)."""
    flops = subject_flops(subject, part)
    if seconds > 0 and flops > 0:
        _measured[_rate_key(subject, part)] = flops / seconds / 1e9


def subject_estimates(subject: Subject) -> dict[str, float]:
    """Seconds per part of this subject's full analysis on its device: at the rate the part ran at on this
    model, where it has run in this process, else at the device's matrix-product rate."""
    request = subject.request
    gflops = device_gflops(str(subject.lm.device))
    seconds = estimates(shape_of(subject), subject.item.lengths, request.methods, request.ig_steps, gflops)
    for name in seconds:
        measured = _measured.get(_rate_key(subject, Part.parse(name)))
        if measured is not None:
            seconds[name] *= gflops / measured
    return seconds


def subject_flops(subject: Subject, part: Part) -> int:
    request = subject.request
    return part_flops(shape_of(subject), part, subject.item.lengths, request.methods, request.ig_steps)


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
