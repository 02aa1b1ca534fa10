"""Precompute throughput: batched jobs (analyze_many) against one job per sentence, in one run.

MiniLM similarity, 16 sentence pairs, the embedded executor, a fresh cache dir for every run.
Prints both per-sentence times, then `ratio=<one-by-one / batched>` (the target is >= 3).

    .venv/bin/python benchmarks/precompute.py [--methods grad_norm,grad_x_input,attention_rollout]

Batching pays for the forward pass and single-gradient methods; integrated gradients and
attention sensitivity are compute-bound on a CPU and gain little (see README, Benchmarks).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from tests.tiny_models import CORPUS
from workers.executor import EmbeddedExecutor
from workers.precompute import precompute
from workers.settings import Settings

MODEL, TASK = "minilm", "similarity"
METHODS = ("grad_norm", "grad_x_input", "attention_rollout", "attention_sensitivity")
PAIRS = [(CORPUS[i], CORPUS[(i + 5) % len(CORPUS)]) for i in range(16)]
ROUNDS = 2


def seconds_per_sentence(inputs: Path, batch_size: int, cache_dir: str) -> float:
    executor = EmbeddedExecutor(Settings(cache=cache_dir, broker=None))
    try:
        start = time.perf_counter()
        report = precompute(executor, inputs, [MODEL], TASK, METHODS, batch_size=batch_size, poll=0.01)
        elapsed = time.perf_counter() - start
    finally:
        executor.close()
    if report.done != len(PAIRS):
        raise SystemExit(
            f"batch size {batch_size}: {report.done} of {len(PAIRS)} done; failed: {report.failed}"
        )
    return elapsed / len(PAIRS)


def main() -> None:
    global METHODS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS))
    METHODS = tuple(parser.parse_args().methods.split(","))
    os.environ.pop("INTERPBOARD_MODELS", None)  # the built-in registry has the real MiniLM
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "pairs.jsonl"
        inputs.write_bytes(b"".join(orjson.dumps({"text": a, "pair": b}) + b"\n" for a, b in PAIRS))
        # Load the model once outside the clock: both ways run with it warm, as a worker would.
        seconds_per_sentence(inputs, len(PAIRS), f"{tmp}/warmup")
        # Alternate the two ways and keep each one's best, so a burst of load elsewhere hits both alike.
        single = batched = float("inf")
        for round_ in range(ROUNDS):
            single = min(single, seconds_per_sentence(inputs, 1, f"{tmp}/one-by-one-{round_}"))
            batched = min(batched, seconds_per_sentence(inputs, len(PAIRS), f"{tmp}/batched-{round_}"))
    print(f"methods: {','.join(METHODS)}")
    print(f"one-by-one: {single * 1000:.1f} ms/sentence")
    print(f"batched ({len(PAIRS)} per job): {batched * 1000:.1f} ms/sentence")
    print(f"ratio={single / batched:.2f}")


if __name__ == "__main__":
    main()
