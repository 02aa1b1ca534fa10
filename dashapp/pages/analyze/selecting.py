"""The linked selection on the Analyze page: what a control or a click on a view changes, the layer and head
choices, and the address bar's query string."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import no_update

from dashapp import ids
from dashapp.figures.architecture import head_label, layer_label
from dashapp.figures.kinds import ENCODER, KIND_LABELS
from dashapp.figures.saliency import METHOD_NAMES
from dashapp.figures.sensitivity import seconds_text
from dashapp.selection import (
    HEAD_AVERAGE,
    clamp,
    default_selection,
    head_from_value,
    head_value,
    int_list,
    query_string,
    saliency_methods,
)
from dashapp.services import Services
from dashapp.views import VIEWS, View
from interp.schema import SALIENCY_METHODS


def update_selection(
    selection: dict | None, trigger: Any, value: Any, views: Sequence[View] = VIEWS
) -> dict[str, Any]:
    """The selection after one control changed, one token button was pressed or one view was clicked
    (`value`: the control's value, the button's n_clicks, the view's clickData)."""
    sel = {**default_selection(), **(selection or {})}
    if trigger in (ids.LAYER, ids.HEAD) and value is None:
        return sel  # a dropdown clears itself while its options are replaced: not a choice
    if trigger == ids.LAYER:
        return {**sel, "layer": int(value)}
    if trigger == ids.HEAD:
        return {**sel, "head": head_from_value(value)}
    if trigger == ids.METHOD:
        return {**sel, "method": value} if value in SALIENCY_METHODS else sel
    if trigger == ids.KIND:
        return {**sel, "kind": None if value == ENCODER else value} if value in KIND_LABELS else sel
    if trigger in (ids.INCLUDE_LAYERS, ids.INCLUDE_HEADS):
        return {**sel, "layers" if trigger == ids.INCLUDE_LAYERS else "heads": int_list(value)}
    if isinstance(trigger, dict) and trigger.get("type") == ids.TOKEN_BUTTON:
        return {**sel, "token": int(trigger["index"])} if value else sel
    view = next((v for v in views if v.id == trigger and v.on_click), None)
    if view is None or not isinstance(value, dict):
        return sel
    return view.on_click(sel, (value.get("points") or [{}])[0])


def control_values(sel: dict[str, Any]) -> tuple:
    """The selection controls' values for a selection (in wire_selection's order: layer, head, method, kind,
    included layers, included heads)."""
    return (
        sel["layer"],
        head_value(sel["head"]),
        sel["method"],
        sel.get("kind") or ENCODER,
        sel.get("layers") or [],
        sel.get("heads") or [],
    )


def layer_options(layers: int, architecture: dict | None = None) -> list[dict[str, Any]]:
    """ "layer 3", or "layer 3 · sliding 4096" / "layer 4 · global" where the model has sliding-window layers."""
    return [{"label": layer_label(architecture or {}, n), "value": n} for n in range(layers)]


def head_options(heads: int, architecture: dict | None = None) -> list[dict[str, Any]]:
    """ "head 5", or "head 5 · kv 1" where query heads share key/value heads (GQA)."""
    return [{"label": "head average", "value": HEAD_AVERAGE}] + [
        {"label": head_label(architecture or {}, h), "value": h} for h in range(heads)
    ]


def dimension_options(services: Services, shown: dict | None, selection: dict | None) -> tuple:
    """Layer and head choices of the analysis on show, the (valid) selected ones, and the choices of the
    layers and heads the overview may be limited to."""
    analysis = services.analysis((shown or {}).get("key"))
    if analysis is None or analysis.attention is None:
        return (no_update,) * 6
    sel = clamp(selection, analysis)
    return (
        layer_options(analysis.num_layers, analysis.architecture),
        head_options(analysis.num_heads, analysis.architecture),
        sel["layer"],
        head_value(sel["head"]),
        [{"label": f"L{n}", "value": n} for n in range(analysis.num_layers)],
        [{"label": f"h{n}", "value": n} for n in range(analysis.num_heads)],
    )


def method_options(services: Services, shown: dict | None, selection: dict | None) -> tuple:
    """The saliency methods the analysis on show holds or offers as a part (with its estimate), the selected
    one among them, and the selection where its method was not among them (no_update where it was)."""
    analysis = services.analysis((shown or {}).get("key"))
    if analysis is None:
        return no_update, no_update, no_update
    options = []
    for method in saliency_methods(analysis):
        part = analysis.parts.get(f"saliency.{method}") or {}
        label, state = METHOD_NAMES.get(method, method), part.get("state")
        if state == "offered":  # a part of its own: computed when asked for (the part bar's button)
            label += " · on request " + seconds_text(part.get("estimate_s"))
        elif state not in (None, "done"):
            label += f" · {state}"
        options.append({"label": label, "value": method})
    method = clamp(selection, analysis)["method"]
    changed = {**default_selection(), **(selection or {}), "method": method}
    return options, method, no_update if (selection or {}).get("method") == method else changed


def url_query(
    shown: dict | None, job: dict | None, selection: dict | None, view_options: dict | None = None
) -> str | None:
    """The address bar's query string: request, selection, the views' options and the theme (a permalink's
    path names the request)."""
    if not shown:
        return None
    request = None if shown.get("permalink") else (job or {}).get("request")
    return query_string(request, selection, view_options)


def share_link(shown: dict | None, selection: dict | None, view_options: dict | None = None) -> str | None:
    """The link to copy: the analysis on show by its key, and everything that says how it is viewed."""
    key = (shown or {}).get("key")
    if not key or not shown.get("final"):
        return None
    return f"/analysis/{key}" + query_string(None, selection, view_options)
