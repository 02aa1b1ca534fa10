"""Redraw a view only when what it shows has changed: a new figure, a move of its token mark, or nothing.

Every view of the Analyze page listens to the whole selection, but each shows only part of it
(the model overview ignores the token, only the token strip shows the saliency method). A
dcc.Store beside each view keeps the signature of what it has drawn, so a click sends the
browser only what changed: at 512 tokens an attention heatmap is 1.4 MB, its token outline
a few hundred bytes, which the browser moves without redrawing the figure (assets/marks.js).

The analysis on show is named by its key, whether it is final, and its stage; not by how many parts have
landed beside it: a landed part redraws only the views whose `parts_shown` changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

NOTHING, TOKEN, ALL = "nothing", "token", "all"
SHOWN_FIELDS = ("key", "final", "stage")  # of the page's `shown` store: which analysis, how far along


@dataclass(frozen=True)
class Mark:
    """The shapes that mark the selection (a token, a cell) on a drawn figure: the browser moves them
    (assets/marks.js)."""

    shapes: list[dict]


def signature(
    view: dict | None,
    theme: str | None,
    selection: dict[str, Any],
    depends: Iterable[str],
    options: dict[str, Any] | None = None,
    marks: Iterable[str] = (),
    parts: Any = None,
) -> dict[str, Any]:
    """What a view draws: the analysis and stage, what it shows of the parts, theme, options, the selection
    fields it shows, and (for a view with an overlay) the fields its mark shows, kept apart so it can be
    moved."""
    shown = {name: (view or {}).get(name) for name in SHOWN_FIELDS} if view else None
    base = {
        "view": shown,
        "parts": parts,
        "theme": theme,
        "options": options or {},
        **{f: selection.get(f) for f in depends},
    }
    return {"base": base, "mark": {f: selection.get(f) for f in marks}}


def change(drawn: dict | None, now: dict[str, Any]) -> str:
    """NOTHING to send, only the overlay's mark (TOKEN: usually the token's), or ALL of the figure."""
    if drawn == now:
        return NOTHING
    if drawn and drawn.get("base") == now["base"]:
        return TOKEN
    return ALL
