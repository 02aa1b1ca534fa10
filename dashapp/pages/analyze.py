"""Analyze page: one model, one input, every view linked by one selection.

The browser holds only small dicts (the job, the view's cache key and stage, the selection);
each view's callback asks `Services` for the Analysis and sends back just what it shows.
Callback bodies are plain functions of their inputs (tests call them directly);
`register` wires them to one app.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, Patch, State, ctx, dcc, html, no_update

from dashapp import exports, ids, redraw
from dashapp.figures.attention_graph import attention_graph_figure
from dashapp.figures.common import IMAGE_FORMATS, empty_figure, graph_config, label_index, row_outline
from dashapp.figures.heatmap import heatmap_figure, token_outline
from dashapp.figures.model_grid import model_grid_figure
from dashapp.figures.predictions import predictions_figure
from dashapp.figures.saliency import METHOD_NAMES, saliency_figure, saliency_token_patch
from dashapp.figures.sensitivity import sensitivity_figure
from dashapp.figures.token_focus import token_focus_figure
from dashapp.figures.token_strip import token_strip, token_strip_patch
from dashapp.pages import components as ui
from dashapp.selection import (
    HEAD_AVERAGE, REQUEST_FIELDS, clamp, default_selection, head_from_value, head_value, last, parse_selection,
    query_string,
)
from dashapp.services import Services
from interp.schema import (
    MASK_MARKERS, SALIENCY_METHODS, Analysis, AnalysisRequest, InputError, ModelUnavailable, replace_mask_marker,
)

log = logging.getLogger(__name__)

GRAPHS = {  # graph id -> name used for exported image files
    ids.PREDICTIONS: "predictions",
    ids.ATTENTION_GRAPH: "attention-graph",
    ids.HEATMAP: "heatmap",
    ids.TOKEN_FOCUS: "token-focus",
    ids.MODEL_GRID: "model-overview",
    ids.SALIENCY: "saliency",
    ids.SENSITIVITY: "sensitivity",
}
HIDDEN = {"display": "none"}
DEFAULT_TEXT = "The cat sat on the [MASK] ."
_WORDS = re.compile(r"(\s+)")


# --- layout ------------------------------------------------------------------------------------

def layout(model: str | None = None, task: str | None = None, text: str | None = None, pair: str | None = None,
           target: str | None = None, key: str | None = None, **query: Any) -> html.Div:
    """The page; query parameters (from a shared link) pre-fill the form and run it at once."""
    model, task, text, pair, target, key = map(last, (model, task, text, pair, target, key))
    form = initial_form(model, task, text, pair, target)
    if key:
        start = {"key": key}
    elif model and task and text:
        start = {"request": form}
    else:
        start = None
    selection = parse_selection(query)
    return html.Div([
        dcc.Store(id=ids.AUTORUN, data=start),
        dcc.Store(id=ids.JOB),
        dcc.Store(id=ids.VIEW),
        dcc.Store(id=ids.SELECTION, data=selection),
        dcc.Store(id=ids.MASK_MEMO),
        dcc.Store(id=ids.URL_QUERY),
        *(dcc.Store(id=ids.drawn(vid)) for vid in (*GRAPHS, ids.TOKEN_STRIP)),
        html.Div(id=ids.URL_DUMMY, hidden=True),
        dcc.Interval(id=ids.POLL, interval=ui.POLL_MS, disabled=True),
        dcc.Download(id=ids.DOWNLOAD),
        dbc.Row([
            dbc.Col(input_panel(form), lg=3),
            dbc.Col(views_panel(selection), lg=9),
        ]),
    ])


def layout_for_key(key: str | None = None, **query: Any) -> html.Div:
    """The permalink page /analysis/<key>: the Analyze page opened on a cached analysis."""
    return layout(key=key or "", **query)


def initial_form(model: str | None, task: str | None, text: str | None, pair: str | None,
                 target: str | None) -> dict[str, Any]:
    registry, _error = ui.registry_or_none()
    models = list(registry.models.values()) if registry else []
    if model is None and models:
        available = [m for m in models if m.availability().ok]
        model = (next((m for m in available if "mlm" in m.tasks), None) or (available or models)[0]).id
    spec = registry.models.get(model) if registry and model else None
    if task is None and spec is not None:
        task = spec.task
    return {"model": model, "task": task, "text": DEFAULT_TEXT if text is None else text, "pair": pair, "target": target}


def input_panel(form: dict[str, Any]) -> html.Div:
    registry, error = ui.registry_or_none()
    spec = registry.models.get(form["model"]) if registry and form["model"] else None
    return html.Div([
        dbc.Label("Model", html_for=ids.MODEL),
        dcc.Dropdown(id=ids.MODEL, options=ui.model_options(), value=form["model"], clearable=False),
        dbc.Label("Task", html_for=ids.TASK, className="mt-2"),
        dcc.Dropdown(id=ids.TASK, options=ui.task_options(spec.tasks if spec else ()), value=form["task"], clearable=False),
        html.Div(id=ids.MODEL_INFO, className="small text-muted"),
        dbc.Label("Text", html_for=ids.TEXT, className="mt-2"),
        dbc.Textarea(id=ids.TEXT, value=form["text"], rows=3, placeholder="Type a sentence; for mlm write [MASK] or click a word"),
        html.Div([
            dbc.Label(ui.pair_label(form["task"]), id=ids.PAIR_LABEL, html_for=ids.PAIR, className="mt-2"),
            dbc.Textarea(id=ids.PAIR, value=form["pair"] or "", rows=2),
        ], id=ids.PAIR_GROUP, style=ui.pair_style(form["task"])),
        dbc.Label("Explain target (default: the top prediction)", html_for=ids.TARGET, className="mt-2"),
        dbc.Input(id=ids.TARGET, value=form["target"] or "", list=ids.TARGET_CHOICES, placeholder="top prediction"),
        html.Datalist(id=ids.TARGET_CHOICES),
        dbc.Switch(id=ids.MASK_MODE, label="clicking a token masks its word", value=False, className="mt-2",
                   style={} if ui.needs_mask(form["task"]) else HIDDEN),
        dbc.Button("Run", id=ids.RUN, color="primary", className="mt-2 w-100"),
        html.Div(ui.alert(error) if error else None, id=ids.ALERT),
        ui.progress_block(),
        html.Div(id=ids.BADGE, className="mt-2"),
        html.Hr(),
        dbc.Label("Export", className="d-block"),
        dbc.ButtonGroup([dbc.Button(name, id=bid, size="sm", color="secondary", outline=True)
                         for name, bid in (("JSON", ids.EXPORT_JSON), ("CSV", ids.EXPORT_CSV),
                                           ("NPZ", ids.EXPORT_NPZ), ("HTML report", ids.EXPORT_HTML))], className="mb-2"),
        dbc.RadioItems(id=ids.IMAGE_FORMAT, options=[{"label": f"images as {f.upper()}", "value": f} for f in IMAGE_FORMATS],
                       value="png", inline=True, className="small"),
    ])


def views_panel(selection: dict[str, Any]) -> html.Div:
    controls = dbc.Row([
        # Until an analysis says how many there are, the choices reach just the selected layer and head.
        dbc.Col([dbc.Label("Layer"), dcc.Dropdown(id=ids.LAYER, options=layer_options(selection["layer"] + 1),
                                                  value=selection["layer"], clearable=False)], md=3),
        dbc.Col([dbc.Label("Head"), dcc.Dropdown(id=ids.HEAD, options=head_options((selection["head"] or 0) + 1),
                                                 value=head_value(selection["head"]), clearable=False)], md=4),
        dbc.Col([dbc.Label("Saliency method"), dcc.Dropdown(
            id=ids.METHOD, options=[{"label": METHOD_NAMES[m], "value": m} for m in SALIENCY_METHODS],
            value=selection["method"], clearable=False)], md=5),
    ], className="mb-2")
    # The edge filters belong to the attention graph: they sit in its card.
    edge_filters = dbc.Row([
        dbc.Col([dbc.Label("Edges per token", className="small mb-0"), dcc.Slider(
            id=ids.EDGE_TOP_K, min=1, max=10, step=1, value=3, marks={1: "1", 3: "3", 5: "5", 10: "10"})], sm=6),
        dbc.Col([dbc.Label("Edge threshold", className="small mb-0"), dcc.Slider(
            id=ids.EDGE_THRESHOLD, min=0, max=0.5, step=0.05, value=0, marks={0: "0", 0.25: ".25", 0.5: ".5"})], sm=6),
    ])

    def graph(gid: str) -> dcc.Graph:
        return dcc.Graph(id=gid, config=graph_config(GRAPHS[gid]), figure=empty_figure("run an analysis"))

    return html.Div([
        controls,
        ui.card("Tokens (coloured by the saliency method; click to select)", html.Div(id=ids.TOKEN_STRIP)),
        dbc.Row([dbc.Col(ui.card("Predictions", graph(ids.PREDICTIONS)), lg=5),
                 dbc.Col(ui.card("Attention graph", [edge_filters, graph(ids.ATTENTION_GRAPH)]), lg=7)]),
        dbc.Row([dbc.Col(ui.card("Attention heatmap", graph(ids.HEATMAP)), lg=6),
                 dbc.Col(ui.card("Model overview", graph(ids.MODEL_GRID)), lg=6)]),
        dbc.Row([dbc.Col(ui.card("Token focus", graph(ids.TOKEN_FOCUS)), lg=6),
                 dbc.Col(ui.card("Attention sensitivity", graph(ids.SENSITIVITY)), lg=6)]),
        ui.card("Saliency", graph(ids.SALIENCY)),
    ], id=ids.VIEWS)


# --- callback bodies: plain functions ------------------------------------------------------------

def model_changed(model: str | None, task: str | None) -> tuple[list, str | None, str]:
    """Task choices for the picked model (keeping the current task when the model serves it)."""
    registry, error = ui.registry_or_none()
    if registry is None or model not in registry.models:
        return [], None, error or ""
    spec = registry.models[model]
    available = spec.availability()
    info = spec.description or spec.id
    if not available.ok:
        info += f" — unavailable: {available.detail}"
    return ui.task_options(spec.tasks), task if task in spec.tasks else spec.task, info


def task_changed(task: str | None) -> tuple[dict, str, dict]:
    return ui.pair_style(task), ui.pair_label(task), {} if ui.needs_mask(task) else HIDDEN


def submit(services: Services, form: dict[str, Any]) -> dict[str, Any]:
    """Submit the form's request: a cached result shows at once, otherwise the page starts polling."""
    task = form.get("task")
    try:
        request = AnalysisRequest(model=form.get("model") or "", task=task, text=form.get("text") or "",
                                  pair=(form.get("pair") or None) if ui.takes_pair(task) else None,
                                  target=form.get("target") or None)
        sub = services.executor.submit(request)
    except (InputError, ModelUnavailable) as exc:
        return {"alert": ui.alert(str(exc)), "progress_style": HIDDEN}
    except Exception as exc:  # the service behind the page failed (Redis down, …): say so, never a traceback
        log.exception("submit failed")
        return {"alert": ui.alert(f"could not start the analysis: {type(exc).__name__}: {exc}"), "progress_style": HIDDEN}
    job = {"key": sub.key, "job_id": sub.job_id, "cached": sub.cached, "request": request.to_dict()}
    return {
        "job": job,
        "view": {"key": sub.key, "final": sub.cached, "stage": None},
        "poll_disabled": sub.cached,
        "alert": None,
        "progress_style": HIDDEN if sub.cached else {},
    }


