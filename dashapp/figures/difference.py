"""Difference between two models on the same input: saliency share per word, probability per label."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashapp.alignment import probabilities, probability_difference, word_saliency
from dashapp.figures.common import ACCENT, HIGHLIGHT, apply_theme, empty_figure, escape, rounded, token_labels
from dashapp.figures.saliency import METHOD_NAMES
from dashapp.figures.tokens import readable_label
from interp.schema import Analysis


def _colors(values) -> list[str]:
    return [HIGHLIGHT if v >= 0 else ACCENT for v in values]


def difference_figure(a: Analysis, b: Analysis, method: str, theme: str | None = None) -> go.Figure:
    sa, sb = word_saliency(a, method), word_saliency(b, method)
    probs = probability_difference(a, b)
    if not probs and (sa is None or sb is None):
        return empty_figure("nothing to compare yet", theme)
    name_a, name_b = escape(a.request.model), escape(b.request.model)
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.2,
        subplot_titles=(
            f"{METHOD_NAMES.get(method, method)} share per word: {name_a} − {name_b}",
            f"probability per label: {name_a} − {name_b}",
        ),
    )
    if sa is not None and sb is not None and len(sa) == len(sb):
        diff = rounded(sa - sb)
        fig.add_trace(
            go.Bar(
                x=diff,
                y=token_labels(a.words),
                orientation="h",
                marker_color=_colors(diff),
                hovertemplate="%{y}: %{x:+.3f}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    labels = list(probs)
    # a word only one model listed has no known difference: named, without a bar
    only = {label: name_a if label in probabilities(a) else name_b for label, d in probs.items() if d is None}
    names = [
        escape(readable_label(l)) + (f" (only in {only[l]}'s list)" if l in only else "") for l in labels
    ]
    values = [probs[l] for l in labels]
    fig.add_trace(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker_color=_colors(v or 0 for v in values),
            hovertemplate="%{y}: %{x:+.3f}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_annotations(font_size=11)
    rows = max(len(a.words), len(labels))
    return apply_theme(
        fig,
        theme,
        f"Difference · {name_a} vs {name_b}",
        subtitle_lines=1,
        height=min(900, 180 + 22 * rows),
        showlegend=False,
    )
