"""The Analyze page's views, each declared once: its card, what it draws, what it shows of the selection,
how a click on it changes the selection, and whether it joins the HTML report.

The page (dashapp/pages/analyze) generates from VIEWS its cards, the stores of what each view has drawn,
one redraw callback per view, the click -> selection handling, the image-export configs and the report.
Adding a view: its figure function in dashapp/figures/, one View in VIEWS below, its tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashapp import ids
from dashapp.figures.attention_graph import attention_graph_figure
from dashapp.figures.common import label_index, row_outline
from dashapp.figures.head_view import head_view_figure
from dashapp.figures.heatmap import heatmap_figure, token_outline
from dashapp.figures.kinds import key_labels, on_kind, query_key, select
from dashapp.figures.logit_lens import logit_lens_figure
from dashapp.figures.model_grid import grid_outline, model_grid_figure
from dashapp.figures.neuron_view import neuron_view_figure
from dashapp.figures.predictions import predictions_figure
from dashapp.figures.saliency import saliency_band, saliency_figure
from dashapp.figures.sensitivity import sensitivity_figure
from dashapp.figures.steps import at_step, step_strip_figure
from dashapp.figures.token_focus import token_focus_figure
from dashapp.figures.token_strip import token_strip
from interp.schema import Analysis

Selection = dict[str, Any]  # {"layer", "head", "token", "method", "step", "kind", ...} (dashapp.selection)
# (analysis, clamped selection, theme, **options) -> a figure (or Dash components)
Builder = Callable[..., Any]
# (analysis, clamped selection) -> the shapes that mark the selected token, or None (nothing to mark on). The
# browser moves them (assets/marks.js, Plotly.update): a Patch of the figure would make Plotly.react redraw
# the whole figure (150-250 ms for a 512-token heatmap), moving two shapes takes 20.
Overlay = Callable[[Analysis, Selection], "list[dict] | None"]
# (analysis, clamped selection) -> what the view shows of the analysis's parts (dashapp.redraw.signature):
# a part landing redraws only the views whose value changes
PartsShown = Callable[[Analysis, Selection], Any]
# (selection, the clicked point of a Plotly clickData) -> the selection after the click
Click = Callable[[Selection, dict[str, Any]], Selection]


def always(_analysis: Analysis) -> bool:
    return True


@dataclass(frozen=True)
class Option:
    """A control in the view's card: its "value" reaches the builder as keyword `name`."""

    name: str
    component_id: str


@dataclass(frozen=True)
class View:
    name: str  # the component id is ids.view_id(name): "heatmap" -> "analyze-heatmap"
    title: str  # the card's header
    build: Builder
    depends_on: tuple[str, ...] = ()  # the selection fields it shows: redrawn only when they change
    width: int = 12  # its card's share (of 12) of a row on large screens
    overlay: Overlay | None = None  # the selection as a mark moved over a big drawing in the browser
    marks: tuple[str, ...] = ("token",)  # the selection fields the overlay shows (not in depends_on)
    on_click: Click | None = None
    in_report: bool = False
    image_name: str | None = None  # file name of its image export; default: its name
    controls: Callable[[], Any] | None = None  # components above the figure, in its card
    options: tuple[Option, ...] = ()
    # (analysis, the hovered point of a Plotly hoverData, theme, selection) -> a larger figure beside the view
    hover_preview: Callable[[Analysis, dict[str, Any], str | None, Selection], Any] | None = None
    graph: bool = True  # a dcc.Graph; False: plain components in a Div (which follow the page's CSS theme)
    # its builder takes `zoom` (dashapp.figures.heatmap.zoom_range of the graph's relayoutData): a long map
    # is sent downsampled, and a zoom redraws the zoomed range at full resolution
    zoomable: bool = False
    # Whether the view has anything to show for an analysis: its card is hidden where it has not
    applies: Callable[[Analysis], bool] = always
    # Hovering a token highlights its lines in the browser (assets/hover_lines.js): a graph of
    # query → key line segments, its token markers' customdata their index
    hover_lines: bool = False
    # The selected token is marked in the browser by this clientside function (dash_clientside.interpboard,
    # in assets/), called with the selection and the view's id: no server round trip, no overlay
    browser_mark: str | None = None
    # What it shows of the parts computed on request or in the background (sensitivity per layer, saliency
    # methods); None: only the core, which a landed part does not change
    parts_shown: PartsShown | None = None

    @property
    def id(self) -> str:
        return ids.view_id(self.name)

    @property
    def file_name(self) -> str:
        return self.image_name or self.name

    def option_values(self, values: dict[str, Any]) -> dict[str, Any]:
        """The builder's keyword options from {component id: value}."""
        return {option.name: values.get(option.component_id) for option in self.options}