def open_key(services: Services, key: str) -> dict[str, Any]:
    """A permalink: the cached analysis `key`, its request copied into the form."""
    meta = services.executor.store.get_meta(key) if re.fullmatch(r"[0-9a-f]{16,128}", key or "") else None
    if meta is None:
        return {"alert": ui.alert(f"no cached analysis with key {key!r} (it may have been deleted)", "warning")}
    request = meta.get("request") or {}
    return {
        "job": {"key": key, "job_id": None, "cached": True, "request": request},
        "view": {"key": key, "final": True, "stage": None, "permalink": True},
        "poll_disabled": True,
        "alert": None,
        "form": {name: request.get(name) or "" for name in REQUEST_FIELDS},
    }


def mask_word(text: str, word: int, memo: dict[str, Any] | None, fill: str | None) -> tuple[str, dict[str, Any]]:
    """`text` with its word number `word` replaced by [MASK].

    One mask per request: the word an earlier click masked comes back (`memo`); a typed mask
    is filled with the model's top prediction (`fill`).
    """
    parts = _WORDS.split(text)  # words at even positions, whitespace between them
    words = parts[0::2]
    if memo and 0 <= memo.get("word", -1) < len(words) and words[memo["word"]] in MASK_MARKERS:
        words[memo["word"]] = memo["original"]
    fill = (fill or "").strip().removeprefix("##")  # a WordPiece continuation ("##s") still fills as text
    if fill:
        words = [w if i == word else replace_mask_marker(w, fill) for i, w in enumerate(words)]
    original = words[word]
    words[word] = "[MASK]"
    parts[0::2] = words
    return "".join(parts), {"word": word, "original": original}


