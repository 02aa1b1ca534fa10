"""Figure builders on synthetic Analyses: shapes, pruning, highlighting, escaping, payload size."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dashapp.figures.attention_graph import attention_graph_figure, prune_edges
from dashapp.figures.common import HIGHLIGHT, graph_config, label_index, template, token_labels
from dashapp.figures.difference import difference_figure
from dashapp.figures.heatmap import heatmap_figure
from dashapp.figures.model_grid import downsample, model_grid_figure, mosaic
from dashapp.figures.predictions import predictions_figure
from dashapp.figures.saliency import METHOD_NAMES, saliency_figure
from dashapp.figures.sensitivity import sensitivity_figure
from dashapp.figures.token_focus import token_focus_figure
from dashapp.figures.token_strip import MAX_ALPHA, token_strip
from dashapp.figures.window import WINDOW_ROWS
from dashapp.figures.words import word_attention_figure, word_saliency_figure
from tests.dashapp.synthetic import synthetic_analysis


def edge_count(fig) -> int:
    return sum(list(trace.x).count(None) for trace in fig.data if getattr(trace, "mode", None) == "lines")


def test_prune_edges_keeps_top_k_per_row_above_threshold():
    matrix = np.random.default_rng(1).random((10, 10))
    edges = prune_edges(matrix, top_k=3)
    assert len(edges.source) == 30
    for row in range(10):
        kept = sorted(edges.weight[edges.source == row], reverse=True)
        assert np.allclose(kept, sorted(matrix[row], reverse=True)[:3])
    strong = prune_edges(matrix, top_k=3, threshold=0.9)
    assert (strong.weight >= 0.9).all() and len(strong.source) <= 30


@pytest.mark.parametrize("top_k", [1, 2, 5])
def test_attention_graph_draws_at_most_top_k_edges_per_token(top_k):
    analysis = synthetic_analysis()
    fig = attention_graph_figure(analysis, layer=1, head=2, top_k=top_k)
    assert edge_count(fig) == top_k * analysis.n_tokens


def test_attention_graph_highlights_the_selected_tokens_edges():
    analysis = synthetic_analysis()
    fig = attention_graph_figure(analysis, layer=0, head=None, token=3, top_k=2)
    selected = [t for t in fig.data if t.name == "selected attends to"]
    assert len(selected) == 1 and selected[0].line.color == HIGHLIGHT
    assert list(selected[0].y).count(None) == 2  # token 3's two outgoing edges
    assert all(y == -3 for y in list(selected[0].y)[0::3])
    nodes = [t for t in fig.data if t.mode == "markers+text"]
    assert nodes[0].marker.color[3] == HIGHLIGHT and nodes[0].customdata[3] == 3


def test_heatmap_is_one_layer_head_with_unique_labels():
    analysis = synthetic_analysis()
    fig = heatmap_figure(analysis, layer=2, head=1, token=4)
    z = np.asarray(fig.data[0].z)
    assert z.shape == (analysis.n_tokens, analysis.n_tokens)
    assert np.allclose(z, analysis.attention[2, 1], atol=1e-4)
    assert len(set(fig.data[0].x)) == analysis.n_tokens  # "the" twice stays two columns
    assert len(fig.layout.shapes) == 2  # the selected token's row and column
    average = np.asarray(heatmap_figure(analysis, 2, None).data[0].z)
    assert np.allclose(average, analysis.attention[2].mean(0), atol=1e-4)


def test_model_grid_has_a_cell_per_layer_and_head_with_stats():
    analysis = synthetic_analysis(layers=3, heads=4)
    fig = model_grid_figure(analysis, layer=1, head=2)
    cells = fig.data[1]
    assert len(cells.customdata) == 12 and list(cells.customdata[6]) == [1, 2]
    assert "entropy" in cells.hovertext[0] and "special share" in cells.hovertext[0]
    assert len(fig.layout.shapes) == 1


def test_downsample_and_mosaic():
    matrix = np.arange(100, dtype=np.float64).reshape(10, 10)
    small = downsample(matrix, 5)
    assert small.shape == (5, 5) and small[0, 0] == pytest.approx(np.mean([0, 1, 10, 11]))
    image = mosaic(np.ones((2, 3, 40, 40)), 24)
    assert image.shape == (2 * 25 - 1, 3 * 25 - 1)


def test_saliency_has_every_method_and_ig_delta():
    analysis = synthetic_analysis()
    fig = saliency_figure(analysis, token=2)
    assert len(fig.data) == 4
    assert any("Δ 0.0123" in a.text for a in fig.layout.annotations)  # IG's completeness delta
    band = [s_ for s_ in fig.layout.shapes if s_.xref == "paper"]  # the selected token's row, every method
    assert band and all((s_.y0, s_.y1) == (1.5, 2.5) for s_ in band)
    assert any(s_.fillcolor == HIGHLIGHT for s_ in band)


@pytest.mark.parametrize("methods", [("grad_norm",), ("grad_norm", "grad_x_input")], ids=["one", "two"])
def test_saliency_bars_are_not_flattened_by_the_read_positions_spike(methods):
    """The read position's own gradient ([MASK], [CLS]) can be 100x every other token's: each other bar
    would be a hairline. Such a spike runs off its method's axis, hatched, its value written on it."""
    analysis = synthetic_analysis(n_words=8)
    rng = np.random.default_rng(1)
    n = analysis.n_tokens
    values = {m: rng.uniform(0.5, 1.5, n).astype(np.float32) for m in methods}
    if "grad_x_input" in values:
        values["grad_x_input"] *= np.where(np.arange(n) % 2, 1, -1)  # signed
    for v in values.values():
        v[3] = 150.0 * np.sign(v[3])  # the spike
    analysis.saliency = values
    fig = saliency_figure(analysis, token=2, method="grad_norm")
    for trace, method in zip(fig.data, methods):
        x = np.asarray(trace.x, dtype=float)
        others = np.delete(np.abs(x), 3)
        assert others.min() > 0.2 * np.abs(x).max(), method  # every other bar a visible share of the axis
        assert np.abs(x[3]) == np.abs(x).max()  # the spike still the longest bar
        assert "150" in trace.text[3] and trace.marker.pattern.shape[3]  # its value on it, hatched
        assert not any(trace.text[i] or trace.marker.pattern.shape[i] for i in range(n) if i != 3)
        assert list(trace.hovertext) == [f"{v:.4g}" for v in values[method].tolist()]  # every true value
        # the value on a faint (unchosen) bar in the page's text colour, not plotly's white-on-blue
        assert trace.insidetextfont.color == (
            None if method == "grad_norm" else template(None).layout.font.color
        )