def part_bar(view: str) -> Callable[[], Any]:
    """Above a view drawn from a part: the part's state and estimated cost, a button that asks for it when it
    is offered, and one that cancels its job while it is queued or running (dashapp/pages/analyze/parts.py
    fills them in)."""
    return lambda: html.Div(
        [
            html.Span(id=ids.part_note(view), className="me-2 small text-body-secondary"),
            dbc.Button(
                id=ids.part_button(view), size="sm", color="primary", outline=True, style={"display": "none"}
            ),
            dbc.Button(
                "Cancel",
                id=ids.part_cancel(view),
                size="sm",
                color="secondary",
                outline=True,
                style={"display": "none"},
            ),
        ],
        className="mb-1 part-bar",
    )


# --- clicks ------------------------------------------------------------------------------------------


def cell_preview(analysis: Analysis, point: dict[str, Any], theme: str | None, selection: Selection) -> Any:
    """The attention map (of the kind on show) of the hovered model overview cell, large."""
    layer, head = (int(v) for v in point["customdata"])
    kind_analysis, _sel = on_kind(analysis, selection)
    fig = heatmap_figure(kind_analysis, layer, head, None, theme)
    return fig.update_layout(height=460)


def token_of_point(selection: Selection, point: dict[str, Any]) -> Selection:
    """A token's marker or bar (its index in customdata)."""
    return selection if point.get("customdata") is None else {**selection, "token": int(point["customdata"])}


def query_or_key_of_point(selection: Selection, point: dict[str, Any]) -> Selection:
    """A token of a query (left, x 0) → key (right, x 1) graph: the query or key of the kind on show."""
    if point.get("customdata") is None:
        return selection
    return select(selection, "key" if point.get("x") == 1 else "query", int(point["customdata"]))


def step_of_point(selection: Selection, point: dict[str, Any]) -> Selection:
    """A generated or target token ([step, the attention row that predicted it (generation) or None] in
    customdata): that step, and a generated token's row is the selected token of the attention views."""
    data = point.get("customdata")
    if data is None:
        return selection
    step, row = data if isinstance(data, list) else (data, None)
    return {**selection, "step": int(step), **({} if row is None else {"token": int(row)})}


def token_of_row(selection: Selection, point: dict[str, Any]) -> Selection:
    """A square matrix's row (the token label on y)."""
    token = label_index(point.get("y"))
    return selection if token is None else {**selection, "token": token}


def query_of_row(selection: Selection, point: dict[str, Any]) -> Selection:
    """An attention matrix's row (the query's label on y): the query of the kind on show."""
    token = label_index(point.get("y"))
    return selection if token is None else select(selection, "query", token)


def layer_and_head_of_cell(selection: Selection, point: dict[str, Any]) -> Selection:
    """A model overview cell ([layer, head] in customdata)."""
    if not isinstance(point.get("customdata"), list):
        return selection
    layer, head = (int(v) for v in point["customdata"])
    return {**selection, "layer": layer, "head": head}


def layer_of_point(selection: Selection, point: dict[str, Any]) -> Selection:
    """A layer's row (its index in customdata)."""
    layer = point.get("customdata")
    return selection if not isinstance(layer, int) else {**selection, "layer": layer}


def token_and_layer_of_cell(selection: Selection, point: dict[str, Any]) -> Selection:
    """A token focus cell: token label on x (a key, customdata 1, or a query), "L<layer>" on y."""
    token = label_index(point.get("x"))
    if token is None:
        return selection
    layer = label_index(str(point.get("y", "")).lstrip("L")) or 0
    return {**select(selection, "key" if point.get("customdata") == 1 else "query", token), "layer": layer}


# --- the views --------------------------------------------------------------------------------------