def start(services: Services, trigger: Any, autorun: dict | None, form: dict[str, Any], clicks: list | None,
          mask_mode: bool, view: dict | None, memo: dict | None) -> dict[str, Any]:
    """Run, a link's autorun, a permalink, or (mlm, mask mode) a click on a token that masks its word."""
    if trigger == ids.AUTORUN:  # runs once: the store is emptied
        if not autorun:
            return {}
        if "key" in autorun:
            return {**open_key(services, autorun["key"]), "autorun": None}
        return {**submit(services, {**form, **autorun["request"]}), "autorun": None}
    if isinstance(trigger, dict) and trigger.get("type") == ids.TOKEN_BUTTON:
        index = trigger["index"]
        if not (mask_mode and ui.needs_mask(form.get("task")) and clicks and index < len(clicks) and clicks[index]):
            return {}
        analysis = services.analysis((view or {}).get("key"))
        word = analysis.token_words[index] if analysis and index < analysis.n_tokens else None
        if word is None:
            return {}
        fill = analysis.predictions[0]["label"] if analysis.predictions else None
        text, memo = mask_word(form.get("text") or "", word, memo, fill)
        return {**submit(services, {**form, "text": text}), "form": {"text": text}, "memo": memo}
    return submit(services, form)


def poll(services: Services, job: dict | None, view: dict | None) -> dict[str, Any]:
    """Follow a running job: progress, stage, queue position; re-render when a new stage lands."""
    if not job or not job.get("job_id"):
        return {"poll_disabled": True}
    status = services.executor.status(job["job_id"])
    if status is None:
        return {"poll_disabled": True, "progress_style": HIDDEN,
                "alert": ui.alert("the job's record is gone (expired, or the server restarted): run it again", "warning")}
    key = job["key"]
    if status.state == "done":
        return {"poll_disabled": True, "progress_style": HIDDEN, "view": {"key": key, "final": True, "stage": "done"}}
    if status.state in ("error", "cancelled"):
        message = status.error or ("the job was cancelled" if status.state == "cancelled" else "the job failed")
        # The views stop waiting: they keep what the job produced before it ended, if anything.
        return {"poll_disabled": True, "progress_style": HIDDEN, "view": {"key": key, "final": False, "stage": status.state},
                "alert": ui.alert(message, "warning" if status.state == "cancelled" else "danger")}
    text = f"{status.state}: {status.stage}"
    if status.queue_position:
        text += f" · position {status.queue_position} in the queue"
    out: dict[str, Any] = {"progress": round(100 * float(status.progress)), "progress_label": status.stage,
                           "progress_text": text, "progress_style": {}}
    stage = ui.stage_kind(status.stage)
    if status.state == "running" and stage not in (None, "loading") and (view or {}).get("stage") != stage:
        out["view"] = {"key": key, "final": False, "stage": stage}
    return out


