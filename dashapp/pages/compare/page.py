"""Compare page: its layout and callback bodies (plain functions tests call directly)."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html, no_update

from dashapp import ids, jobs
from dashapp.figures.common import IMAGE_FORMATS, empty_figure, graph_config
from dashapp.figures.difference import difference_figure
from dashapp.figures.predictions import predictions_figure
from dashapp.figures.saliency import METHOD_NAMES
from dashapp.figures.words import word_attention_figure, word_saliency_figure
from dashapp.pages import components as ui
from dashapp.pages.compare.words import all_finished, poll_word_jobs, same_words, with_word_jobs
from dashapp.selection import DEFAULT_METHOD, last
from dashapp.services import Services
from interp.schema import SALIENCY_METHODS, TASKS, AnalysisRequest, InputError
from interp.task_specs import TASK_SPECS

MIN_MODELS, MAX_MODELS = 2, 4


def default_task(task: str | None) -> str:
    """The link's task, else the first with two models on this machine, else the first model's here."""
    if task in TASKS:
        return task
    usable = {t: len(ui.available_models(t)) for t in TASKS}
    first = next((t for t in TASKS if usable[t] >= MIN_MODELS), None)
    if first is None:
        registry, _error = ui.registry_or_none()
        here = ui.available_models()
        first = registry.models[here[0]].task if registry and here else TASKS[0]
    return first


def layout(
    task: str | None = None,
    models: str | None = None,
    text: str | None = None,
    pair: str | None = None,
    **_query: Any,
) -> html.Div:
    """The page; a link may pre-fill it and then runs it: /compare?task=mlm&models=a,b&text=…"""
    task, models, text, pair = map(last, (task, models, text, pair))
    autorun = bool(models and text)
    task = default_task(task)
    spec = TASK_SPECS[task]
    text = spec.example_text if text is None else text
    pair = (spec.example_pair or "") if pair is None else pair
    return html.Div(
        [
            dcc.Store(id=ids.CMP_JOBS),
            dcc.Store(id=ids.CMP_AUTORUN, data=autorun),
            dcc.Interval(id=ids.CMP_POLL, interval=ui.POLL_MS, disabled=True),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label("Task"),
                            dcc.Dropdown(
                                id=ids.CMP_TASK, options=ui.task_options(TASKS), value=task, clearable=False
                            ),
                        ],
                        md=3,
                    ),
                    dbc.Col(
                        [
                            dbc.Label(f"Models ({MIN_MODELS}–{MAX_MODELS})"),
                            dcc.Dropdown(
                                id=ids.CMP_MODELS, multi=True, value=models.split(",") if models else None
                            ),
                        ],
                        md=9,
                    ),
                ]
            ),
            html.Div(id=ids.CMP_HINT),
            dbc.Label("Text", className="mt-2"),
            dbc.Textarea(id=ids.CMP_TEXT, value=text, rows=2),
            html.Div(
                [
                    dbc.Label(ui.pair_label(task), id=ids.CMP_PAIR_LABEL, className="mt-2"),
                    dbc.Textarea(id=ids.CMP_PAIR, value=pair, rows=2),
                ],
                id=ids.CMP_PAIR_GROUP,
                style=ui.pair_style(task),
            ),
            dbc.Button("Compare", id=ids.CMP_RUN, color="primary", className="mt-2"),
            html.Div(id=ids.CMP_ALERT),
            html.Div(id=ids.CMP_STATUS, className="small text-muted mt-1"),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label("Layer (clipped to each model's depth)"),
                            dcc.Slider(id=ids.CMP_LAYER, min=0, max=11, step=1, value=0),
                        ],
                        md=4,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("Saliency method"),
                            dcc.Dropdown(
                                id=ids.CMP_METHOD,
                                options=[{"label": METHOD_NAMES[m], "value": m} for m in SALIENCY_METHODS],
                                value=DEFAULT_METHOD,
                                clearable=False,
                            ),
                        ],
                        md=3,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("Images"),
                            dbc.RadioItems(
                                id=ids.CMP_IMAGE_FORMAT,
                                options=[{"label": f.upper(), "value": f} for f in IMAGE_FORMATS],
                                value="png",
                                inline=True,
                            ),
                        ],
                        md=2,
                    ),
                ],
                className="mt-3",
            ),
            dbc.Row(id=ids.CMP_COLUMNS, className="mt-2"),
            ui.card(
                "Difference",
                [
                    dbc.Row(
                        [
                            dbc.Col(dcc.Dropdown(id=ids.CMP_DIFF_A, placeholder="model A"), md=3),
                            dbc.Col(dcc.Dropdown(id=ids.CMP_DIFF_B, placeholder="model B"), md=3),
                        ],
                        className="mb-2",
                    ),
                    dcc.Graph(
                        id=ids.CMP_DIFF,
                        figure=empty_figure("compare two models first"),
                        config=graph_config("difference"),
                    ),
                ],
            ),
        ]
    )


def task_changed(
    task: str | None, chosen: list[str] | None, text: str | None = None, pair: str | None = None
) -> tuple:
    """Models serving the task (keeps chosen ones that still fit, else the first two available), the pair box
    and its name, the task's example where the form holds none of the user's, and what to do when fewer than
    two models of the task are on this machine."""
    options = ui.model_options(task)
    usable = ui.available_models(task)
    kept = [m for m in (chosen or []) if m in usable]
    new_text, new_pair = ui.example_texts(task, text, pair)
    return (
        options,
        kept if len(kept) >= MIN_MODELS else usable[:MIN_MODELS],
        ui.pair_style(task),
        ui.pair_label(task),
        no_update if new_text is None else new_text,
        no_update if new_pair is None else new_pair,
        too_few_hint(task, usable),
        len(usable) < MIN_MODELS,
    )


def too_few_hint(task: str | None, usable: list[str]) -> Any:
    """Nothing when two models of the task are here; else what there is and what to do."""
    if len(usable) >= MIN_MODELS or task not in TASK_SPECS:
        return None
    here = f"only {usable[0]} is" if usable else "none is"
    others = [t for t in TASKS if t != task and len(ui.available_models(t)) >= MIN_MODELS]
    message = (
        f"Compare needs two models that serve {TASK_SPECS[task].label}; {here} on this machine. "
        + (f"Pick a task that has two here ({', '.join(others)}), or make" if others else "Make")
        + " a second model available: run once with the Hugging Face Hub reachable (a model downloads "
        "on first use; `interpboard models` lists what is here), or name local copies in a registry "
        "file "
        "($INTERPBOARD_MODELS; README, Models)."
    )
    return dbc.Alert(message, color="warning", className="mt-2 mb-0")


def run_compare(
    services: Services, task: str | None, models: list[str] | None, text: str | None, pair: str | None
) -> dict[str, Any]:
    """Submit one request per model; a model whose request fails gets its error in its column."""
    models = list(dict.fromkeys(models or []))
    if not MIN_MODELS <= len(models) <= MAX_MODELS:
        return {"alert": ui.alert(f"pick {MIN_MODELS} to {MAX_MODELS} models")}
    try:  # the input's problems are the same for every model: one message
        requests = [
            AnalysisRequest(
                model=model, task=task, text=text or "", pair=(pair or None) if ui.takes_pair(task) else None
            )
            for model in models
        ]
    except InputError as exc:
        return {"alert": ui.alert(str(exc))}
    records = []
    for request in requests:
        started = jobs.submit(services, request)
        if started.failure:  # the job layer failed: a readable message, never a traceback
            return {"alert": ui.alert(f"could not start the comparison: {started.failure}")}
        # a model that cannot take the input shows why in its column
        record = started.record or {
            "key": None,
            "job_id": None,
            "state": jobs.ERROR,
            "stage": None,
            "error": started.problem,
        }
        records.append({"model": request.model, **record})
    records = with_word_jobs(services, records)  # all cached: the same words are scored (or found) at once
    return {"jobs": records, "poll_disabled": all_finished(records), "alert": None}


def poll_compare(services: Services, records: list[dict] | None) -> dict[str, Any]:
    """Advance each column's job; the jobs store changes only when a state or stage does."""
    if not records:
        return {"poll_disabled": True}
    updated, lines = [], []
    for record in records:
        record, report = jobs.updated_record(services, record)
        if report is not None and not report.finished:
            lines.append(f"{record['model']}: {report.text} ({report.percent} %)")
        updated.append(record)
    updated = with_word_jobs(services, poll_word_jobs(services, updated))
    if any(not jobs.finished(r.get("words") or {"state": jobs.DONE}) for r in updated):
        lines.append("scoring every model on the same words…")
    changed = updated != records
    return {
        "jobs": updated if changed else no_update,
        "poll_disabled": all_finished(updated),
        "status": " · ".join(lines),
    }


