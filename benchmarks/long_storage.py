"""Stored bytes of a long analysis: per-layer queries and keys (what the store keeps) against dense attention.

A bert-base-shaped random classifier at 512 tokens (and the real MiniLM, whose attention has real
structure, when installed): the core as the store keeps it (predictions, float16 q/k rounded per layer
within interp.qk_capture.TOLERANCE, row log-normalisers, overview thumbnails, head statistics, cheap
saliency) plus every part (integrated gradients, every layer's sensitivity), through the store's codec
(cache/codec.py), against raw float32 attention; beside it the same analysis with dense float16
attention instead. Sensitivity is computed for layer 0 and its stored size counted once per layer
(every layer's map has the same shape and precision; all 12 at 512 tokens take hours here). Also prints
the rebuilt attention's max abs error against the model's float32 attention, the mantissa bits each
layer dropped, and the time to rebuild one head and one layer. Prints `ratio=<stored / raw float32
attention>` (bert-base) last; target <= 0.10.

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
from cache.codec import decode, encode
from interp.part_names import sensitivity_part
from interp.parts import compute_core, compute_part, prepare
from interp.registry import load_registry
from interp.schema import Analysis, AnalysisRequest, _storage_array


def measure(name: str, request: AnalysisRequest, registry) -> float:
    subject = prepare(request, registry=registry)
    start = time.perf_counter()
    core = compute_core(subject)
    core_seconds = time.perf_counter() - start
    layer0 = compute_part(subject, sensitivity_part(0), core)
    L, H, N, _ = core.attention.shape
    sensitivity = {"attention_sensitivity.0": _storage_array("attention_sensitivity", layer0.values[None])}
    parts = L * len(encode({}, sensitivity))
    parts += len(encode({}, {"saliency.integrated_gradients": np.zeros(N, np.float32)}))
    blob = encode(*core.to_record())
    stored = len(blob) + parts
    meta, arrays = core.to_record(dense=True)
    dense_arrays = {k: v for k, v in arrays.items() if not k.startswith("qk.") and k != "attention_thumbs"}
    dense = len(encode({k: v for k, v in meta.items() if k != "qk_layout"}, dense_arrays)) + parts
    raw = L * H * N * N * 4
    qk_bytes = len(encode({}, {k: v for k, v in core.to_record()[1].items() if k.startswith("qk.")}))
    record = decode(blob)
    back = Analysis.from_record(record.meta, record.arrays)
    error = max(float(np.abs(back.attention[l] - core.attention[l]).max()) for l in range(L))
    start = time.perf_counter()
    from interp.attention_rebuild import rebuild

    rebuild(back.queries, back.keys, back.qk_layout, L - 1, H - 1)
    head_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    back.attention[0]
    layer_ms = (time.perf_counter() - start) * 1e3
    print(
        f"{name}: tokens={N} layers={L} heads={H} raw_float32_attention={raw / 1e6:.1f} MB | "
        f"stored (q/k) {stored / 1e6:.2f} MB ({stored / raw:.3f}), of which q/k {qk_bytes / 1e6:.2f} MB "
        f"and sensitivity+IG {parts / 1e6:.2f} MB | dense float16 instead {dense / 1e6:.2f} MB ({dense / raw:.3f}) | "
        f"rebuild max_abs_error={error:.1e} vs float32 (drop_bits per layer {back.qk_layout['drop_bits']}) | "
        f"one head {head_ms:.0f} ms, one layer {layer_ms:.0f} ms | core {core_seconds:.1f} s",
        flush=True,
    )
    return stored / raw


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