def _edge_filters() -> dbc.Row:
    return dbc.Row(
        [
            dbc.Col(
                [
                    dbc.Label("Edges per token", className="small mb-0"),
                    dcc.Slider(
                        id=ids.EDGE_TOP_K,
                        min=1,
                        max=10,
                        step=1,
                        value=3,
                        marks={1: "1", 3: "3", 5: "5", 10: "10"},
                    ),
                ],
                sm=6,
            ),
            dbc.Col(
                [
                    dbc.Label("Edge threshold", className="small mb-0"),
                    dcc.Slider(
                        id=ids.EDGE_THRESHOLD,
                        min=0,
                        max=0.5,
                        step=0.05,
                        value=0,
                        marks={0: "0", 0.25: ".25", 0.5: ".5"},
                    ),
                ],
                sm=6,
            ),
        ]
    )


def _graph(a: Analysis, s: Selection, theme: str | None, top_k=3, threshold=0.0, pair_filter="all") -> Any:
    a, s = on_kind(a, s)
    query, key = query_key(a, s)
    return attention_graph_figure(
        a, s["layer"], s["head"], query, int(top_k or 3), float(threshold or 0), theme, pair_filter, key
    )


def _heatmap(a: Analysis, s: Selection, theme: str | None, pair_filter="all", zoom=None) -> Any:
    a, s = on_kind(a, s)
    query, key = query_key(a, s)
    return heatmap_figure(a, s["layer"], s["head"], query, theme, zoom, pair_filter, key)


def _heatmap_outline(a: Analysis, s: Selection) -> list[dict] | None:
    a, s = on_kind(a, s)
    if a.attention is None:
        return None
    query, key = query_key(a, s)
    return token_outline(a.n_tokens, query, len(key_labels(a)), key)


def _token_focus(a: Analysis, s: Selection, theme: str | None) -> Any:
    a, s = on_kind(a, s)
    query, key = query_key(a, s)
    return token_focus_figure(a, query, s["head"], theme, key=key)


def _head_view(a: Analysis, s: Selection, theme: str | None, pair_filter="all") -> Any:
    a, s = on_kind(a, s)
    query, _key = query_key(a, s)
    return head_view_figure(a, s["layer"], pair_filter or "all", theme, query, heads=s.get("heads"))


def _neuron_view(a: Analysis, s: Selection, theme: str | None) -> Any:
    shown, s = on_kind(a, s)  # the kind's query row; the stored q/k are the whole analysis's
    query, _key = query_key(shown, s)
    return neuron_view_figure(a, s["layer"], s["head"], query, theme, kind=s.get("kind"))


def _grid_outline(a: Analysis, s: Selection) -> list[dict] | None:
    a, s = on_kind(a, s)
    if a.attention is None:
        return None
    return grid_outline(a, s["layer"], s["head"], layers=s.get("layers"), heads=s.get("heads"))


def _model_grid(a: Analysis, s: Selection, theme: str | None) -> Any:
    a, s = on_kind(a, s)
    return model_grid_figure(a, s["layer"], s["head"], theme, layers=s.get("layers"), heads=s.get("heads"))


def _sensitivity_shown(a: Analysis, s: Selection) -> bool:
    """Whether the selected layer's sensitivity is drawn (a part: computed later, or on request)."""
    if a.attention_sensitivity is None:
        return False
    return a.sensitivity_of(min(s["layer"], a.attention_sensitivity.shape[0] - 1)) is not None


