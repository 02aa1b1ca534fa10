"""The Analyze page's layout: the form on the left, the views (generated from dashapp.views.VIEWS) right."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashapp import ids
from dashapp.figures.common import IMAGE_FORMATS, empty_figure, graph_config
from dashapp.figures.kinds import ENCODER, KIND_LABELS
from dashapp.figures.pairs import PAIR_LABELS
from dashapp.figures.saliency import METHOD_NAMES
from dashapp.pages import components as ui
from dashapp.pages.analyze.selecting import head_options, layer_options
from dashapp.selection import head_value, int_or_none, last, parse_selection, parse_view_options
from dashapp.views import VIEWS, View, always
from interp.schema import SALIENCY_METHODS

ROW = 12  # Bootstrap's columns in a row
GENERATION_FIELDS = ("generate", "sample_seed", "max_new_tokens")  # the request's, in a link


def layout(
    model: str | None = None,
    task: str | None = None,
    text: str | None = None,
    pair: str | None = None,
    target: str | None = None,
    key: str | None = None,
    **query: Any,
) -> html.Div:
    """The page; query parameters (from a shared link) pre-fill the form and run it at once."""
    model, task, text, pair, target, key = map(last, (model, task, text, pair, target, key))
    generation = {name: int_or_none(last(query.get(name))) for name in GENERATION_FIELDS}
    form = {**initial_form(model, task, text, pair, target), **ui.generation_form(generation)}
    if key:
        start = {"key": key}
    elif model and task and text:
        start = {"request": form}
    else:
        start = None
    return page(form, start, parse_selection(query), VIEWS, parse_view_options(query))


def layout_for_key(key: str | None = None, **query: Any) -> html.Div:
    """The permalink page /analysis/<key>: the Analyze page opened on a cached analysis."""
    return layout(key=key or "", **query)


def page(
    form: dict[str, Any],
    start: dict | None,
    selection: dict[str, Any],
    views: Sequence[View],
    link_options: dict[str, Any] | None = None,
) -> html.Div:
    return html.Div(
        [
            dcc.Store(id=ids.AUTORUN, data=start),
            dcc.Store(id=ids.LINK_OPTIONS, data=link_options or {}),
            dcc.Store(id=ids.JOB),
            dcc.Store(id=ids.SHOWN),
            dcc.Store(id=ids.SELECTION, data=selection),
            dcc.Store(id=ids.MASK_MEMO),
            dcc.Store(id=ids.TOKEN_CLICK),
            dcc.Store(id=ids.MASK_CLICK),
            *(dcc.Store(id=ids.view_selection(view.id), data=selection) for view in views),
            dcc.Store(id=ids.URL_QUERY),
            *(dcc.Store(id=ids.drawn(view.id)) for view in views),
            *(dcc.Store(id=ids.hovered(view.id)) for view in views if view.hover_lines),
            *(dcc.Store(id=ids.mark(view.id)) for view in views if view.overlay),
            *(dcc.Store(id=ids.marked(view.id)) for view in views if view.browser_mark or view.overlay),
            html.Div(id=ids.URL_DUMMY, hidden=True),
            dcc.Interval(id=ids.POLL, interval=ui.POLL_MS, disabled=True),
            dcc.Store(id=ids.PART_JOBS, data=[]),
            dcc.Interval(id=ids.PART_POLL, interval=ui.POLL_MS, disabled=True),
            dcc.Download(id=ids.DOWNLOAD),
            dbc.Row(
                [
                    dbc.Col(input_panel(form), lg=3),
                    dbc.Col(views_panel(selection, views), lg=9),
                ]
            ),
        ]
    )


def initial_form(
    model: str | None, task: str | None, text: str | None, pair: str | None, target: str | None
) -> dict[str, Any]:
    """The form a page opens with: what the link names, else the first model on this machine (offline, the
    built-in registry may have only one) with its task's example input (a ready pair for a pair task)."""
    registry, _error = ui.registry_or_none()
    models = list(registry.models) if registry else []
    if model is None and models:
        model = next(iter(ui.available_models()), models[0])
    spec = registry.models.get(model) if registry and model else None
    if task is None and spec is not None:
        task = spec.task
    example_text, example_pair = ui.example_texts(task, text, pair)
    return {
        "model": model,
        "task": task,
        "text": (example_text or "") if text is None else text,
        # a link's own text goes without the example pair: it runs as the link says
        "pair": example_pair if text is None and pair is None and ui.takes_pair(task) else pair,
        "target": target,
    }