def cancel(services: Services, job: dict | None) -> str:
    if not job or not job.get("job_id"):
        return ""
    return "cancelling…" if services.executor.cancel(job["job_id"]) else "the job had already ended"


def badge(services: Services, view: dict | None, job: dict | None) -> Any:
    if not view or not view.get("final"):
        return None
    meta = services.executor.store.get_meta(view["key"])
    return ui.result_badge(meta, bool(job and job.get("cached")), view["key"])


def update_selection(selection: dict | None, trigger: Any, value: Any) -> dict[str, Any]:
    """The selection after one control changed or one view was clicked."""
    sel = {**default_selection(), **(selection or {})}
    point = (value or {}).get("points", [{}])[0] if isinstance(value, dict) else {}
    if trigger in (ids.LAYER, ids.HEAD) and value is None:
        pass  # a dropdown clears itself while its options are replaced: not a choice
    elif trigger == ids.LAYER:
        sel["layer"] = int(value)
    elif trigger == ids.HEAD:
        sel["head"] = head_from_value(value)
    elif trigger == ids.METHOD and value in SALIENCY_METHODS:
        sel["method"] = value
    elif isinstance(trigger, dict) and trigger.get("type") == ids.TOKEN_BUTTON:
        if value:
            sel["token"] = int(trigger["index"])
    elif trigger == ids.MODEL_GRID and isinstance(point.get("customdata"), list):
        sel["layer"], sel["head"] = (int(v) for v in point["customdata"])
    elif trigger in (ids.ATTENTION_GRAPH, ids.SALIENCY) and point.get("customdata") is not None:
        sel["token"] = int(point["customdata"])
    elif trigger in (ids.HEATMAP, ids.SENSITIVITY) and label_index(point.get("y")) is not None:
        sel["token"] = label_index(point.get("y"))
    elif trigger == ids.TOKEN_FOCUS and label_index(point.get("x")) is not None:
        sel["token"] = label_index(point.get("x"))
        sel["layer"] = label_index(str(point.get("y", "")).lstrip("L")) or 0
    return sel


