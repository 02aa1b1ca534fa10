"""Drawing the Analyze page's views (declared in dashapp.views): a whole figure, a patch of its token mark,
or nothing when what it shows has not changed (dashapp.redraw); and the downloads of what is on show."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from dash import dcc, html, no_update

from dashapp import exports, ids, redraw
from dashapp.figures.common import empty_figure
from dashapp.figures.kinds import kinds
from dashapp.figures.pairs import has_two_sentences
from dashapp.pages import components as ui
from dashapp.pages.analyze.showing import file_stem
from dashapp.selection import clamp
from dashapp.services import Services
from dashapp.views import VIEWS, View
from interp.schema import Analysis

log = logging.getLogger(__name__)


def current(
    services: Services, shown: dict | None, selection: dict | None
) -> tuple[Analysis | None, dict[str, Any]]:
    """The analysis on show (final or partial) and the selection made valid for it."""
    analysis = services.analysis((shown or {}).get("key"))
    return analysis, clamp(selection, analysis)


def placeholder(shown: dict | None) -> str:
    """What an empty view says: nothing asked yet, still computing, or the job ended without a result."""
    if not shown:
        return "run an analysis"
    return {
        "cancelled": "no result: the job was cancelled",
        "error": "no result: the job failed (the message is beside the Run button)",
        "refused": "no analysis: the form's input was refused (the message is beside the Run button)",
    }.get(shown.get("stage"), "computing…")


def _draw(
    view: View,
    analysis: Analysis | None,
    sel: dict[str, Any],
    shown: dict | None,
    theme: str | None,
    options: dict[str, Any],
) -> Any:
    if analysis is None:
        return empty_figure(placeholder(shown), theme) if view.graph else None
    if not view.applies(analysis):  # its card is hidden: nothing to compute
        return empty_figure("", theme) if view.graph else None
    return view.build(analysis, sel, theme, **options)


def render_view(
    services: Services,
    view: View,
    shown: dict | None,
    selection: dict | None,
    theme: str | None,
    **options: Any,
) -> Any:
    """The view's whole figure (or components) for the analysis on show."""
    analysis, sel = current(services, shown, selection)
    return _draw(view, analysis, sel, shown, theme, options)


def redraw_view(
    services: Services,
    view: View,
    shown: dict | None,
    selection: dict | None,
    theme: str | None,
    drawn: dict | None,
    **options: Any,
) -> tuple[Any, Any]:
    """(what to send the view, the signature of what it then shows): a whole figure (or components),
    a redraw.Mark of its token overlay (the browser moves it), or no_update when nothing it shows has
    changed."""
    theme = theme if view.graph else None  # plain components follow the page's CSS theme by themselves
    try:
        analysis, sel = current(services, shown, selection)
    except Exception as exc:  # the store behind the page failed (Redis down, a damaged entry): say so
        log.exception("reading analysis %s failed", (shown or {}).get("key"))
        message = f"cannot read the analysis: {type(exc).__name__}: {exc}"
        return (empty_figure(message, theme) if view.graph else ui.alert(message)), None
    parts = view.parts_shown(analysis, sel) if view.parts_shown and analysis is not None else None
    marks = view.marks if view.overlay else ()
    now = redraw.signature(shown, theme, sel, view.depends_on, options, marks=marks, parts=parts)
    change = redraw.change(drawn, now)
    if change == redraw.NOTHING:
        return no_update, no_update
    if change == redraw.TOKEN:
        shapes = view.overlay(analysis, sel) if view.overlay and analysis is not None else None
        return (no_update if shapes is None else redraw.Mark(shapes)), now
    return _draw(view, analysis, sel, shown, theme, options), now


def hover_preview(
    services: Services,
    view: View,
    shown: dict | None,
    hover: dict | None,
    theme: str | None,
    selection: dict | None = None,
) -> Any:
    """The larger figure of what the pointer is over in `view`; until then a note, in the theme."""
    point = ((hover or {}).get("points") or [{}])[0]
    analysis, sel = current(services, shown, selection)
    if analysis is None or view.hover_preview is None or not isinstance(point.get("customdata"), list):
        return empty_figure("hover a cell for a larger view", theme)
    return view.hover_preview(analysis, point, theme, sel)


def visibility(services: Services, shown: dict | None, judged: Sequence[View]) -> list[dict]:
    """The styles of the cards of `judged` (shown where the view applies to the analysis on show), of the
    attention kind switch (more than one kind) and of the sentence-pair filter (two sentences)."""
    analysis = services.analysis((shown or {}).get("key"))
    show = lambda yes: {} if yes else ui.HIDDEN  # noqa: E731
    if analysis is None:
        return [ui.HIDDEN] * (len(judged) + 2)
    return [
        *(show(view.applies(analysis)) for view in judged),
        show(len(kinds(analysis)) > 1),
        show(has_two_sentences(analysis.token_segments)),
    ]


def target_choices(services: Services, shown: dict | None) -> list:
    analysis = services.analysis((shown or {}).get("key"))
    return [html.Option(value=str(p["label"])) for p in (analysis.predictions if analysis else [])]


def export(
    services: Services,
    which: str,
    shown: dict | None,
    selection: dict | None,
    theme: str | None,
    options: dict[str, Any],
    views: Sequence[View] = VIEWS,
) -> dict[str, Any] | None:
    """The dcc.Download payload for one export button (`options`: {component id: value})."""
    analysis, sel = current(services, shown, selection)
    if analysis is None:
        return None
    key = shown["key"]
    name = file_stem(analysis.request.to_dict(), key)
    if which == ids.EXPORT_JSON:
        return dcc.send_bytes(exports.to_json(analysis, key), f"{name}.json")
    if which == ids.EXPORT_CSV:
        return dcc.send_string(exports.to_csv(analysis), f"{name}.csv")
    if which == ids.EXPORT_NPZ:
        return dcc.send_bytes(exports.to_npz(*analysis.to_record(dense=True)), f"{name}.npz")
    figures = [
        view.build(analysis, sel, theme, **view.option_values(options))
        for view in views
        if view.in_report and view.applies(analysis)
    ]
    return dcc.send_string(exports.html_report(analysis, key, figures, theme), f"{name}.html")
