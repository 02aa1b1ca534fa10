"""Stored bytes of a long analysis: dense attention against per-layer queries and keys (rebuilt in numpy).

A bert-base-shaped random classifier at 512 tokens (and the real MiniLM, whose attention has real
structure, when installed): the core (predictions, attention or q/k, head statistics, cheap saliency)
plus every part (integrated gradients, every layer's sensitivity), through the store's codec
(cache/codec.py), against raw float32 attention. Sensitivity is computed for layer 0 and its stored
size counted once per layer (every layer's map has the same shape and precision; computing all 12 at
512 tokens takes hours here). Also prints the rebuild's max abs error against the stored float16
attention, and the time to rebuild one head. Prints `ratio=<qk design bytes / raw float32 attention>` last.

    .venv/bin/python benchmarks/long_storage.py [--tokens 512]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from benchmarks.full_analysis import WORDS, build
from cache.codec import encode
from interp.attention_rebuild import rebuild
from interp.part_names import sensitivity_part
from interp.parts import compute_core, compute_part, prepare
from interp.qk_capture import capture_qk, layout
from interp.registry import load_registry
from interp.schema import ARRAY_DTYPES, AnalysisRequest, _storage_array

THUMB = 32  # per-head thumbnails kept beside q/k: THUMB x THUMB block means


def thumbnails(attention: np.ndarray) -> np.ndarray:
    n = attention.shape[-1]
    edges = np.linspace(0, n, THUMB + 1).astype(int)
    rows = np.add.reduceat(attention, edges[:-1], axis=2)
    return np.add.reduceat(rows, edges[:-1], axis=3).astype(np.float16)


def measure(name: str, request: AnalysisRequest, registry) -> float:
    subject = prepare(request, registry=registry)
    core = compute_core(subject)
    layer0 = compute_part(subject, sensitivity_part(0), core)
    L, H, N, _ = core.attention.shape
    meta, arrays = core.to_record()
    sensitivity = {"attention_sensitivity.0": _storage_array("attention_sensitivity", layer0.values[None])}
    sensitivity_bytes = L * len(encode({}, sensitivity))
    ig_bytes = len(encode({}, {"saliency.integrated_gradients": np.zeros(N, np.float32)}))
    dense = len(encode(meta, arrays)) + sensitivity_bytes + ig_bytes
    q, k = capture_qk(subject)
    shape = layout(subject)
    compact = {k_: v for k_, v in arrays.items() if k_ != "attention"}
    compact |= {
        "qk.q": q.astype(np.float16),
        "qk.k": k.astype(np.float16),
        "thumbs": thumbnails(core.attention),
    }
    qk = len(encode({**meta, "qk_layout": shape}, compact)) + sensitivity_bytes + ig_bytes
    raw = core.attention.astype(np.float32).nbytes
    stored = arrays["attention"].astype(np.float32)
    q16, k16 = q.astype(np.float16), k.astype(np.float16)
    error = max(
        np.abs(rebuild(q16, k16, shape, l, h) - stored[l, h]).max() for l in range(L) for h in range(H)
    )
    start = time.perf_counter()
    rebuild(q16, k16, shape, L - 1, H - 1)
    head_ms = (time.perf_counter() - start) * 1e3
    print(
        f"{name}: tokens={N} layers={L} heads={H} raw_float32_attention={raw / 1e6:.1f} MB | "
        f"dense design {dense / 1e6:.2f} MB ({dense / raw:.3f}) | qk design {qk / 1e6:.2f} MB ({qk / raw:.3f}) | "
        f"of which sensitivity {sensitivity_bytes / 1e6:.2f} MB | rebuild max_abs_error={error:.1e} "
        f"(vs the stored float16 attention; its own step {2.0**-13:.1e}) one head {head_ms:.0f} ms",
        flush=True,
    )
    assert ARRAY_DTYPES["attention"] == np.float16
    return qk / raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=512)
    args = parser.parse_args()
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    methods = ("grad_norm", "grad_x_input", "attention_rollout")
    with tempfile.TemporaryDirectory() as tmp:
        registry = load_registry(build(Path(tmp)))
        text = " ".join(WORDS[: args.tokens - 2])
        ratio = measure(
            "bert-base random", AnalysisRequest("bert-base-random", "sst", text, methods=methods), registry
        )
    try:
        from tests.tiny_models import build_tiny_models

        with tempfile.TemporaryDirectory() as tmp:
            registry = load_registry(build_tiny_models(Path(tmp)))
            if "minilm" in registry.models:
                words = (Path(__file__).read_text().split() * 20)[: args.tokens // 2 - 40]
                half = len(words) // 2
                request = AnalysisRequest(
                    "minilm", "similarity", " ".join(words[:half]), " ".join(words[half:]), methods=methods
                )
                measure("real MiniLM pair", request, registry)
    except ImportError:
        pass
    print(f"ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
