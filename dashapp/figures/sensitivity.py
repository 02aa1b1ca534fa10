"""Attention-sensitivity matrix of one layer: how much moving token j's embedding changes the
(head-averaged) attention paid to token k."""

from __future__ import annotations

import plotly.graph_objects as go

from dashapp.figures.common import apply_theme, empty_figure, row_outline, token_labels
from dashapp.figures.heatmap import Zoom, matrix_heatmap, resolution_note
from dashapp.figures.tokens import readable_tokens
from interp.schema import Analysis


def seconds_text(seconds: float | None) -> str:
    """An estimate for people: "≈ 40 s", "≈ 3 min", "< 1 s"."""
    if seconds is None:
        return ""
    if seconds < 1:
        return "< 1 s"
    return f"≈ {seconds:.0f} s" if seconds < 90 else f"≈ {seconds / 60:.0f} min"


def part_text(analysis: Analysis, name: str) -> str:
    """ "layer 6 sensitivity ≈ 40 s", "integrated gradients ≈ 12 s": a part and its estimated cost."""
    kind, _, detail = name.partition(".")
    what = f"layer {detail} sensitivity" if kind == "sensitivity" else detail.replace("_", " ")
    estimate = seconds_text((analysis.parts.get(name) or {}).get("estimate_s"))
    return f"{what} {estimate}".strip()


def sensitivity_figure(
    analysis: Analysis,
    layer: int,
    token: int | None = None,
    theme: str | None = None,
    zoom: Zoom | None = None,
) -> go.Figure:
    if analysis.attention_sensitivity is not None:
        layer = min(layer, analysis.attention_sensitivity.shape[0] - 1)
    values = analysis.sensitivity_of(layer)
    if values is None:
        part = f"sensitivity.{layer}"
        if part in analysis.parts:  # computed in parts, this layer's not (yet): the note above says its state
            return empty_figure(f"{part_text(analysis, part)}: not computed yet (ask for it above)", theme)
        return empty_figure("attention sensitivity not computed yet", theme)
    fig = matrix_heatmap(
        values,
        token_labels(readable_tokens(analysis)),
        "moving %{y}<br>changes attention to %{x}<br>%{z:.4g}<extra></extra>",
        "Viridis",
        zoom=zoom,
        digits=5,
    )
    fig.update_layout(shapes=row_outline(analysis.n_tokens, token))
    fig.update_yaxes(title="embedding moved (j)")
    fig.update_xaxes(title="attended token (k)")
    note = resolution_note(analysis.n_tokens, zoom)
    return apply_theme(
        fig,
        theme,
        f"Attention sensitivity · layer {layer} (‖∂ Σᵢ Āᵢₖ / ∂eⱼ‖){note}",
        height=min(900, 250 + 14 * analysis.n_tokens),
    )