def input_panel(form: dict[str, Any]) -> html.Div:
    registry, error = ui.registry_or_none()
    spec = registry.models.get(form["model"]) if registry and form["model"] else None
    return html.Div(
        [
            dbc.Label("Model", html_for=ids.MODEL),
            dcc.Dropdown(id=ids.MODEL, options=ui.model_options(), value=form["model"], clearable=False),
            dbc.Label("Task", html_for=ids.TASK, className="mt-2"),
            dcc.Dropdown(
                id=ids.TASK,
                options=ui.task_options(spec.tasks if spec else ()),
                value=form["task"],
                clearable=False,
            ),
            html.Div(id=ids.MODEL_INFO, className="small text-muted"),
            dbc.Label("Text", html_for=ids.TEXT, className="mt-2"),
            dbc.Textarea(
                id=ids.TEXT,
                value=form["text"],
                rows=3,
                placeholder="Type a sentence; for mlm write [MASK] or click a word",
            ),
            html.Div(
                [
                    dbc.Label(
                        ui.pair_label(form["task"]),
                        id=ids.PAIR_LABEL,
                        html_for=ids.PAIR,
                        className="mt-2",
                    ),
                    dbc.Textarea(id=ids.PAIR, value=form["pair"] or "", rows=2),
                ],
                id=ids.PAIR_GROUP,
                style=ui.pair_style(form["task"]),
            ),
            dbc.Label("Explain target (default: the top prediction)", html_for=ids.TARGET, className="mt-2"),
            dbc.Input(
                id=ids.TARGET,
                value=form["target"] or "",
                list=ids.TARGET_CHOICES,
                placeholder="top prediction",
            ),
            html.Datalist(id=ids.TARGET_CHOICES),
            generation_boxes(form),
            dbc.Switch(
                id=ids.MASK_MODE,
                label="clicking a token masks its word",
                value=False,
                className="mt-2",
                style={} if ui.needs_mask(form["task"]) else ui.HIDDEN,
            ),
            dbc.Button("Run", id=ids.RUN, color="primary", className="mt-2 w-100"),
            html.Div(ui.alert(error) if error else None, id=ids.ALERT),
            ui.progress_block(),
            html.Div(id=ids.BADGE, className="mt-2"),
            share_group(),
            html.Hr(),
            dbc.Label("Export", id=ids.EXPORT_LABEL, className="d-block text-break"),
            dbc.ButtonGroup(
                [
                    dbc.Button(name, id=bid, size="sm", color="secondary", outline=True)
                    for name, bid in (
                        ("JSON", ids.EXPORT_JSON),
                        ("CSV", ids.EXPORT_CSV),
                        ("NPZ", ids.EXPORT_NPZ),
                        ("HTML report", ids.EXPORT_HTML),
                    )
                ],
                className="mb-2",
            ),
            dbc.RadioItems(
                id=ids.IMAGE_FORMAT,
                options=[{"label": f"images as {f.upper()}", "value": f} for f in IMAGE_FORMATS],
                value="png",
                inline=True,
                className="small",
            ),
        ]
    )


def generation_boxes(form: dict[str, Any]) -> html.Div:
    """causal-lm: generate N tokens, greedy or sampled with a seed; seq2seq: at most N without a target."""
    return html.Div(
        [
            dbc.Label(
                ui.generate_label(form["task"]),
                id=ids.GENERATE_LABEL,
                html_for=ids.GENERATE,
                className="mt-2",
            ),
            dbc.Input(
                id=ids.GENERATE,
                type="number",
                min=1,
                max=64,
                step=1,
                value=form.get("generate"),
                placeholder="none",
            ),
            html.Div(
                [
                    dbc.Label("Sampling seed (blank: greedy)", html_for=ids.SEED, className="mt-2"),
                    dbc.Input(
                        id=ids.SEED,
                        type="number",
                        min=0,
                        step=1,
                        value=form.get("seed"),
                        placeholder="greedy",
                    ),
                ],
                id=ids.SEED_GROUP,
                style=ui.seed_style(form["task"]),
            ),
        ],
        id=ids.GENERATE_GROUP,
        style=ui.generate_style(form["task"]),
    )


def share_group() -> html.Div:
    """One link to the analysis on show as it is viewed (layer, head, token, method, edges, theme)."""
    return html.Div(
        [
            dcc.Clipboard(
                id=ids.COPY_LINK,
                children=dbc.Button("copy link", size="sm", color="secondary", outline=True),
                copied_children=dbc.Button("link copied", size="sm", color="success", outline=True),
                title="copy a link to this analysis, as it is viewed now",
                className="d-inline-block me-2",
            ),
            html.A("link to this view", id=ids.SHARE_LINK, className="small"),
        ],
        id=ids.SHARE_GROUP,
        style=ui.HIDDEN,
        className="mt-1",
    )