def layer_options(layers: int) -> list[dict[str, Any]]:
    return [{"label": f"layer {l}", "value": l} for l in range(layers)]


def head_options(heads: int) -> list[dict[str, Any]]:
    return [{"label": "head average", "value": HEAD_AVERAGE}] + [{"label": f"head {h}", "value": h} for h in range(heads)]


def dimension_options(services: Services, view: dict | None, selection: dict | None) -> tuple:
    """Layer and head choices of the analysis on show, and the (valid) selected ones."""
    analysis = services.analysis((view or {}).get("key"))
    if analysis is None or analysis.attention is None:
        return no_update, no_update, no_update, no_update
    sel = clamp(selection, analysis)
    return layer_options(analysis.num_layers), head_options(analysis.num_heads), sel["layer"], head_value(sel["head"])


def target_choices(services: Services, view: dict | None) -> list:
    analysis = services.analysis((view or {}).get("key"))
    return [html.Option(value=str(p["label"])) for p in (analysis.predictions if analysis else [])]


def _current(services: Services, view: dict | None, selection: dict | None) -> tuple[Analysis | None, dict[str, Any]]:
    analysis = services.analysis((view or {}).get("key"))
    return analysis, clamp(selection, analysis)


# graph id -> figure of (analysis, clamped selection, theme, edge options)
VIEW_BUILDERS = {
    ids.PREDICTIONS: lambda a, s, th, **_: predictions_figure(a, th),
    ids.ATTENTION_GRAPH: lambda a, s, th, top_k=3, threshold=0.0: attention_graph_figure(
        a, s["layer"], s["head"], s["token"], int(top_k or 3), float(threshold or 0), th),
    ids.HEATMAP: lambda a, s, th, **_: heatmap_figure(a, s["layer"], s["head"], s["token"], th),
    ids.TOKEN_FOCUS: lambda a, s, th, **_: token_focus_figure(a, s["token"], s["head"], th),
    ids.MODEL_GRID: lambda a, s, th, **_: model_grid_figure(a, s["layer"], s["head"], th),
    ids.SALIENCY: lambda a, s, th, **_: saliency_figure(a, s["token"], th),
    ids.SENSITIVITY: lambda a, s, th, **_: sensitivity_figure(a, s["layer"], s["token"], th),
}
REPORT_VIEWS = (ids.PREDICTIONS, ids.SALIENCY, ids.ATTENTION_GRAPH, ids.HEATMAP, ids.SENSITIVITY)
# The selection fields each view shows: it is redrawn only when they (or the analysis, stage, theme,
# options) change. The saliency method colours only the token strip; every method has its own bars.
VIEW_DEPENDS = {
    ids.PREDICTIONS: (),
    ids.ATTENTION_GRAPH: ("layer", "head", "token"),
    ids.HEATMAP: ("layer", "head"),
    ids.TOKEN_FOCUS: ("head", "token"),
    ids.MODEL_GRID: ("layer", "head"),
    ids.SALIENCY: (),
    ids.SENSITIVITY: ("layer",),
    ids.TOKEN_STRIP: ("method",),
}


def _shapes_patch(shapes: list[dict] | None) -> Patch | None:
    """A Patch that replaces a figure's shapes; None when there is no figure to outline on."""
    if shapes is None:
        return None
    patch = Patch()
    patch["layout"]["shapes"] = shapes
    return patch