def column(
    services: Services, job: dict[str, Any], layer: int, method: str, theme: str | None, fmt: str
) -> dbc.Col:
    model = job["model"]
    analysis = services.analysis(job.get("key")) if job["state"] != jobs.ERROR else None
    body: list[Any]
    if job["state"] in (jobs.ERROR, jobs.CANCELLED):
        body = [ui.alert(job.get("error") or f"the job was {job['state']}")]
    elif analysis is None:
        body = [html.Div(f"{job['state']}: {job.get('stage') or 'waiting'}…", className="text-muted")]
    else:
        notice = ui.truncation_notice(
            analysis.truncated, analysis.n_tokens, analysis.tokens_before_truncation
        )
        body = [html.Div(notice, className="mb-1")] if notice else []
        body += [
            dcc.Graph(figure=figure, config=graph_config(f"{model}-{name}", fmt))
            for name, figure in (
                ("predictions", predictions_figure(analysis, theme)),
                ("saliency", word_saliency_figure(analysis, method, theme)),
                ("attention", word_attention_figure(analysis, layer, theme)),
            )
        ]
    return dbc.Col(ui.card(model, body), className="compare-column")


def render_columns(
    services: Services,
    records: list[dict] | None,
    layer: int | None,
    method: str | None,
    theme: str | None,
    fmt: str | None,
) -> list:
    return [
        column(services, job, int(layer or 0), method or DEFAULT_METHOD, theme, fmt or "png")
        for job in records or []
    ]


