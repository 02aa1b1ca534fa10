"""Stored queries and keys rebuild every head's attention as the model computed it, on every architecture."""

from __future__ import annotations

import numpy as np
import pytest

from interp.attention_rebuild import rebuild, rebuild_layer
from interp.schema import AnalysisRequest

CASES = [
    ("tiny-bert-mnli", "mnli", "a man is playing a guitar", "a person plays music"),
    ("tiny-distilbert-sst", "sst", "what a boring story", None),
    ("tiny-roberta-mlm", "mlm", "the cat sat on the <mask> .", None),
    ("tiny-gpt2", "causal-lm", "the quick brown fox", None),
    ("tiny-bert-sim", "similarity", "a man is playing", "a woman reads a book"),
    *[
        (f"tiny-{family}", "causal-lm", "the quick brown fox jumps over the lazy dog", None)
        for family in ("llama", "qwen2", "qwen3", "gemma2", "gemma3", "mistral")
    ],
]


@pytest.mark.parametrize("model_id,task,text,pair", CASES, ids=[c[0] for c in CASES])
def test_rebuilt_attention_equals_the_models(registry, model_id, task, text, pair):
    from interp.parts import compute_core, prepare
    from interp.qk_capture import capture_qk, layout

    subject = prepare(AnalysisRequest(model_id, task, text, pair, methods=()), registry=registry)
    core = compute_core(subject)
    shape = layout(subject)
    assert shape is not None
    q, k = capture_qk(subject)
    L, H, N, _ = core.attention.shape
    assert q.shape[:3] == (L, H, N) and k.shape[0] == L and k.shape[2] == N
    for layer in range(L):
        np.testing.assert_allclose(rebuild_layer(q, k, shape, layer), core.attention[layer], atol=2e-6)
    # Through the store's precision: float16 q and k stay within float16 attention's own error.
    half = rebuild(q.astype(np.float16), k.astype(np.float16), shape, L - 1, H - 1)
    assert np.abs(half - core.attention[L - 1, H - 1]).max() < 2e-3


def test_models_without_a_plain_rule_stay_dense(registry):
    from types import SimpleNamespace

    from transformers import T5Config

    from interp.parts import prepare
    from interp.qk_capture import layout

    t5 = SimpleNamespace(lm=SimpleNamespace(model=SimpleNamespace(config=T5Config())))
    assert layout(t5) is None  # relative position bias (and a seq2seq model)
    # Phi-3's one fused q/k/v projection is not one the hooks know.
    assert (
        layout(prepare(AnalysisRequest("tiny-phi3", "causal-lm", "the quick fox"), registry=registry)) is None
    )
