"""The neuron view from stored q/k (interp.attention_rebuild.neuron_row, what the web draws): its scores
softmax to the stored attention row, and its vectors are the model's (interp.neurons, forward hooks)."""

from __future__ import annotations

import numpy as np
import pytest

from cache.codec import decode, encode
from interp.attention_rebuild import neuron_row
from interp.schema import Analysis, AnalysisRequest

CASES = [
    ("tiny-gpt2", "causal-lm", "the quick brown fox jumps", None, None),
    ("tiny-roberta-mlm", "mlm", "the cat sat on the <mask> .", None, None),
    ("tiny-distilbert-sst", "sst", "what a boring story", None, None),
    ("tiny-llama", "causal-lm", "the quick brown fox jumps over the lazy dog", None, None),  # GQA, rotary
    (
        "tiny-gemma2",
        "causal-lm",
        "the quick brown fox jumps over the lazy dog",
        None,
        None,
    ),  # window, soft-cap
    ("tiny-falcon", "causal-lm", "the quick brown fox jumps over the lazy dog", None, None),  # fused, grouped
    ("tiny-bert-sim", "similarity", "a man is playing", "a woman reads a book", None),  # two sequences
    # Generation: q/k caught pass by pass (the KV cache's one new token each), against the decoded attention
    ("tiny-gpt2", "causal-lm", "the quick brown fox", None, 6),
    ("tiny-llama", "causal-lm", "the quick brown fox jumps", None, 6),
    ("tiny-qwen3", "causal-lm", "the quick brown fox jumps", None, 6),  # q/k norms
    ("tiny-gemma2", "causal-lm", "the quick brown fox jumps", None, 8),  # past the sliding window
    ("tiny-falcon", "causal-lm", "the quick brown fox jumps", None, 6),
]


@pytest.mark.parametrize(
    "model_id,task,text,pair,generate",
    CASES,
    ids=[c[0] + (f"-generate{c[4]}" if c[4] else "") for c in CASES],
)
def test_scores_softmax_to_the_stored_attention_row(registry, model_id, task, text, pair, generate):
    from interp.engine import analyze
    from interp.neurons import neuron_view

    request = AnalysisRequest(
        model_id, task, text, pair, methods=(), **({"generate": generate} if generate else {})
    )
    analysis = analyze(request, registry=registry)
    record = decode(encode(*analysis.to_record()))
    stored = Analysis.from_record(record.meta, record.arrays)
    assert stored.attention_is_rebuilt and "attention" not in record.arrays
    L, H, N, _ = stored.attention.shape
    assert len(analysis.tokens) == N and (not generate or len(analysis.steps) == generate)
    for layer, head, token in ((0, 0, N - 1), (L - 1, H - 1, N // 2), (L - 1, 1, 2)):
        row = neuron_row(stored.queries, stored.keys, stored.qk_layout, layer, head, token)
        n = len(row["scores"])
        e = np.exp(row["scores"] - row["scores"].max())
        np.testing.assert_allclose(row["attention"], e / e.sum(), atol=1e-6)
        seen = slice(row["key_offset"], row["key_offset"] + n)
        full_row = stored.attention[layer][head, token]
        np.testing.assert_allclose(row["attention"], full_row[seen], atol=1e-6)  # the rebuilt row, exactly
        assert abs(full_row.sum() - full_row[seen].sum()) < 1e-6  # nothing outside the keys shown
        assert np.abs(row["attention"] - analysis.attention[layer, head, token, seen]).max() <= 1e-3
        if not stored.qk_layout["softcap"]:
            dots = row["products"].sum(-1) * stored.qk_layout["scales"][layer]
            np.testing.assert_allclose(dots, row["scores"], rtol=1e-5, atol=1e-6)
        if generate:  # the engine's neuron view runs the prompt alone
            continue
        # The engine's own neuron view (hooks on the model): the same vectors, to float16's precision.
        engine = neuron_view(request, layer, head, token, registry=registry)
        assert engine["key_offset"] == row["key_offset"] and len(engine["keys"]) == n  # a window's keys too
        # stored q/k keep 10 - drop_bits mantissa bits (interp.qk_capture): relative error 2**-(10 - drop)
        step = 2.0 ** -(10 - stored.qk_layout["drop_bits"][layer])
        for name in ("query", "keys"):
            np.testing.assert_allclose(row[name], engine[name], rtol=step, atol=1e-4)


def test_out_of_range(registry):
    from interp.engine import analyze

    analysis = analyze(
        AnalysisRequest("tiny-gpt2", "causal-lm", "the quick fox", methods=()), registry=registry
    )
    for layer, head, token in ((9, 0, 0), (0, 9, 0), (0, 0, 99)):
        with pytest.raises(IndexError):
            neuron_row(analysis.queries, analysis.keys, analysis.qk_layout, layer, head, token)


@pytest.mark.parametrize("model_id", ["tiny-bart", "tiny-marian", "tiny-t5"])
def test_seq2seq_kinds_store_qk_for_the_neuron_view(registry, model_id):
    """Encoder, decoder and cross q/k are stored beside the dense attention; their rows softmax to it
    (T5's self-attention adds a relative position bias the stored scores leave out: cross only there)."""
    from interp.engine import analyze

    request = AnalysisRequest(model_id, "seq2seq", "the cat sat on the mat", "a dog slept", methods=())
    analysis = analyze(request, registry=registry)
    record = decode(encode(*analysis.to_record()))
    stored = Analysis.from_record(record.meta, record.arrays)
    assert "attention" in record.arrays and set(stored.kind_qk) == {"encoder", "decoder", "cross"}
    dense = {
        "encoder": stored.attention,
        "decoder": stored.decoder_attention,
        "cross": stored.cross_attention,
    }
    for kind, found in stored.kind_qk.items():
        bias = found["layout"]["position_bias"]
        assert bias == (model_id == "tiny-t5" and kind != "cross")
        L, H, nq = found["q"].shape[:3]
        for layer, head, token in ((0, 0, nq - 1), (L - 1, H - 1, nq // 2)):
            row = neuron_row(found["q"], found["k"], found["layout"], layer, head, token)
            n = len(row["scores"])
            assert n == (token + 1 if kind == "decoder" else dense[kind].shape[-1])
            if not bias:
                np.testing.assert_allclose(row["attention"], dense[kind][layer, head, token, :n], atol=2e-3)
