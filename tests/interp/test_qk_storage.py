"""Stored queries and keys rebuild every head's attention as the model computed it, on every architecture."""

from __future__ import annotations

import numpy as np
import pytest

from cache.codec import decode, encode
from interp import qk_capture
from interp.attention_rebuild import AttentionStack, rebuild_layer
from interp.schema import Analysis, AnalysisRequest
from tests.interp.test_engine_reference import CASES as TASK_CASES

CASES = [
    *TASK_CASES,  # one of each task
    *[
        (f"tiny-{family}", "causal-lm", "the quick brown fox jumps over the lazy dog", None)
        for family in ("llama", "qwen2", "qwen3", "gemma2", "gemma3", "mistral")
    ],
]
TOLERANCE = 1e-3  # interp.qk_capture.TOLERANCE: rebuilt from the stored float16 q/k vs float32 attention


def stored(analysis: Analysis) -> Analysis:
    """Through the store's codec and back, as the web reads it."""
    record = decode(encode(*analysis.to_record()))
    return Analysis.from_record(record.meta, record.arrays)


@pytest.mark.parametrize("model_id,task,text,pair", CASES, ids=[c[0] for c in CASES])
def test_rebuilt_attention_equals_the_models(registry, model_id, task, text, pair):
    from interp.parts import compute_core, prepare
    from interp.qk_capture import capture_qk, layout

    subject = prepare(AnalysisRequest(model_id, task, text, pair, methods=()), registry=registry)
    core = compute_core(subject)
    shape = layout(subject.lm.model, subject.item.lengths)
    assert shape is not None
    q, k = capture_qk(subject)
    L, H, N, _ = core.attention.shape
    assert q.shape[:3] == (L, H, N) and k.shape[0] == L and k.shape[2] == N
    for layer in range(L):  # float32 q/k: the rule is the model's
        np.testing.assert_allclose(rebuild_layer(q, k, shape, layer), core.attention[layer], atol=2e-6)
    # The store keeps q/k (float16, rounded within the tolerance), not the attention; the web rebuilds it.
    assert core.attention_is_rebuilt and core.queries.dtype == np.float16
    _, arrays = core.to_record()
    assert "attention" not in arrays and {"qk.q", "qk.k", "qk.lse", "attention_thumbs"} <= set(arrays)
    back = stored(core)
    assert isinstance(back.attention, AttentionStack) and back.attention.shape == (L, H, N, N)
    assert back.num_layers == L and back.num_heads == H
    for layer in range(L):
        assert np.abs(back.attention[layer] - core.attention[layer]).max() <= TOLERANCE
    assert max(back.qk_layout["max_error"]) <= TOLERANCE
    # One token's row and column in every layer, from q/k (and the stored log-normalisers) alone.
    for token in (0, N // 2, N - 1):
        np.testing.assert_allclose(
            back.attention.rows(token), np.asarray(back.attention)[:, :, token], atol=1e-5
        )
        np.testing.assert_allclose(
            back.attention.columns(token), np.asarray(back.attention)[:, :, :, token], atol=1e-5
        )
    # Head statistics and the overview's thumbnails are stored as computed from the float32 attention.
    np.testing.assert_allclose(back.head_stats["entropy"], core.head_stats["entropy"], rtol=1e-6)
    assert back.attention_thumbs.shape[:2] == (L, H)


def test_minilm_stays_within_float16s_own_error(registry):
    """Real weights, sharp heads: every layer keeps at least plain float16, whose error is measured and stored."""
    if "minilm" not in registry.models:
        pytest.skip("the real MiniLM package is not installed")
    from interp.parts import compute_core, prepare

    words = ("the quick brown fox jumps over the lazy dog while a man plays a guitar " * 6).split()
    request = AnalysisRequest(
        "minilm", "similarity", " ".join(words[:40]), " ".join(words[40:80]), methods=()
    )
    core = compute_core(prepare(request, registry=registry))
    back = stored(core)
    errors = back.qk_layout["max_error"]
    for layer in range(back.num_layers):
        error = np.abs(back.attention[layer] - core.attention[layer]).max()
        assert error <= max(TOLERANCE, errors[layer]) + 1e-6
    assert max(errors) < 5e-3  # float16's own error on the sharpest heads (2.9e-3 at 458 tokens)


def test_stored_qk_is_smaller_than_dense_attention(registry):
    """Bytes, not time: a causal LLM's q/k record against the same analysis stored densely."""
    from interp.parts import compute_core, prepare

    text = " ".join(["the quick brown fox jumps over the lazy dog"] * 12)
    core = compute_core(
        prepare(AnalysisRequest("tiny-llama", "causal-lm", text, methods=()), registry=registry)
    )
    qk = len(encode(*core.to_record()))
    meta, arrays = core.to_record(dense=True)
    dense = len(encode(meta, {k: v for k, v in arrays.items() if not k.startswith("qk.")}))
    assert core.n_tokens == 64 and qk < dense  # the fixture model's longest input


def test_old_dense_records_still_read(registry):
    """A record stored before q/k (dense attention, no qk arrays) reads as dense attention."""
    from interp.parts import compute_core, prepare

    core = compute_core(
        prepare(
            AnalysisRequest("tiny-gpt2", "causal-lm", "the quick brown fox", methods=()), registry=registry
        )
    )
    meta, arrays = core.to_record(dense=True)
    meta.pop("qk_layout")
    old = {k: v for k, v in arrays.items() if not k.startswith("qk.") and k != "attention_thumbs"}
    record = decode(encode(meta, old))
    back = Analysis.from_record(record.meta, record.arrays)
    assert isinstance(back.attention, np.ndarray) and not back.attention_is_rebuilt
    np.testing.assert_allclose(back.attention, core.attention, atol=2.0**-11)  # float16 spacing below 1


def test_models_without_a_plain_rule_stay_dense(registry, run):
    from types import SimpleNamespace

    from transformers import T5Config

    from interp.parts import prepare
    from interp.qk_capture import layout

    assert layout(SimpleNamespace(config=T5Config()), [3]) is None  # relative position bias (and seq2seq)
    # Phi-3's one fused q/k/v projection is not one the hooks know: its analysis keeps dense attention.
    subject = prepare(AnalysisRequest("tiny-phi3", "causal-lm", "the quick fox"), registry=registry)
    assert layout(subject.lm.model, subject.item.lengths) is None
    phi = run("tiny-phi3", "causal-lm", "the quick fox", methods=())
    assert phi.queries is None and "attention" in phi.to_record()[1]


def test_attention_stack_rebuilds_layers_lazily():
    rng = np.random.default_rng(0)
    L, H, N, d = 6, 4, 10, 8
    q, k = rng.normal(size=(L, H, N, d)).astype(np.float16), rng.normal(size=(L, 2, N, d)).astype(np.float16)
    layout = {
        "lengths": [6, 4],
        "scales": [d**-0.5] * L,
        "causal": True,
        "windows": [None, 3] * 3,
        "softcap": None,
        "kv_head_of_query": [0, 0, 1, 1],
    }
    stack = AttentionStack(q, k, layout)
    assert stack.shape == (L, H, N, N) and len(stack) == L and not stack._layers
    first = stack[2]
    assert first.shape == (H, N, N) and list(stack._layers) == [2]
    assert stack[2] is first  # kept, not rebuilt
    np.testing.assert_allclose(first.sum(-1), 1, atol=1e-6)
    assert np.all(np.triu(first[:, :6, :6], 1) == 0) and np.all(first[:, :6, 6:] == 0)  # causal, per sequence
    assert np.all(stack[3][:, 5, :3] == 0)  # a 3-token window on layer 3
    for layer in range(L):
        stack[layer]
    assert len(stack._layers) <= 4  # bounded
    np.testing.assert_allclose(stack[1, 2], stack[1][2])
    np.testing.assert_allclose(np.asarray(stack)[-1], stack[-1])
    with pytest.raises(IndexError):
        stack[L]


@pytest.mark.parametrize("drop", qk_capture.DROP_BITS)
def test_rounding_keeps_numpys_float16_bits(drop):
    """The stored bits: numpy's float16 cast (to nearest even), then `drop` mantissa bits rounded half up,
    down to the edge cases (float16's largest, subnormals, signed zeros)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=20_000) * 10.0 ** rng.integers(-9, 5, 20_000)
    x = np.concatenate([x, [65504, -65504, 65519, 6e-5, 1e-7, -1e-7, 0.0, -0.0]]).astype(np.float32)
    bits = x.astype(np.float16).view(np.uint16).astype(np.uint32)
    if drop:
        bits = ((bits + (1 << (drop - 1))) >> drop) << drop
    rounded = qk_capture._round(qk_capture._half(x), drop)
    assert rounded.dtype == np.float16
    np.testing.assert_array_equal(rounded.view(np.uint16), bits.astype(np.uint16))
