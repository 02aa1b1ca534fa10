"""Difference between two models on the same input: saliency share per word, probability per word or label."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashapp.alignment import WordProbability, probabilities, probability_difference, word_saliency
from dashapp.figures.common import ACCENT, HIGHLIGHT, apply_theme, empty_figure, escape, rounded, token_labels
from dashapp.figures.saliency import METHOD_NAMES
from dashapp.figures.tokens import CONTINUES, readable_label, readable_predictions, readable_vocabulary_label
from interp.schema import Analysis
from interp.task_specs import TASK_SPECS

SCORING = "scoring both models on the same words…"


def _colors(values) -> list[str]:
    return [HIGHLIGHT if v >= 0 else ACCENT for v in values]


def word_name(word: str, listed: dict[str, str]) -> str:
    """A candidate word as people read it: as its model's list shows it (`listed`: label -> readable), a
    WordPiece continuation ("##st") with the continuation mark."""
    return (None if word.startswith("##") else listed.get(word)) or readable_vocabulary_label(word)


def _pieces(pieces: tuple[str, ...]) -> str:
    return escape(CONTINUES.join(p.removeprefix("##") or p for p in pieces))


def _word_rows(
    words: list[WordProbability], name_a: str, name_b: str, listed: dict[str, str]
) -> tuple[list[str], list[float | None], list[list[str]]]:
    """Bar names (a word that is not one token of a model says so, with its pieces), values, hover texts."""
    names, values, hover = [], [], []
    for w in words:
        missing = [
            f"{name} ({_pieces(pieces)})" if pieces else name
            for name, score, pieces in ((name_a, w.a, w.pieces_a), (name_b, w.b, w.pieces_b))
            if score is None
        ]
        note = f" (not one token for {' or '.join(missing)})" if missing else ""
        names.append(escape(word_name(w.word, listed)) + note)
        values.append(None if w.difference is None else round(w.difference, 4))
        hover.append(
            [
                "not one token" if w.a is None else f"{w.a:.4f}",
                "not one token" if w.b is None else f"{w.b:.4f}",
            ]
        )
    return names, values, hover


def difference_figure(
    a: Analysis,
    b: Analysis,
    method: str,
    theme: str | None = None,
    words: list[WordProbability] | str | None = None,
) -> go.Figure:
    """Saliency share per word, and P_a − P_b: per word for tasks that predict a word (`words`: both
    models scored on the same words; None while they are being scored, a message where they cannot be),
    per label for classifiers."""
    sa, sb = word_saliency(a, method), word_saliency(b, method)
    by_word = TASK_SPECS[a.request.task].predicts_word
    probs = {} if by_word else probability_difference(a, b)
    message = (
        (words if isinstance(words, str) else SCORING) if by_word and not isinstance(words, list) else None
    )
    if not probs and not isinstance(words, list) and (sa is None or sb is None):
        return empty_figure(message or "nothing to compare yet", theme)
    name_a, name_b = escape(a.request.model), escape(b.request.model)
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.3 if by_word else 0.2,  # room for "(not one token for <model> (pieces))"
        subplot_titles=(
            f"{METHOD_NAMES.get(method, method)} share per word: {name_a} − {name_b}",
            f"probability per {'word' if by_word else 'label'}: {name_a} − {name_b}",
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
    if by_word:
        listed = {p["label"]: r for x in (a, b) for p, r in zip(x.predictions, readable_predictions(x))}
        names, values, hover = _word_rows(words if isinstance(words, list) else [], name_a, name_b, listed)
        hovertemplate = (
            f"%{{y}}<br>{name_a}: %{{customdata[0]}}<br>{name_b}: %{{customdata[1]}}"
            "<br>difference: %{x:+.4f}<extra></extra>"
        )
        if message:
            fig.add_annotation(
                text=escape(message), showarrow=False, xref="x2 domain", yref="y2 domain", x=0.5, y=0.5
            )
    else:
        labels = list(probs)
        # a label only one model listed has no known difference: named, without a bar
        only = {l: name_a if l in probabilities(a) else name_b for l, d in probs.items() if d is None}
        names = [
            escape(readable_label(l)) + (f" (only in {only[l]}'s list)" if l in only else "") for l in labels
        ]
        values, hover = [probs[l] for l in labels], None
        hovertemplate = "%{y}: %{x:+.3f}<extra></extra>"
    fig.add_trace(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            customdata=hover,
            marker_color=_colors(v or 0 for v in values),
            hovertemplate=hovertemplate,
        ),
        row=1,
        col=2,
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_annotations(font_size=11)
    rows = max(len(a.words), len(names))
    return apply_theme(
        fig,
        theme,
        f"Difference · {name_a} vs {name_b}",
        subtitle_lines=1,
        height=min(1200, 180 + 22 * rows),
        showlegend=False,
    )