# Views where the selected token is a mark over a big drawing (a matrix, 4 × 512 bars, 512 buttons): a click patches
# the mark only, as a function of (analysis, previous token, token) -> Patch, or None for a placeholder.
TOKEN_OVERLAYS = {
    ids.HEATMAP: lambda a, _old, token: _shapes_patch(token_outline(a.n_tokens, token) if a.attention is not None else None),
    ids.SENSITIVITY: lambda a, _old, token: _shapes_patch(
        row_outline(a.n_tokens, token) if a.attention_sensitivity is not None else None),
    ids.SALIENCY: saliency_token_patch,
    ids.TOKEN_STRIP: token_strip_patch,
}


def render_view(services: Services, graph_id: str, view: dict | None, selection: dict | None, theme: str | None,
                **options: Any):
    analysis, sel = _current(services, view, selection)
    if analysis is None:
        return empty_figure(placeholder(view), theme)
    return VIEW_BUILDERS[graph_id](analysis, sel, theme, **options)


def placeholder(view: dict | None) -> str:
    """What an empty view says: nothing asked yet, still computing, or the job ended without a result."""
    if not view:
        return "run an analysis"
    return {"cancelled": "no result: the job was cancelled",
            "error": "no result: the job failed (the message is beside the Run button)"}.get(view.get("stage"), "computing…")


def render_token_strip(services: Services, view: dict | None, selection: dict | None):
    analysis, sel = _current(services, view, selection)
    return token_strip(analysis, sel["method"], sel["token"]) if analysis else None


def redraw_view(services: Services, view_id: str, view: dict | None, selection: dict | None, theme: str | None,
                drawn: dict | None, **options: Any) -> tuple[Any, Any]:
    """(what to send the view, the signature of what it then shows): a whole figure (or token strip),
    a Patch of its token overlay, or no_update when nothing it shows has changed."""
    try:
        analysis, sel = _current(services, view, selection)
    except Exception as exc:  # the store behind the page failed (Redis down, a damaged entry): say so
        log.exception("reading analysis %s failed", (view or {}).get("key"))
        message = f"cannot read the analysis: {type(exc).__name__}: {exc}"
        return (ui.alert(message) if view_id == ids.TOKEN_STRIP else empty_figure(message, theme)), None
    overlay = TOKEN_OVERLAYS.get(view_id)
    now = redraw.signature(view, theme, sel, VIEW_DEPENDS[view_id], options, overlay=overlay is not None)
    change = redraw.change(drawn, now)
    if change == redraw.NOTHING:
        return no_update, no_update
    if change == redraw.TOKEN:
        patch = overlay(analysis, (drawn or {}).get("token"), sel["token"]) if overlay and analysis is not None else None
        return (no_update if patch is None else patch), now
    if view_id == ids.TOKEN_STRIP:
        return render_token_strip(services, view, sel), now
    return render_view(services, view_id, view, sel, theme, **options), now


def export(services: Services, which: str, view: dict | None, selection: dict | None, top_k: int | None,
           threshold: float | None, theme: str | None) -> dict[str, Any] | None:
    """The dcc.Download payload for one export button."""
    analysis, sel = _current(services, view, selection)
    if analysis is None:
        return None
    key = view["key"]
    name = f"interpboard-{re.sub(r'[^A-Za-z0-9_.-]', '_', analysis.request.model)}-{key[:12]}"
    if which == ids.EXPORT_JSON:
        return dcc.send_bytes(exports.to_json(analysis, key), f"{name}.json")
    if which == ids.EXPORT_CSV:
        return dcc.send_string(exports.to_csv(analysis), f"{name}.csv")
    if which == ids.EXPORT_NPZ:
        return dcc.send_bytes(exports.to_npz(analysis), f"{name}.npz")
    figures = [VIEW_BUILDERS[g](analysis, sel, theme, top_k=top_k, threshold=threshold) for g in REPORT_VIEWS]
    return dcc.send_string(exports.html_report(analysis, key, figures), f"{name}.html")


def url_query(view: dict | None, job: dict | None, selection: dict | None) -> str | None:
    """The query string for the address bar: request and selection (a permalink's path already names the request)."""
    if not view:
        return None
    request = None if view.get("permalink") else (job or {}).get("request")
    return query_string(request, selection)


# --- wiring ----------------------------------------------------------------------------------------