PAIR_FILTER = Option("pair_filter", ids.PAIR_FILTER)  # one control above the views, for every view it filters
TOKEN_STRIP = View(
    "token-strip",
    "Tokens (coloured by the saliency method; click to select)",
    lambda a, s, _theme: token_strip(a, s["method"], s["token"]),
    depends_on=("method",),
    parts_shown=lambda a, s: s["method"] in a.saliency,
    browser_mark="markToken",  # assets/token_mark.js: two class names, set in the browser
    graph=False,
    # a click on a token button reaches the page through ids.TOKEN_CLICK (assets/token_strip.js): it may also
    # mask the word
)
STEPS = View(
    "steps",
    "Generated or target tokens (click one to explain it)",
    lambda a, s, theme: step_strip_figure(a, s["step"], theme),
    depends_on=("step",),
    on_click=step_of_point,
    applies=lambda a: bool(a.steps),
)
PREDICTIONS = View(
    "predictions",
    "Predictions",
    lambda a, s, theme: predictions_figure(a, theme, s["step"]),
    depends_on=("step",),
    width=5,
    in_report=True,
)
ATTENTION_GRAPH = View(
    "attention-graph",
    "Attention graph",
    _graph,
    depends_on=("layer", "head", "token", "kind", "step"),
    width=7,
    on_click=query_or_key_of_point,
    in_report=True,
    controls=_edge_filters,
    options=(Option("top_k", ids.EDGE_TOP_K), Option("threshold", ids.EDGE_THRESHOLD), PAIR_FILTER),
    hover_lines=True,
)
HEAD_VIEW = View(
    "head-view",
    "Head view (every head of the layer; the legend toggles heads)",
    _head_view,
    depends_on=("layer", "token", "kind", "heads"),  # the token: the window of a long input is around it
    width=5,
    on_click=query_or_key_of_point,
    options=(PAIR_FILTER,),
    hover_lines=True,
)
HEATMAP = View(
    "heatmap",
    "Attention heatmap",
    _heatmap,
    depends_on=("layer", "head", "kind", "step"),
    zoomable=True,
    width=6,
    on_click=query_of_row,
    in_report=True,
    overlay=_heatmap_outline,
    options=(PAIR_FILTER,),
)
LOGIT_LENS = View(
    "logit-lens",
    "Logit lens (each layer's top tokens at the prediction; click a row to select its layer)",
    lambda a, s, theme: logit_lens_figure(a, s["layer"], theme),
    depends_on=("layer",),
    width=12,
    on_click=layer_of_point,
    in_report=True,
    applies=lambda a: a.logit_lens is not None,
)
MODEL_GRID = View(
    "model-grid",
    "Model overview",
    _model_grid,
    depends_on=("kind", "layers", "heads"),
    overlay=_grid_outline,  # a layer or head moves the outline, not 300 kB of thumbnails at 512 tokens
    marks=("layer", "head"),
    width=12,  # the grid grows with the panel; a hovered cell shows large beside it
    on_click=layer_and_head_of_cell,
    image_name="model-overview",
    hover_preview=cell_preview,
)
TOKEN_FOCUS = View(
    "token-focus",
    "Token focus",
    _token_focus,
    depends_on=("head", "token", "kind", "step"),
    width=12,
    on_click=token_and_layer_of_cell,
)
# BertViz's neuron view, from the stored q/k in numpy (no model in the web); a key's row selects that token.
NEURON_VIEW = View(
    "neuron-view",
    "Neuron view (query, keys, q∘k and scores of the selected head and token; click a key)",
    _neuron_view,
    depends_on=("layer", "head", "token", "kind", "step"),
    width=12,
    on_click=token_of_row,
)
SENSITIVITY = View(
    "sensitivity",
    "Attention sensitivity",
    lambda a, s, theme, zoom=None: sensitivity_figure(a, s["layer"], s["token"], theme, zoom),
    depends_on=("layer",),
    zoomable=True,
    width=6,
    on_click=token_of_row,
    in_report=True,
    controls=part_bar("sensitivity"),
    # seq2seq and generation compute none
    applies=lambda a: a.attention_sensitivity is not None or not a.steps,
    overlay=lambda a, s: row_outline(a.n_tokens, s["token"]) if _sensitivity_shown(a, s) else None,
    parts_shown=_sensitivity_shown,
)
# Every method has its own bars; the chosen one (which colours the token strip) is marked.
SALIENCY = View(
    "saliency",
    "Saliency",
    lambda a, s, theme: saliency_figure(at_step(a, s["step"]), s["token"], theme, s["method"]),
    depends_on=("method", "step"),
    on_click=token_of_point,
    in_report=True,
    controls=part_bar("saliency"),
    overlay=lambda a, s: saliency_band(a, s["token"]),
    parts_shown=lambda a, _s: sorted(a.saliency),
)

# In page order: cards fill rows of 12 left to right; the report takes its views in this order too.
VIEWS: tuple[View, ...] = (
    TOKEN_STRIP,
    STEPS,
    PREDICTIONS,
    ATTENTION_GRAPH,
    HEAD_VIEW,
    HEATMAP,
    SENSITIVITY,
    LOGIT_LENS,
    MODEL_GRID,
    TOKEN_FOCUS,
    NEURON_VIEW,
    SALIENCY,
)


def by_id(view_id: str, views: tuple[View, ...] = VIEWS) -> View:
    return next(view for view in views if view.id == view_id)
