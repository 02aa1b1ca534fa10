"""Token strip: the tokens as buttons, shaded by a saliency method; a click selects (or masks) one.

Plain Dash components, so user text is escaped by React and never parsed as HTML.
"""

from __future__ import annotations

import numpy as np
from dash import html

from dashapp.figures.saliency import cut_spikes
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


def strip_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The values in [-1, 1], which were cut, and the scale's top. The saliency bars' spikes (a [CLS], the read
    position: 100x the rest) would leave every other token white: the scale is the largest of the tokens not
    cut (dashapp.figures.saliency.cut_spikes), and a cut token shows at full colour."""
    values = np.asarray(values, dtype=np.float64)
    _, cut = cut_spikes(values)
    kept = np.abs(values[~cut])
    scale = float(kept.max()) if kept.size else 0.0
    scale = scale or float(np.max(np.abs(values), initial=0.0)) or 1.0
    return np.clip(values / scale, -1.0, 1.0), cut, scale


def token_strip(analysis: Analysis, method: str | None, token: int | None = None) -> html.Div:
    raw = analysis.saliency.get(method) if method else None
    shades, cut, scale = strip_scale(raw) if raw is not None else (None, None, 1.0)
    buttons = []
    for i, text in enumerate(readable_tokens(analysis)):
        title = f"#{i}"
        if shades is not None:
            title += f" {method} {float(raw[i]):+.4g}"  # the true value, cut or not
            if cut[i]:
                title += f" (beyond the colour scale: {abs(float(raw[i])) / scale:.1f}× its top)"
        buttons.append(
            html.Button(  # no id: assets/token_strip.js hears a click on any of them (data-token: which)
                text,
                title=title,
                className=token_class(analysis, i, i == token)
                + (" token-cut" if cut is not None and cut[i] else ""),
                style={"backgroundColor": _shade(float(shades[i]) if shades is not None else 0.0)},
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
