"""The neuron view (one View, figure dashapp/figures/neuron_view.py), drawn in numpy from stored q/k."""

from __future__ import annotations

import numpy as np

from dashapp.figures.common import label_index
from dashapp.figures.neuron_view import MAX_KEYS, neuron_view_figure
from dashapp.views import NEURON_VIEW, VIEWS
from interp.attention_rebuild import AttentionStack
from tests.dashapp.synthetic import synthetic_analysis


def with_qk(analysis, d: int = 6, kv_heads: int = 2, causal: bool = False, seed: int = 0):
    """The analysis as the store gives it back with q/k: attention a lazy AttentionStack."""
    rng = np.random.default_rng(seed)
    L, H, n = analysis.num_layers, analysis.num_heads, analysis.n_tokens
    analysis.queries = rng.normal(size=(L, H, n, d)).astype(np.float16)
    analysis.keys = rng.normal(size=(L, kv_heads, n, d)).astype(np.float16)
    analysis.qk_layout = {
        "lengths": [n],
        "scales": [d**-0.5] * L,
        "causal": causal,
        "windows": [None] * L,
        "softcap": None,
        "kv_head_of_query": [h * kv_heads // H for h in range(H)],
        "exact": True,
    }
    analysis.attention = AttentionStack(analysis.queries, analysis.keys, analysis.qk_layout)
    return analysis


def test_the_view_is_declared_once():
    assert NEURON_VIEW in VIEWS and NEURON_VIEW.id == "analyze-neuron-view"
    assert set(NEURON_VIEW.depends_on) == {"layer", "head", "token", "kind", "step"}  # step: a decoder query


def test_scores_softmax_to_the_attention_row_and_dimensions_sort_by_contribution():
    analysis = with_qk(synthetic_analysis(n_words=6, layers=3, heads=4), causal=True)
    layer, head, token = 1, 3, 5
    fig = neuron_view_figure(analysis, layer, head, token)
    query, keys, products, scores, attention = fig.data
    assert "layer 1" in fig.layout.title.text and "head 3" in fig.layout.title.text
    assert len(scores.y) == token + 1  # causal: the query sees itself and the tokens before it
    e = np.exp(np.asarray(scores.x) - max(scores.x))
    np.testing.assert_allclose(np.asarray(attention.x), e / e.sum(), atol=1e-3)
    np.testing.assert_allclose(attention.x, analysis.attention[layer][head, token, : token + 1], atol=1e-4)
    # dimensions: largest attention-weighted q·k contribution first
    dims = [int(x[1:]) for x in keys.x]
    q = analysis.queries[layer, head, token].astype(np.float32)
    k = analysis.keys[layer, 1, : token + 1].astype(np.float32)  # GQA: query head 3 reads key head 1
    a = np.asarray(attention.x)
    contribution = (a[:, None] * q * k).sum(0)
    assert list(np.argsort(-contribution)) == dims
    np.testing.assert_allclose(np.asarray(products.z), np.round(q * k, 4)[:, dims], atol=1e-3)
    np.testing.assert_allclose(np.asarray(query.z)[0], np.round(q[dims], 4), atol=1e-3)
    # a click on a key's row selects that token
    assert [label_index(y) for y in keys.y] == list(range(token + 1))
    selection = {"layer": layer, "head": head, "token": token, "method": "grad_norm", "step": None}
    assert NEURON_VIEW.on_click(selection, {"y": keys.y[2], "x": keys.x[0]})["token"] == 2


def test_long_inputs_show_the_most_attended_keys():
    analysis = with_qk(synthetic_analysis(n_words=80, layers=2, heads=2))
    fig = neuron_view_figure(analysis, 0, 1, 10)
    row = analysis.attention[0][1, 10]
    shown = [label_index(y) for y in fig.data[1].y]
    assert len(shown) == MAX_KEYS and shown == sorted(shown)
    assert set(shown) == set(np.argsort(-row)[:MAX_KEYS])
    assert f"most attended of {analysis.n_tokens}" in fig.layout.title.text


def test_without_stored_qk_or_token_it_says_why():
    dense = synthetic_analysis()
    assert "stores no queries" in neuron_view_figure(dense, 0, 0, 1).layout.annotations[0].text
    assert (
        "select a query"
        in neuron_view_figure(with_qk(synthetic_analysis()), 0, 0, None).layout.annotations[0].text
    )
    # no head selected (the head average): head 0
    assert "head 0" in neuron_view_figure(with_qk(synthetic_analysis()), 0, None, 1).layout.title.text


def test_seq2seq_kinds_draw_from_their_own_queries_and_keys():
    analysis = synthetic_analysis(n_words=4, layers=2, heads=2)
    n = analysis.n_tokens
    analysis.decoder_tokens = ["<s>", "a", "b"]
    rng = np.random.default_rng(1)
    layout = {"lengths": [3], "key_lengths": [n], "scales": [0.5, 0.5], "causal": False, "windows": [None] * 2,
              "softcap": None, "kv_head_of_query": [0, 1], "position_bias": False}  # fmt: skip
    analysis.kind_qk = {
        "cross": {"q": rng.normal(size=(2, 2, 3, 4)), "k": rng.normal(size=(2, 2, n, 4)), "layout": layout},
        "encoder": {
            "q": rng.normal(size=(2, 2, n, 4)),
            "k": rng.normal(size=(2, 2, n, 4)),
            "layout": {**layout, "lengths": [n], "position_bias": True},
        },
    }
    cross = neuron_view_figure(analysis, 1, 1, 2, kind="cross")
    assert "cross attention" in cross.layout.title.text and cross.data[0].y == ("2 b",)
    assert len(cross.data[1].y) == n and cross.data[1].y[0] == "0 [CLS]"
    encoder = neuron_view_figure(analysis, 0, 0, 1)  # a seq2seq analysis: the encoder's by default
    assert "encoder attention" in encoder.layout.title.text and "position bias" in encoder.layout.title.text
