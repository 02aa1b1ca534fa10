"""The linked selection (layer, head, token, saliency method, generated or target step, attention kind,
the layers and heads the overview and head view include) and its place in the URL.

The selection lives in a dcc.Store as a small dict; every view reads it. The Analyze page's
query string carries the request and the selection, so a copied link reproduces the view.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from dashapp.figures.kinds import ENCODER, KIND_LABELS, kinds
from interp.schema import SALIENCY_METHODS, Analysis

REQUEST_FIELDS = ("model", "task", "text", "pair", "target", "generate", "sample_seed", "max_new_tokens")
# kind: the attention kind on show (None: the encoder's, or the only one); layers / heads: what the model
# overview and the head view include (BertViz's include_layers / include_heads; None: all), "?layers=0,2"
SELECTION_FIELDS = ("layer", "head", "token", "method", "step", "kind", "layers", "heads")
LIST_FIELDS = ("layers", "heads")
THEMES = ("light", "dark")
# The views' own controls a link carries (dashapp.views Option names): their range, as the sliders have it.
VIEW_OPTION_RANGES: dict[str, tuple[type, float, float]] = {
    "top_k": (int, 1, 10),
    "threshold": (float, 0.0, 0.5),
}
# Options that are one of a few words: the head view's sentence-pair filter (query sentence → key sentence).
VIEW_OPTION_CHOICES: dict[str, tuple[str, ...]] = {"pair_filter": ("all", "AA", "AB", "BA", "BB")}
HEAD_AVERAGE = "avg"  # the head selector's value for "average over heads"
DEFAULT_METHOD = "integrated_gradients"


def last(value: Any) -> Any:
    """A repeated query parameter arrives as a list: the last one wins, as in a browser's form."""
    return value[-1] if isinstance(value, list) else value


def default_selection() -> dict[str, Any]:
    return {
        "layer": 0,
        "head": None,
        "token": None,
        "method": DEFAULT_METHOD,
        "step": None,
        "kind": None,
        "layers": None,
        "heads": None,
    }


def int_or_none(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def int_list(value: Any) -> list[int] | None:
    """ "0,2" or [0, 2] -> [0, 2] (sorted, each once, negatives and junk left out); nothing left: None."""
    if value is None:
        return None
    parts = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else [value]
    numbers = {n for n in map(int_or_none, parts) if n is not None}
    return sorted(numbers) or None


def _kind_or_none(value: Any) -> str | None:
    return value if value in KIND_LABELS and value != ENCODER else None


def parse_selection(query: dict[str, Any]) -> dict[str, Any]:
    """A selection from URL query parameters; junk falls back to the defaults."""
    query = {name: last(value) for name, value in query.items()}
    selection = default_selection()
    if (layer := int_or_none(query.get("layer"))) is not None:
        selection["layer"] = layer
    selection["head"] = int_or_none(query.get("head"))
    selection["token"] = int_or_none(query.get("token"))
    selection["step"] = int_or_none(query.get("step"))  # a generated or target token
    if query.get("method") in SALIENCY_METHODS:
        selection["method"] = query["method"]
    selection["kind"] = _kind_or_none(query.get("kind"))
    for name in LIST_FIELDS:
        selection[name] = int_list(query.get(name))
    return selection


def clamp(selection: dict[str, Any] | None, analysis: Analysis | None) -> dict[str, Any]:
    """The selection made valid for this analysis (a link may name layer 11 of a 3-layer model)."""
    out = {**default_selection(), **(selection or {})}
    out["kind"] = _kind_or_none(out["kind"])
    methods = saliency_methods(analysis) if analysis is not None else []
    if methods and out["method"] not in methods:  # a link's (or the default) method this analysis lacks
        out["method"] = methods[0]
    if analysis is not None and out["step"] is not None and not 0 <= out["step"] < len(analysis.steps):
        out["step"] = None
    if analysis is not None and out["kind"] not in kinds(analysis):
        out["kind"] = None
    if analysis is None or analysis.attention is None:
        return out
    for name, count in (("layers", analysis.num_layers), ("heads", analysis.num_heads)):
        out[name] = [n for n in int_list(out[name]) or [] if n < count] or None
    out["layer"] = min(max(0, out["layer"] or 0), analysis.num_layers - 1)
    if out["head"] is not None and not 0 <= out["head"] < analysis.num_heads:
        out["head"] = None
    if out["token"] is not None and not 0 <= out["token"] < analysis.n_tokens:
        out["token"] = None
    return out


def saliency_methods(analysis: Analysis) -> list[str]:
    """The saliency methods an analysis holds (per token or per step) or can get: a part of its own it offers,
    and, until its saliency stage has landed, the methods its request asks for."""
    held = set(analysis.saliency) | set(analysis.step_saliency)
    held |= {name.split(".", 1)[1] for name in analysis.parts if name.startswith("saliency.")}
    if "saliency" not in analysis.stages_done:
        held |= set(analysis.request.methods)
    return [method for method in SALIENCY_METHODS if method in held]


def parse_view_options(query: dict[str, Any]) -> dict[str, Any]:
    """The views' options (edge top-k, threshold, pair filter) and the theme a link names; junk and absent ones left
    out."""
    query = {name: last(value) for name, value in query.items()}
    out: dict[str, Any] = {}
    for name, (kind, low, high) in VIEW_OPTION_RANGES.items():
        try:
            value = kind(float(query[name]))
        except (KeyError, TypeError, ValueError, OverflowError):
            continue
        if low <= value <= high:  # NaN fails both
            out[name] = value
    for name, choices in VIEW_OPTION_CHOICES.items():
        if query.get(name) in choices:
            out[name] = query[name]
    if query.get("theme") in THEMES:
        out["theme"] = query["theme"]
    return out


def query_string(
    request: dict[str, Any] | None,
    selection: dict[str, Any] | None,
    view_options: dict[str, Any] | None = None,
) -> str:
    """`?model=…&text=…&layer=…&top_k=…&theme=…` for the current view (empty fields left out)."""
    params: dict[str, Any] = {}
    for name in REQUEST_FIELDS:
        if request and request.get(name) not in (None, ""):
            params[name] = request[name]
    for name in SELECTION_FIELDS:
        if selection and selection.get(name) is not None:
            value = selection[name]
            params[name] = ",".join(map(str, value)) if name in LIST_FIELDS else value
    params.update(parse_view_options(view_options or {}))  # only the known ones, valid
    for name, choices in VIEW_OPTION_CHOICES.items():
        if params.get(name) == choices[0]:
            del params[name]  # the default says nothing: a link leaves it out
    return "?" + urlencode(params, safe=",") if params else ""


def head_value(head: int | None) -> str | int:
    """The head selector's value for a selection's head."""
    return HEAD_AVERAGE if head is None else head


def head_from_value(value: Any) -> int | None:
    return None if value in (None, HEAD_AVERAGE) else int_or_none(value)
