"""Compare page: the wiring of its callbacks (bodies in page.py)."""

from __future__ import annotations

import dash
from dash import Input, Output, State, no_update

from dashapp import ids
from dashapp.figures.common import graph_config
from dashapp.pages.compare.page import (
    diff_choices,
    layer_range,
    layout,
    poll_compare,
    render_columns,
    render_difference,
    run_compare,
    task_changed,
)
from dashapp.services import Services


def register(app: dash.Dash, services: Services) -> None:
    dash.register_page(
        "dashapp.pages.compare",
        path="/compare",
        name="Compare",
        title="interpboard · compare",
        layout=layout,
        order=1,
    )

    app.callback(
        Output(ids.CMP_MODELS, "options"),
        Output(ids.CMP_MODELS, "value"),
        Output(ids.CMP_PAIR_GROUP, "style"),
        Output(ids.CMP_PAIR_LABEL, "children"),
        Output(ids.CMP_TEXT, "value"),
        Output(ids.CMP_PAIR, "value"),
        Output(ids.CMP_HINT, "children"),
        Output(ids.CMP_RUN, "disabled"),
        Input(ids.CMP_TASK, "value"),
        State(ids.CMP_MODELS, "value"),
        State(ids.CMP_TEXT, "value"),
        State(ids.CMP_PAIR, "value"),
    )(task_changed)

    @app.callback(
        Output(ids.CMP_JOBS, "data"),
        Output(ids.CMP_POLL, "disabled"),
        Output(ids.CMP_ALERT, "children"),
        Output(ids.CMP_AUTORUN, "data"),
        Input(ids.CMP_RUN, "n_clicks"),
        Input(ids.CMP_AUTORUN, "data"),
        State(ids.CMP_TASK, "value"),
        State(ids.CMP_MODELS, "value"),
        State(ids.CMP_TEXT, "value"),
        State(ids.CMP_PAIR, "value"),
    )
    def _run(_n, autorun, task, models, text, pair):
        if dash.ctx.triggered_id != ids.CMP_RUN and not autorun:  # a link runs once, as Analyze links do
            raise dash.exceptions.PreventUpdate
        result = run_compare(services, task, models, text, pair)
        jobs_out, poll = result.get("jobs", no_update), result.get("poll_disabled", no_update)
        return jobs_out, poll, result.get("alert"), False

    @app.callback(
        Output(ids.CMP_JOBS, "data", allow_duplicate=True),
        Output(ids.CMP_POLL, "disabled", allow_duplicate=True),
        Output(ids.CMP_STATUS, "children"),
        Input(ids.CMP_POLL, "n_intervals"),
        State(ids.CMP_JOBS, "data"),
        prevent_initial_call=True,
    )
    def _poll(_n, records):
        result = poll_compare(services, records)
        return result.get("jobs", no_update), result["poll_disabled"], result.get("status", "")

    app.callback(
        Output(ids.CMP_COLUMNS, "children"),
        Input(ids.CMP_JOBS, "data"),
        Input(ids.CMP_LAYER, "value"),
        Input(ids.CMP_METHOD, "value"),
        Input(ids.THEME, "data"),
        Input(ids.CMP_IMAGE_FORMAT, "value"),
    )(lambda records, layer, method, theme, fmt: render_columns(services, records, layer, method, theme, fmt))
    app.callback(
        Output(ids.CMP_LAYER, "max"),
        Output(ids.CMP_LAYER, "value"),
        Input(ids.CMP_JOBS, "data"),
        State(ids.CMP_LAYER, "value"),
        prevent_initial_call=True,
    )(lambda records, layer: layer_range(services, records, layer))
    app.callback(Output(ids.CMP_DIFF, "config"), Input(ids.CMP_IMAGE_FORMAT, "value"))(
        lambda fmt: graph_config("difference", fmt)
    )
    app.callback(
        Output(ids.CMP_DIFF_A, "options"),
        Output(ids.CMP_DIFF_A, "value"),
        Output(ids.CMP_DIFF_B, "options"),
        Output(ids.CMP_DIFF_B, "value"),
        Input(ids.CMP_JOBS, "data"),
        prevent_initial_call=True,
    )(diff_choices)
    app.callback(
        Output(ids.CMP_DIFF, "figure"),
        Input(ids.CMP_JOBS, "data"),
        Input(ids.CMP_DIFF_A, "value"),
        Input(ids.CMP_DIFF_B, "value"),
        Input(ids.CMP_METHOD, "value"),
        Input(ids.THEME, "data"),
        prevent_initial_call=True,
    )(lambda records, a, b, method, theme: render_difference(services, records, a, b, method, theme))