def views_panel(selection: dict[str, Any], views: Sequence[View]) -> html.Div:
    controls = dbc.Row(
        [
            # Until an analysis says how many there are, the choices reach just the selected layer and head.
            dbc.Col(
                [
                    dbc.Label("Layer"),
                    dcc.Dropdown(
                        id=ids.LAYER,
                        options=layer_options(selection["layer"] + 1),
                        value=selection["layer"],
                        clearable=False,
                    ),
                ],
                md=3,
            ),
            dbc.Col(
                [
                    dbc.Label("Head"),
                    dcc.Dropdown(
                        id=ids.HEAD,
                        options=head_options((selection["head"] or 0) + 1),
                        value=head_value(selection["head"]),
                        clearable=False,
                    ),
                ],
                md=4,
            ),
            dbc.Col(
                [
                    dbc.Label("Saliency method"),
                    dcc.Dropdown(
                        id=ids.METHOD,
                        options=[{"label": METHOD_NAMES[m], "value": m} for m in SALIENCY_METHODS],
                        value=selection["method"],
                        clearable=False,
                    ),
                ],
                md=5,
            ),
        ],
        className="mb-2",
    )
    return html.Div(
        [controls, view_filters(selection), html.Div(id=ids.SHOWING), *view_cards(views)], id=ids.VIEWS
    )


def view_filters(selection: dict[str, Any]) -> dbc.Row:
    """The attention kind (seq2seq), the sentence-pair filter (two sentences), and the layers and heads the
    overview and head view include. The first two show only for analyses they apply to."""
    few = {"layers": selection["layers"], "heads": selection["heads"]}
    return dbc.Row(
        [
            dbc.Col(
                [
                    dbc.Label("Attention", className="small mb-0 d-block"),
                    dbc.RadioItems(
                        id=ids.KIND,
                        options=[{"label": label, "value": kind} for kind, label in KIND_LABELS.items()],
                        value=selection["kind"] or ENCODER,
                        inline=True,
                        className="small",
                    ),
                ],
                id=ids.KIND_GROUP,
                md=12,
                style=ui.HIDDEN,
            ),
            dbc.Col(
                [
                    html.Span(
                        "Sentences A / B (query → key)",
                        title="A: the text (or prompt), B: the second text (or the generated tokens)",
                        className="small mb-0 d-block",
                    ),
                    dbc.RadioItems(
                        id=ids.PAIR_FILTER,
                        options=[{"label": label, "value": value} for value, label in PAIR_LABELS.items()],
                        value="all",
                        inline=True,
                        className="small",
                    ),
                ],
                id=ids.PAIR_FILTER_GROUP,
                md=6,
                style=ui.HIDDEN,
            ),
            *(
                dbc.Col(
                    [
                        dbc.Label(label, html_for=component_id, className="small mb-0"),
                        dcc.Dropdown(
                            id=component_id,
                            options=[{"label": f"{prefix}{n}", "value": n} for n in few[name] or []],
                            value=few[name] or [],
                            multi=True,
                            placeholder="all",
                        ),
                    ],
                    md=3,
                )
                for name, component_id, label, prefix in (
                    ("layers", ids.INCLUDE_LAYERS, "Overview: only layers", "L"),
                    ("heads", ids.INCLUDE_HEADS, "Overview, head view: only heads", "h"),
                )
            ),
        ],
        className="mb-2",
    )


def view_cards(views: Sequence[View]) -> list[Any]:
    """The views' cards in order, side by side while their widths fill a row; full-width ones stand alone."""
    out: list[Any] = []
    row: list[dbc.Col] = []
    used = 0
    for view in views:
        if row and (view.width >= ROW or used + view.width > ROW):
            out.append(dbc.Row(row))
            row, used = [], 0
        style = None if view.applies is always else ui.HIDDEN  # until an analysis says it applies
        if view.width >= ROW:
            out.append(html.Div(view_card(view), id=ids.card(view.id), style=style))
        else:
            row.append(dbc.Col(view_card(view), lg=view.width, id=ids.card(view.id), style=style))
            used += view.width
    if row:
        out.append(dbc.Row(row))
    return out


def view_card(view: View) -> dbc.Card:
    if view.graph:
        body: Any = dcc.Graph(
            id=view.id,
            config=graph_config(view.file_name),
            figure=empty_figure("run an analysis"),
            clear_on_unhover=view.hover_lines,  # the lines of a token light up while it is hovered
        )
    else:
        body = html.Div(id=view.id)
    if view.hover_preview:
        hovered = dcc.Graph(
            id=ids.preview(view.id),
            config=graph_config(f"{view.file_name}-preview"),
            figure=empty_figure("hover a cell for a larger view"),
        )
        body = dbc.Row([dbc.Col(body, lg=7), dbc.Col(hovered, lg=5)])
    return ui.card(view.title, [view.controls(), body] if view.controls else body)