def test_saliency_bars_without_a_spike_are_drawn_as_they_are():
    analysis = synthetic_analysis(n_words=8)
    fig = saliency_figure(analysis, token=2)
    method_of = {title: method for method, title in METHOD_NAMES.items()}
    for trace in fig.data:
        np.testing.assert_allclose(trace.x, np.round(analysis.saliency[method_of[trace.name]], 5), atol=1e-6)
        assert trace.marker.pattern.shape is None and trace.text is None


@pytest.mark.parametrize("scale", [1e-7, 1e-3, 1.0, 1e4])
def test_saliency_bars_keep_their_shape_at_any_scale(scale):
    """A small model's gradient × input can be ~1e-7 a token: rounded to fixed decimals for the browser, every
    bar drew as zero (and gradient norms of ~1e-5 as two lengths). The bars keep 4 significant figures."""
    analysis = synthetic_analysis(n_words=8)
    values = np.linspace(0.2, 1.0, analysis.n_tokens, dtype=np.float32) * scale
    values[::2] *= -1
    analysis.saliency = {"grad_x_input": values}
    (trace,) = saliency_figure(analysis).data
    np.testing.assert_allclose(trace.x, values, rtol=1e-3)


def test_partial_analysis_shows_placeholders():
    analysis = synthetic_analysis(stages="forward")
    assert "not computed" in saliency_figure(analysis).layout.annotations[0].text
    assert "not computed" in sensitivity_figure(analysis, 0).layout.annotations[0].text
    assert len(heatmap_figure(analysis, 0, 0).data) == 1


def test_sensitivity_and_token_focus_shapes():
    analysis = synthetic_analysis()
    n = analysis.n_tokens
    assert np.asarray(sensitivity_figure(analysis, 1).data[0].z).shape == (n, n)
    focus = token_focus_figure(analysis, token=2, head=None)
    assert [np.asarray(t.z).shape for t in focus.data] == [(3, n), (3, n)]
    assert np.allclose(np.asarray(focus.data[0].z)[1], analysis.attention[1].mean(0)[2], atol=1e-4)
    assert "select a token" in token_focus_figure(analysis, None, None).layout.annotations[0].text


def test_user_text_is_escaped_in_figures():
    analysis = synthetic_analysis()
    analysis.tokens[1] = "<b>x</b>"
    labels = token_labels(analysis.tokens)
    assert labels[1] == "1 &lt;b&gt;x&lt;/b&gt;" and label_index(labels[1]) == 1
    assert "&lt;b&gt;x&lt;/b&gt;" in predictions_figure(analysis).data[0].y  # a prediction label "<b>x</b>"
    strip = token_strip(analysis, "grad_norm", 1)
    assert strip.children[1].children == "<b>x</b>"  # a plain string: React escapes it


