"""Token strip: the tokens as buttons, shaded by a saliency method; a click selects (or masks) one.

Plain Dash components, so user text is escaped by React and never parsed as HTML.
"""

from __future__ import annotations

import numpy as np
from dash import Patch, html

from dashapp import ids
from dashapp.figures.tokens import readable_tokens
from interp.schema import Analysis


def _shade(value: float) -> str:
    """Orange for positive, blue for negative evidence; alpha by magnitude (values in [-1, 1])."""
    rgb = "255,127,14" if value >= 0 else "31,119,180"
    return f"rgba({rgb},{min(1.0, abs(value)) * 0.85:.2f})"


def token_strip(analysis: Analysis, method: str | None, token: int | None = None) -> html.Div:
    values = analysis.saliency.get(method) if method else None
    if values is not None:
        scale = float(np.max(np.abs(values))) or 1.0
        values = np.asarray(values, dtype=np.float64) / scale
    buttons = []
    for i, text in enumerate(readable_tokens(analysis)):
        value = float(values[i]) if values is not None else 0.0
        buttons.append(html.Button(
            text, id=ids.token_button(i), n_clicks=0, title=f"#{i} {method or ''} {value:+.3f}".strip(),
            className=token_class(analysis, i, i == token), style={"backgroundColor": _shade(value)},
        ))
    return html.Div(buttons, className="token-strip")


def token_class(analysis: Analysis, index: int, selected: bool) -> str:
    continues = 0 < index and analysis.token_words[index] is not None and (
        analysis.token_words[index] == analysis.token_words[index - 1])
    return ("token" + (" token-selected" if selected else "") + (" token-special" if analysis.special_tokens[index] else "")
            + (" token-continues" if continues else ""))


def token_strip_patch(analysis: Analysis, previous: int | None, token: int | None) -> Patch:
    """Move the selection mark from `previous` to `token`: two class names, not 512 buttons."""
    patch = Patch()
    for index in {previous, token} - {None}:
        if 0 <= index < analysis.n_tokens:
            patch["props"]["children"][index]["props"]["className"] = token_class(analysis, index, index == token)
    return patch
