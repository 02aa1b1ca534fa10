"""A decoder LLM at a long context (issue 15): 1,024 tokens stored as queries and keys, a layer's attention
rebuilt on demand equal to the model's own, the head statistics and thumbnails precomputed, and the
sensitivity of each layer offered with its estimate rather than computed unasked."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interp.attention_rebuild import AttentionStack
from interp.engine import analyze
from interp.loading import MODELS
from interp.registry import load_registry
from interp.schema import Analysis, AnalysisRequest

TOKENS = 1024


def long_prompt(tokenizer) -> str:
    """A text of at least TOKENS tokens."""
    sentence = "the cat sat on the mat while the dog slept by the door."
    reps = TOKENS // len(tokenizer(sentence)["input_ids"])
    while len(tokenizer(" ".join([sentence] * reps))["input_ids"]) < TOKENS:
        reps += 1
    return " ".join([sentence] * reps)


@pytest.fixture(scope="module")
def long_llama(tiny_registry):
    return MODELS.get(load_registry().get("tiny-llama-long"), "causal-lm")


def test_a_long_prompt_is_stored_as_qk_and_rebuilds_the_models_attention(long_llama, tmp_path):
    request = AnalysisRequest(
        model="tiny-llama-long",
        task="causal-lm",
        text=long_prompt(long_llama.tokenizer),
        methods=("grad_norm",),
    )
    analysis = analyze(request)
    n = analysis.n_tokens
    assert n >= TOKENS and not analysis.truncated
    meta, arrays = analysis.to_record()
    assert "attention" not in arrays and {"qk.q", "qk.k", "attention_thumbs"} <= set(arrays)
    dense_bytes = analysis.num_layers * analysis.num_heads * n * n * 4
    assert sum(a.nbytes for a in arrays.values()) < 0.05 * dense_bytes  # the issue's ≤ 5 %

    stored = Analysis.from_record(meta, arrays)
    assert isinstance(stored.attention, AttentionStack)
    ids = long_llama.tokenizer(request.text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        eager = long_llama.model(ids, output_attentions=True).attentions
    for layer in range(stored.num_layers):
        np.testing.assert_allclose(stored.attention[layer], eager[layer][0].numpy(), atol=2e-3)
    assert stored.head_stats["entropy"].shape == (stored.num_layers, stored.num_heads)


def test_sensitivity_of_a_long_prompt_is_offered_with_its_cost(tiny_registry, monkeypatch, tmp_path):
    from workers.executor import EmbeddedExecutor
    from workers.settings import Settings

    monkeypatch.setenv("INTERPBOARD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("INTERPBOARD_PART_BUDGET_S", "1e-9")  # every part over the budget
    tokenizer = MODELS.get(load_registry().get("tiny-llama-long"), "causal-lm").tokenizer
    request = AnalysisRequest(
        model="tiny-llama-long",
        task="causal-lm",
        text=long_prompt(tokenizer),
        methods=("grad_norm", "attention_sensitivity"),
    )
    ex = EmbeddedExecutor(Settings())
    try:
        sub = ex.submit(request)
        assert ex.wait(sub.job_id, timeout=300).state == "done"
        states = ex.part_states(sub.key)
        assert {states[f"sensitivity.{l}"]["state"] for l in range(2)} == {"offered"}
        assert all(states[f"sensitivity.{l}"]["estimate_s"] > 0 for l in range(2))
        assert ex.result(sub.key).sensitivity_of(0) is None
    finally:
        ex.close()