def _alpha(button) -> float:
    return float(button.style["backgroundColor"].rsplit(",", 1)[1].rstrip(")"))


@pytest.mark.parametrize("n_words", [9, 510])
def test_a_saliency_spike_does_not_wash_out_the_token_strip(n_words):
    """[CLS] at 200× the rest: the other tokens keep their shades (scaled by the largest of them); the spike is
    drawn at full colour, marked as beyond the scale, its true value in its tooltip."""
    analysis = synthetic_analysis(n_words=n_words)
    values = 0.5 + np.random.default_rng(0).random(analysis.n_tokens).astype(np.float32)  # in [0.5, 1.5)
    values[0] = 200.0
    analysis.saliency["grad_norm"] = values
    buttons = token_strip(analysis, "grad_norm").children
    rest = buttons[1:]
    assert "token-cut" in buttons[0].className and not any("token-cut" in b.className for b in rest)
    assert _alpha(buttons[0]) == MAX_ALPHA and "+200" in buttons[0].title and "beyond" in buttons[0].title
    alphas = np.array([_alpha(b) for b in rest])
    assert alphas.max() == MAX_ALPHA and np.median(alphas) >= 0.3 * MAX_ALPHA  # scaled by 200: all ≤ 0.01
    assert np.allclose(alphas, np.round(values[1:] / values[1:].max() * MAX_ALPHA, 2))
    assert rest[4].title == f"#5 grad_norm {float(values[5]):+.4g}"  # the true value, not the shade's

    values[0] = 1.0  # no spike: nothing cut, the scale is the largest value
    buttons = token_strip(analysis, "grad_norm").children
    assert not any("token-cut" in b.className for b in buttons)
    assert max(_alpha(b) for b in buttons) == MAX_ALPHA


def test_long_input_sends_one_layer_head_only():
    """512 tokens, 12 × 12: each figure carries one [n, n] float32 view (base64) or less, never all of [L][H][n][n]."""
    analysis = synthetic_analysis(n_words=510, layers=12, heads=12)
    assert analysis.n_tokens == 513
    full_bytes = analysis.attention.astype(np.float16).nbytes  # what the whole tensor would cost, at least
    n2 = analysis.n_tokens**2
    for fig in (
        heatmap_figure(analysis, 3, 4, 10),
        attention_graph_figure(analysis, 3, None, 10, top_k=3),
        model_grid_figure(analysis, 3, 4),
        token_focus_figure(analysis, 10, None),
        sensitivity_figure(analysis, 3),
    ):
        size = len(fig.to_json())
        assert size < 8 * n2 and size < full_bytes / 20, (fig.layout.title.text, size)
    # the window's edges only (dashapp.figures.window): 40 of 513 tokens
    assert 0 < edge_count(attention_graph_figure(analysis, 3, None, top_k=3)) <= 3 * WINDOW_ROWS


def test_word_level_views_and_difference():
    a = synthetic_analysis(seed=1)
    b = synthetic_analysis(model="tiny-roberta-mlm", seed=2)
    shares = word_saliency_figure(a, "grad_norm").data[0].x
    assert len(shares) == len(a.words) and sum(shares) == pytest.approx(1, abs=1e-3)
    assert np.asarray(word_attention_figure(a, 0).data[0].z).shape == (len(a.words), len(a.words))
    diff = difference_figure(a, b, "grad_norm")
    assert len(diff.data) == 2 and len(diff.data[0].x) == len(a.words)


def test_graph_config_exports_png_or_svg():
    assert graph_config("heatmap")["toImageButtonOptions"] == {
        "format": "png",
        "filename": "interpboard-heatmap",
        "scale": 2,
    }
    assert graph_config("heatmap", "svg")["toImageButtonOptions"]["format"] == "svg"
    assert graph_config("x", "exe")["toImageButtonOptions"]["format"] == "png"
    json.dumps(graph_config("x"))


def test_attention_colour_scales_start_at_zero():
    """A near-uniform head must look uniform: plotly ignores zmin unless zmax is given too."""
    analysis = synthetic_analysis()
    heat = heatmap_figure(analysis, 1, 2).data[0]
    assert heat.zmin == 0 and heat.zmax == pytest.approx(analysis.attention[1, 2].max())
    focus = token_focus_figure(analysis, token=2, head=None).layout.coloraxis
    assert focus.cmin == 0 and focus.cmax >= analysis.attention.mean(axis=1)[:, 2].max() - 1e-6
    words = word_attention_figure(analysis, 0).data[0]
    assert words.zmin == 0 and words.zmax > 0
