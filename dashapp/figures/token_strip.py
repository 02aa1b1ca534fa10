"""Token strip: the tokens as buttons, shaded by a saliency method; a click selects (or masks) one.

Plain Dash components, so user text is escaped by React and never parsed as HTML.
"""

from __future__ import annotations

import numpy as np
from dash import html

from dashapp.figures.tokens import readable_tokens
from interp.schema import Analysis

# Purple for positive, green for negative evidence (ColorBrewer PRGn, safe for colour-blind eyes): neither is
# the orange of the selection outline. Alpha stops at MAX_ALPHA so the token's text keeps AA contrast.
POSITIVE, NEGATIVE = "118,42,131", "27,120,55"
MAX_ALPHA = 0.5


def _shade(value: float) -> str:
    """Alpha by magnitude (values in [-1, 1])."""
    rgb = POSITIVE if value >= 0 else NEGATIVE
    return f"rgba({rgb},{min(1.0, abs(value)) * MAX_ALPHA:.2f})"


def token_strip(analysis: Analysis, method: str | None, token: int | None = None) -> html.Div:
    values = analysis.saliency.get(method) if method else None
    if values is not None:
        scale = float(np.max(np.abs(values))) or 1.0
        values = np.asarray(values, dtype=np.float64) / scale
    buttons = []
    for i, text in enumerate(readable_tokens(analysis)):
        value = float(values[i]) if values is not None else 0.0
        buttons.append(
            html.Button(  # no id: assets/token_strip.js hears a click on any of them (data-token: which)
                text,
                title=f"#{i} {method or ''} {value:+.3f}".strip(),
                className=token_class(analysis, i, i == token),
                style={"backgroundColor": _shade(value)},
                **{"data-token": i},
            )
        )
    return html.Div(buttons, className="token-strip")


def token_class(analysis: Analysis, index: int, selected: bool) -> str:
    continues = (
        index > 0
        and analysis.token_words[index] is not None
        and (analysis.token_words[index] == analysis.token_words[index - 1])
    )
    special = analysis.special_tokens[index]
    return (
        "token"
        + (" token-selected" if selected else "")
        + (" token-special" if special else "")
        + (" token-continues" if continues else "")
    )
