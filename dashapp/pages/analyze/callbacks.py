"""Wiring the Analyze page's plain functions to one app; the views' callbacks are generated from VIEWS."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, ctx, no_update

from dashapp import ids, jobs, redraw
from dashapp.figures.common import graph_config
from dashapp.figures.heatmap import zoom_range
from dashapp.pages import components as ui
from dashapp.pages.analyze import drawing, parts, run, selecting, showing
from dashapp.pages.analyze.layout import layout
from dashapp.services import Services
from dashapp.views import VIEWS, View, always

START_OUTPUTS = ("job", "shown", "poll_disabled", "alert", "progress_style", "memo", "autorun")
FORM_FIELDS = ("model", "task", "text", "pair", "target", "generate", "seed")
POLL_OUTPUTS = (
    "shown",
    "poll_disabled",
    "alert",
    "progress_style",
    "progress",
    "progress_label",
    "progress_text",
)
PART_VIEWS = ("sensitivity", "saliency")  # views with a part bar (dashapp.views.part_bar)
# What a part bar's clicks and its poll change (allow_duplicate: the page's other callbacks write them too).
PART_OUTPUTS = ("asked", "poll_disabled", "shown", "alert")
PART_TARGETS = (
    (ids.PART_JOBS, "data"),
    (ids.PART_POLL, "disabled"),
    (ids.SHOWN, "data"),
    (ids.ALERT, "children"),
)
EXPORT_BUTTONS = (ids.EXPORT_JSON, ids.EXPORT_CSV, ids.EXPORT_NPZ, ids.EXPORT_HTML)
# The form's components, by field name.
FORM_IDS = {
    "model": ids.MODEL,
    "task": ids.TASK,
    "text": ids.TEXT,
    "pair": ids.PAIR,
    "target": ids.TARGET,
    "generate": ids.GENERATE,
    "seed": ids.SEED,
}
# replaceState, not dcc.Location: a Location change would make the page router re-render the page.
REPLACE_URL = """function(query) {
    if (query === null || query === undefined) { return window.dash_clientside.no_update; }
    const url = window.location.pathname + query;
    if (url !== window.location.pathname + window.location.search) {
        window.history.replaceState(window.history.state, "", url);
    }
    return "";
}"""


def _pick(result: dict[str, Any], names: tuple[str, ...]) -> list[Any]:
    return [result.get(name, no_update) for name in names]


def register(app: dash.Dash, services: Services) -> None:
    """The page at "/" (its layout shows VIEWS) and its callbacks."""
    dash.register_page(
        __package__, path="/", name="Analyze", title="interpboard · analyze", layout=layout, order=0
    )
    wire(app, services, VIEWS)


def wire(app: dash.Dash, services: Services, views: Sequence[View]) -> None:
    """Every callback of the page, for the views `views` (the page's layout must hold the same)."""
    wire_form(app, services)
    wire_job(app, services)
    wire_links(app, views)
    wire_applies(app, services, views)
    wire_showing(app)
    wire_selection(app, views)
    wire_passing_on(app, views)
    for view in views:
        wire_view(app, services, view)
    wire_exports(app, services, views)
    wire_parts(app, services, [view.name for view in views if view.name in PART_VIEWS])


def wire_parts(app: dash.Dash, services: Services, names: list[str]) -> None:
    """The part bars above the views drawn from parts: state and estimate, the buttons (compute, cancel),
    following the jobs."""
    if not names:
        return
    app.callback(
        *(
            Output(component, prop)
            for name in names
            for component, prop in (
                (ids.part_note(name), "children"),
                (ids.part_button(name), "children"),
                (ids.part_button(name), "style"),
                (ids.part_cancel(name), "style"),
            )
        ),
        Input(ids.SHOWN, "data"),
        Input(ids.SELECTION, "data"),
        Input(ids.PART_JOBS, "data"),
    )(lambda shown, sel, asked: parts.notes(services, shown, sel, asked, names))

    actions = {ids.PART_BUTTON: parts.ask, ids.PART_CANCEL: parts.cancel}

    outputs = [Output(component, prop, allow_duplicate=True) for component, prop in PART_TARGETS]

    @app.callback(
        *outputs,
        *(Input(button(name), "n_clicks") for button in (ids.part_button, ids.part_cancel) for name in names),
        State(ids.SHOWN, "data"),
        State(ids.SELECTION, "data"),
        State(ids.PART_JOBS, "data"),
        prevent_initial_call=True,
    )
    def _clicked(*args):
        *clicks, shown, sel, asked = args
        trigger = ctx.triggered_id
        if not isinstance(trigger, str) or not any(clicks):
            raise dash.exceptions.PreventUpdate
        [(prefix, act)] = [(p, act) for p, act in actions.items() if trigger.startswith(p)]
        return _pick(act(services, trigger.removeprefix(prefix), shown, sel, asked), PART_OUTPUTS)

    app.callback(
        *outputs[:2],
        Input(ids.SHOWN, "data"),
        Input(ids.SELECTION, "data"),
        State(ids.PART_JOBS, "data"),
        prevent_initial_call=True,
    )(lambda shown, sel, asked: _pick(parts.adopt(services, shown, sel, asked, names), PART_OUTPUTS[:2]))
    app.callback(
        *outputs,
        Input(ids.PART_POLL, "n_intervals"),
        State(ids.PART_JOBS, "data"),
        State(ids.SHOWN, "data"),
        prevent_initial_call=True,
    )(lambda _n, asked, shown: _pick(parts.poll(services, asked, shown), PART_OUTPUTS))


def wire_form(app: dash.Dash, services: Services) -> None:
    app.callback(
        Output(ids.TASK, "options"),
        Output(ids.TASK, "value"),
        Output(ids.MODEL_INFO, "children"),
        Input(ids.MODEL, "value"),
        State(ids.TASK, "value"),
    )(run.model_changed)
    app.callback(
        Output(ids.PAIR_GROUP, "style"),
        Output(ids.PAIR_LABEL, "children"),
        Output(ids.MASK_MODE, "style"),
        Output(ids.TEXT, "value", allow_duplicate=True),
        Output(ids.PAIR, "value", allow_duplicate=True),
        Output(ids.GENERATE_GROUP, "style"),
        Output(ids.GENERATE_LABEL, "children"),
        Output(ids.SEED_GROUP, "style"),
        Input(ids.TASK, "value"),
        State(ids.TEXT, "value"),
        State(ids.PAIR, "value"),
        prevent_initial_call=True,  # the layout opens with the task's boxes and example
    )(run.task_changed)

    @app.callback(
        Output(ids.JOB, "data"),
        Output(ids.SHOWN, "data"),
        Output(ids.POLL, "disabled"),
        Output(ids.ALERT, "children"),
        Output(ids.PROGRESS_GROUP, "style"),
        Output(ids.MASK_MEMO, "data"),
        Output(ids.AUTORUN, "data"),
        Output(ids.SELECTION, "data", allow_duplicate=True),
        *(Output(FORM_IDS[f], "value") for f in FORM_FIELDS),
        Input(ids.RUN, "n_clicks"),
        Input(ids.AUTORUN, "data"),
        Input(ids.MASK_CLICK, "data"),
        *(State(FORM_IDS[f], "value") for f in FORM_FIELDS),
        State(ids.MASK_MODE, "value"),
        State(ids.SHOWN, "data"),
        State(ids.MASK_MEMO, "data"),
        State(ids.JOB, "data"),
        State(ids.SELECTION, "data"),
        prevent_initial_call="initial_duplicate",  # a link's autorun starts on load
    )
    def _start(_run, autorun, mask_click, *rest):
        form = dict(zip(FORM_FIELDS, rest[: len(FORM_FIELDS)], strict=True))
        mask_mode, shown, memo, job, sel = rest[len(FORM_FIELDS) :]
        trigger, clicks = ctx.triggered_id, None
        if trigger is None:
            if not autorun:
                raise dash.exceptions.PreventUpdate
            trigger = ids.AUTORUN
        if trigger == ids.MASK_CLICK:  # as run.start takes it: the button, the clicks up to it
            if not mask_click:
                raise dash.exceptions.PreventUpdate
            trigger = ids.token_button(mask_click["index"])
            clicks = [0] * mask_click["index"] + [mask_click["n"]]
        previous = (job or {}).get("request")
        result = run.start(
            services, trigger, autorun, form, clicks, bool(mask_mode), shown, memo, previous, sel
        )
        if not result:
            raise dash.exceptions.PreventUpdate
        filled = result.get("form", {})
        return (
            *_pick(result, START_OUTPUTS),
            {**(sel or {}), "token": result["token"]} if "token" in result else no_update,
            *(filled.get(f, no_update) for f in FORM_FIELDS),
        )


def wire_showing(app: dash.Dash) -> None:
    """What the views show, above them and on the export buttons; stale as soon as the form differs."""
    app.callback(
        Output(ids.SHOWING, "children"),
        Output(ids.VIEWS, "className"),
        Output(ids.EXPORT_LABEL, "children"),
        Input(ids.SHOWN, "data"),
        Input(ids.JOB, "data"),
        *(Input(FORM_IDS[f], "value") for f in FORM_FIELDS),
    )(lambda shown, job, *values: showing.showing(shown, job, dict(zip(FORM_FIELDS, values, strict=True))))


def wire_job(app: dash.Dash, services: Services) -> None:
    """Following the job, and what the page shows once an analysis is on show."""
    app.callback(
        Output(ids.SHOWN, "data", allow_duplicate=True),
        Output(ids.POLL, "disabled", allow_duplicate=True),
        Output(ids.ALERT, "children", allow_duplicate=True),
        Output(ids.PROGRESS_GROUP, "style", allow_duplicate=True),
        Output(ids.PROGRESS, "value"),
        Output(ids.PROGRESS, "label"),
        Output(ids.PROGRESS_TEXT, "children"),
        Input(ids.POLL, "n_intervals"),
        State(ids.JOB, "data"),
        State(ids.SHOWN, "data"),
        prevent_initial_call=True,
    )(lambda _n, job, shown: _pick(run.poll(services, job, shown), POLL_OUTPUTS))
    app.callback(
        Output(ids.PROGRESS_TEXT, "children", allow_duplicate=True),
        Input(ids.CANCEL, "n_clicks"),
        State(ids.JOB, "data"),
        prevent_initial_call=True,
    )(lambda _n, job: jobs.cancel(services, job))
    app.callback(Output(ids.BADGE, "children"), Input(ids.SHOWN, "data"), State(ids.JOB, "data"))(
        lambda shown, job: run.badge(services, shown, job)
    )
    app.callback(
        Output(ids.LAYER, "options"),
        Output(ids.HEAD, "options"),
        Output(ids.LAYER, "value", allow_duplicate=True),
        Output(ids.HEAD, "value", allow_duplicate=True),
        Output(ids.INCLUDE_LAYERS, "options"),
        Output(ids.INCLUDE_HEADS, "options"),
        Input(ids.SHOWN, "data"),
        State(ids.SELECTION, "data"),
        prevent_initial_call=True,
    )(lambda shown, sel: selecting.dimension_options(services, shown, sel))
    app.callback(
        Output(ids.METHOD, "options"),
        Output(ids.METHOD, "value", allow_duplicate=True),
        Output(ids.SELECTION, "data", allow_duplicate=True),
        Input(ids.SHOWN, "data"),
        State(ids.SELECTION, "data"),
        prevent_initial_call=True,
    )(lambda shown, sel: selecting.method_options(services, shown, sel))
    app.callback(Output(ids.TARGET_CHOICES, "children"), Input(ids.SHOWN, "data"))(
        lambda shown: drawing.target_choices(services, shown)
    )


def wire_applies(app: dash.Dash, services: Services, views: Sequence[View]) -> None:
    """The cards of views that do not apply to the analysis on show are hidden (View.applies), and so are the
    attention kind (one kind) and the sentence-pair filter (one sentence)."""
    judged = [view for view in views if view.applies is not always]
    app.callback(
        *(Output(ids.card(view.id), "style") for view in judged),
        Output(ids.KIND_GROUP, "style"),
        Output(ids.PAIR_FILTER_GROUP, "style"),
        Input(ids.SHOWN, "data"),
    )(lambda shown: drawing.visibility(services, shown, judged))


def wire_links(app: dash.Dash, views: Sequence[View]) -> None:
    """The address bar and the "copy link" follow the view (selection, the views' options, theme); a link's
    options and theme are applied once, when the page opens."""
    options = view_options(views)

    @app.callback(
        Output(ids.URL_QUERY, "data"),
        Output(ids.SHARE_LINK, "href"),
        Output(ids.SHARE_GROUP, "style"),
        Input(ids.SHOWN, "data"),
        Input(ids.SELECTION, "data"),
        Input(ids.THEME, "data"),
        *(Input(component_id, "value") for component_id in options.values()),
        State(ids.JOB, "data"),
    )
    def _links(shown, sel, theme, *rest):
        *values, job = rest
        named = {**dict(zip(options, values, strict=True)), "theme": theme}
        link = selecting.share_link(shown, sel, named)
        return selecting.url_query(shown, job, sel, named), link, {} if link else ui.HIDDEN

    app.clientside_callback(REPLACE_URL, Output(ids.URL_DUMMY, "children"), Input(ids.URL_QUERY, "data"))
    app.clientside_callback(
        "function(_n, href) { return href ? new URL(href, window.location.href).href : ''; }",
        Output(ids.COPY_LINK, "content"),
        Input(ids.COPY_LINK, "n_clicks"),
        State(ids.SHARE_LINK, "href"),
        prevent_initial_call=True,
    )

    @app.callback(
        *(Output(component_id, "value", allow_duplicate=True) for component_id in options.values()),
        Output(ids.THEME, "data", allow_duplicate=True),
        Input(ids.LINK_OPTIONS, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def _apply_link(named):
        named = named or {}
        if not named:
            raise dash.exceptions.PreventUpdate
        return [named.get(name, no_update) for name in (*options, "theme")]


def view_options(views: Sequence[View]) -> dict[str, str]:
    """{option name: its component id} of every view's controls (the names a link uses)."""
    return {option.name: option.component_id for view in views for option in view.options}


def wire_selection(app: dash.Dash, views: Sequence[View]) -> None:
    """The controls, the token buttons and a click on any clickable view change the one selection. A token
    button selects its token in the browser (assets/token_strip.js): no round trip before the views redraw."""
    clickable = [view.id for view in views if view.on_click]

    controls = (ids.LAYER, ids.HEAD, ids.METHOD, ids.KIND, ids.INCLUDE_LAYERS, ids.INCLUDE_HEADS)

    app.clientside_callback(
        ClientsideFunction("interpboard", "selectToken"),
        Output(ids.SELECTION, "data", allow_duplicate=True),
        Output(ids.MASK_CLICK, "data"),
        Input(ids.TOKEN_CLICK, "data"),
        State(ids.SELECTION, "data"),
        State(ids.MASK_MODE, "value"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids.SELECTION, "data"),
        *(Output(control, "value") for control in controls),
        *(Input(control, "value") for control in controls),
        *(Input(view_id, "clickData") for view_id in clickable),
        State(ids.SELECTION, "data"),
        prevent_initial_call=True,
    )
    def _select(*args):
        values, (*click_data, selection) = args[: len(controls)], args[len(controls) :]
        trigger = ctx.triggered_id
        value = {
            **dict(zip(controls, values, strict=True)),
            **dict(zip(clickable, click_data, strict=True)),
        }.get(trigger)
        sel = selecting.update_selection(selection, trigger, value, views)
        if sel == selection:
            raise dash.exceptions.PreventUpdate
        return sel, *selecting.control_values(sel)


def wire_passing_on(app: dash.Dash, views: Sequence[View]) -> None:
    """Each view's own selection, passed on in the browser only when a field the view shows changes (the view
    draws from the whole selection, its State). One callback for all: each callback's answer is a pass of
    Dash's renderer over every component (~100 ms at 512 tokens)."""
    shows = [[*view.depends_on, *(view.marks if view.overlay else ())] for view in views]
    app.clientside_callback(
        "function (selection, ...before) { return window.dash_clientside.interpboard.passOn(selection, before, "
        + json.dumps(shows)
        + "); }",
        *(Output(ids.view_selection(view.id), "data") for view in views),
        Input(ids.SELECTION, "data"),
        *(State(ids.view_selection(view.id), "data") for view in views),
        prevent_initial_call=True,  # the layout's stores start with the layout's selection
    )


def wire_view(app: dash.Dash, services: Services, view: View) -> None:
    """The view follows the whole selection (and its own controls); redraw_view sends only what changed. A
    view with an overlay sends its token mark to a store beside it, which the browser draws (assets/marks.js)."""
    prop = "figure" if view.graph else "children"
    names = [option.name for option in view.options]

    zoom = [Input(view.id, "relayoutData")] if view.zoomable else []

    def _redraw(shown, _passed_on, theme, *rest):
        *values, drawn, selection = rest
        options = dict(zip(names, values[: len(names)], strict=True))
        if view.zoomable:  # the zoomed ranges only: a pan or an autosize of the same range draws nothing new
            options["zoom"] = zoom_range(values[-1])
        out, signature = drawing.redraw_view(services, view, shown, selection, theme, drawn, **options)
        if view.overlay is None:
            return out, signature
        if isinstance(out, redraw.Mark):
            return no_update, signature, out.shapes
        return out, signature, no_update

    if view.hover_preview:
        app.callback(
            Output(ids.preview(view.id), "figure"),
            Input(view.id, "hoverData"),
            Input(ids.THEME, "data"),
            State(ids.SHOWN, "data"),
            State(ids.SELECTION, "data"),
        )(lambda hover, theme, shown, sel: drawing.hover_preview(services, view, shown, hover, theme, sel))
    if view.hover_lines:  # in the browser, no server round trip: instant at any length
        app.clientside_callback(
            ClientsideFunction("interpboard", "hoverLines"),
            Output(ids.hovered(view.id), "data"),
            Input(view.id, "hoverData"),
            State(view.id, "id"),
        )
    if view.browser_mark:
        app.clientside_callback(
            ClientsideFunction("interpboard", view.browser_mark),
            Output(ids.marked(view.id), "data"),
            Input(ids.SELECTION, "data"),
            State(view.id, "id"),
        )
    mark = []
    if view.overlay:
        mark = [Output(ids.mark(view.id), "data")]
        app.clientside_callback(
            ClientsideFunction("interpboard", "moveMark"),
            Output(ids.marked(view.id), "data"),
            Input(ids.mark(view.id), "data"),
            State(view.id, "id"),
            prevent_initial_call=True,
        )
    app.callback(
        Output(view.id, prop),
        Output(ids.drawn(view.id), "data"),
        *mark,
        Input(ids.SHOWN, "data"),
        Input(ids.view_selection(view.id), "data"),
        Input(ids.THEME, "data"),
        *(Input(option.component_id, "value") for option in view.options),
        *zoom,
        State(ids.drawn(view.id), "data"),
        State(ids.SELECTION, "data"),  # the whole of it: a new analysis draws with the token selected now
    )(_redraw)


def wire_exports(app: dash.Dash, services: Services, views: Sequence[View]) -> None:
    """The download buttons, and the image format of every graph's camera button."""
    controls = list(dict.fromkeys(option.component_id for view in views for option in view.options))

    @app.callback(
        Output(ids.DOWNLOAD, "data"),
        *(Input(b, "n_clicks") for b in EXPORT_BUTTONS),
        State(ids.SHOWN, "data"),
        State(ids.SELECTION, "data"),
        State(ids.THEME, "data"),
        *(State(c, "value") for c in controls),
        prevent_initial_call=True,
    )
    def _export(*args):
        shown, sel, theme, *values = args[len(EXPORT_BUTTONS) :]
        payload = drawing.export(
            services, ctx.triggered_id, shown, sel, theme, dict(zip(controls, values, strict=True)), views
        )
        if payload is None:
            raise dash.exceptions.PreventUpdate
        return payload

    graphs = [view for view in views if view.graph]

    @app.callback(
        *(Output(view.id, "config") for view in graphs),
        Input(ids.IMAGE_FORMAT, "value"),
        Input(ids.SHOWN, "data"),
        State(ids.JOB, "data"),
    )
    def _image_names(fmt, shown, job):
        request = showing.shown_request(shown, job)
        what = showing.file_stem(request, shown["key"]).removeprefix("interpboard-") if request else ""
        return [graph_config("-".join(filter(None, (view.file_name, what))), fmt) for view in graphs]