def layer_range(services: Services, records: list[dict] | None, layer: int | None) -> tuple[Any, Any]:
    """The layer slider reaches the deepest model on show (and the chosen layer stays on it)."""
    depths = [
        a.num_layers
        for j in records or []
        if j.get("key")
        and j["state"] != jobs.ERROR
        and (a := services.analysis(j["key"])) is not None
        and a.attention is not None
    ]
    if not depths:
        return no_update, no_update
    top = max(depths) - 1
    return top, min(int(layer or 0), top)


def diff_choices(records: list[dict] | None) -> tuple[list, str | None, list, str | None]:
    """Options and defaults of the two difference pickers: the first two models."""
    models = [j["model"] for j in records or []]
    return models, models[0] if models else None, models, models[1] if len(models) > 1 else None


def render_difference(
    services: Services,
    records: list[dict] | None,
    a: str | None,
    b: str | None,
    method: str | None,
    theme: str | None,
):
    by_model = {j["model"]: j for j in records or []}
    if not a or not b or a == b:
        return empty_figure("choose two different models", theme)
    if a not in by_model or b not in by_model:
        return empty_figure("waiting for both models…", theme)
    first, second = services.analysis(by_model[a].get("key")), services.analysis(by_model[b].get("key"))
    if first is None or second is None:
        return empty_figure("waiting for both models…", theme)
    words = same_words(services, by_model[a], by_model[b])
    return difference_figure(first, second, method or DEFAULT_METHOD, theme, words)