START_OUTPUTS = ("job", "view", "poll_disabled", "alert", "progress_style", "memo", "autorun")
FORM_FIELDS = ("model", "task", "text", "pair", "target")
POLL_OUTPUTS = ("view", "poll_disabled", "alert", "progress_style", "progress", "progress_label", "progress_text")


def _pick(result: dict[str, Any], names: tuple[str, ...]) -> list[Any]:
    return [result[name] if name in result else no_update for name in names]


def register(app: dash.Dash, services: Services) -> None:
    dash.register_page(__name__, path="/", name="Analyze", title="interpboard · analyze", layout=layout, order=0)

    app.callback(Output(ids.TASK, "options"), Output(ids.TASK, "value"), Output(ids.MODEL_INFO, "children"),
                 Input(ids.MODEL, "value"), State(ids.TASK, "value"))(model_changed)
    app.callback(Output(ids.PAIR_GROUP, "style"), Output(ids.PAIR_LABEL, "children"), Output(ids.MASK_MODE, "style"),
                 Input(ids.TASK, "value"))(task_changed)

    @app.callback(
        Output(ids.JOB, "data"), Output(ids.VIEW, "data"), Output(ids.POLL, "disabled"), Output(ids.ALERT, "children"),
        Output(ids.PROGRESS_GROUP, "style"), Output(ids.MASK_MEMO, "data"), Output(ids.AUTORUN, "data"),
        *(Output(getattr(ids, f.upper()), "value") for f in FORM_FIELDS),
        Input(ids.RUN, "n_clicks"), Input(ids.AUTORUN, "data"), Input(ids.token_button(ALL), "n_clicks"),
        *(State(getattr(ids, f.upper()), "value") for f in FORM_FIELDS),
        State(ids.MASK_MODE, "value"), State(ids.VIEW, "data"), State(ids.MASK_MEMO, "data"),
    )
    def _start(_run, autorun, clicks, model, task, text, pair, target, mask_mode, view, memo):
        trigger = ctx.triggered_id
        if trigger is None:
            if not autorun:
                raise dash.exceptions.PreventUpdate
            trigger = ids.AUTORUN
        form = {"model": model, "task": task, "text": text, "pair": pair, "target": target}
        result = start(services, trigger, autorun, form, clicks, bool(mask_mode), view, memo)
        if not result:
            raise dash.exceptions.PreventUpdate
        filled = result.get("form", {})
        return (*_pick(result, START_OUTPUTS), *(filled[f] if f in filled else no_update for f in FORM_FIELDS))

    @app.callback(
        Output(ids.VIEW, "data", allow_duplicate=True), Output(ids.POLL, "disabled", allow_duplicate=True),
        Output(ids.ALERT, "children", allow_duplicate=True), Output(ids.PROGRESS_GROUP, "style", allow_duplicate=True),
        Output(ids.PROGRESS, "value"), Output(ids.PROGRESS, "label"), Output(ids.PROGRESS_TEXT, "children"),
        Input(ids.POLL, "n_intervals"), State(ids.JOB, "data"), State(ids.VIEW, "data"), prevent_initial_call=True,
    )
    def _poll(_n, job, view):
        return _pick(poll(services, job, view), POLL_OUTPUTS)

    app.callback(Output(ids.PROGRESS_TEXT, "children", allow_duplicate=True), Input(ids.CANCEL, "n_clicks"),
                 State(ids.JOB, "data"), prevent_initial_call=True)(lambda _n, job: cancel(services, job))
    app.callback(Output(ids.BADGE, "children"), Input(ids.VIEW, "data"), State(ids.JOB, "data"))(
        lambda view, job: badge(services, view, job))
    app.callback(Output(ids.LAYER, "options"), Output(ids.HEAD, "options"), Output(ids.LAYER, "value", allow_duplicate=True),
                 Output(ids.HEAD, "value", allow_duplicate=True), Input(ids.VIEW, "data"), State(ids.SELECTION, "data"),
                 prevent_initial_call=True)(lambda view, sel: dimension_options(services, view, sel))
    app.callback(Output(ids.TARGET_CHOICES, "children"), Input(ids.VIEW, "data"))(lambda view: target_choices(services, view))

    clickable = (ids.ATTENTION_GRAPH, ids.HEATMAP, ids.MODEL_GRID, ids.TOKEN_FOCUS, ids.SALIENCY, ids.SENSITIVITY)

    @app.callback(
        Output(ids.SELECTION, "data"), Output(ids.LAYER, "value"), Output(ids.HEAD, "value"), Output(ids.METHOD, "value"),
        Input(ids.LAYER, "value"), Input(ids.HEAD, "value"), Input(ids.METHOD, "value"),
        Input(ids.token_button(ALL), "n_clicks"), *(Input(gid, "clickData") for gid in clickable),
        State(ids.SELECTION, "data"), prevent_initial_call=True,
    )
    def _select(layer, head, method, clicks, *rest):
        *click_data, selection = rest
        trigger = ctx.triggered_id
        values = {ids.LAYER: layer, ids.HEAD: head, ids.METHOD: method, **dict(zip(clickable, click_data))}
        if isinstance(trigger, dict):
            value = clicks[trigger["index"]] if trigger["index"] < len(clicks) else None
        else:
            value = values.get(trigger)
        sel = update_selection(selection, trigger, value)
        if sel == selection:
            raise dash.exceptions.PreventUpdate
        return sel, sel["layer"], head_value(sel["head"]), sel["method"]

    # Every view follows the whole selection; redraw_view sends only what it shows that changed.
    view_inputs = (Input(ids.VIEW, "data"), Input(ids.SELECTION, "data"), Input(ids.THEME, "data"))
    app.callback(Output(ids.TOKEN_STRIP, "children"), Output(ids.drawn(ids.TOKEN_STRIP), "data"), *view_inputs,
                 State(ids.drawn(ids.TOKEN_STRIP), "data"))(
        lambda view, sel, _th, drawn: redraw_view(services, ids.TOKEN_STRIP, view, sel, None, drawn))
    app.callback(Output(ids.ATTENTION_GRAPH, "figure"), Output(ids.drawn(ids.ATTENTION_GRAPH), "data"), *view_inputs,
                 Input(ids.EDGE_TOP_K, "value"), Input(ids.EDGE_THRESHOLD, "value"), State(ids.drawn(ids.ATTENTION_GRAPH), "data"))(
        lambda view, sel, th, k, t, drawn: redraw_view(services, ids.ATTENTION_GRAPH, view, sel, th, drawn, top_k=k, threshold=t))
    for gid in (ids.PREDICTIONS, ids.HEATMAP, ids.MODEL_GRID, ids.TOKEN_FOCUS, ids.SALIENCY, ids.SENSITIVITY):
        app.callback(Output(gid, "figure"), Output(ids.drawn(gid), "data"), *view_inputs, State(ids.drawn(gid), "data"))(
            lambda view, sel, th, drawn, gid=gid: redraw_view(services, gid, view, sel, th, drawn))

    exports_buttons = (ids.EXPORT_JSON, ids.EXPORT_CSV, ids.EXPORT_NPZ, ids.EXPORT_HTML)

    @app.callback(Output(ids.DOWNLOAD, "data"), *(Input(b, "n_clicks") for b in exports_buttons),
                  State(ids.VIEW, "data"), State(ids.SELECTION, "data"), State(ids.EDGE_TOP_K, "value"),
                  State(ids.EDGE_THRESHOLD, "value"), State(ids.THEME, "data"), prevent_initial_call=True)
    def _export(*args):
        view, sel, top_k, threshold, th = args[len(exports_buttons):]
        payload = export(services, ctx.triggered_id, view, sel, top_k, threshold, th)
        if payload is None:
            raise dash.exceptions.PreventUpdate
        return payload

    app.callback(*(Output(gid, "config") for gid in GRAPHS), Input(ids.IMAGE_FORMAT, "value"))(
        lambda fmt: [graph_config(name, fmt) for name in GRAPHS.values()])
    app.callback(Output(ids.URL_QUERY, "data"), Input(ids.VIEW, "data"), Input(ids.SELECTION, "data"),
                 State(ids.JOB, "data"))(lambda view, sel, job: url_query(view, job, sel))
    # replaceState, not dcc.Location: a Location change would make the page router re-render the page.
    app.clientside_callback(
        """function(query) {
            if (query === null || query === undefined) { return window.dash_clientside.no_update; }
            const url = window.location.pathname + query;
            if (url !== window.location.pathname + window.location.search) {
                window.history.replaceState(window.history.state, "", url);
            }
            return "";
        }""",
        Output(ids.URL_DUMMY, "children"), Input(ids.URL_QUERY, "data"),
    )
