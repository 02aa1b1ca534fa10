"""Layout pieces shared by the pages: navbar, model picker, badge, progress, alerts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from dashapp import ids
from interp.registry import Registry, load_registry
from interp.task_specs import TASK_SPECS, TASKS, TaskSpec

POLL_MS = 400
HIDDEN = {"display": "none"}


def navbar() -> dbc.Navbar:
    links = [
        dbc.NavItem(dbc.NavLink(name, href=href, active="exact"))
        for name, href in (("Analyze", "/"), ("Compare", "/compare"), ("History", "/history"))
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("interpboard", href="/"),
                dbc.Nav(links, navbar=True, className="me-auto"),
                dbc.Switch(
                    id=ids.THEME_SWITCH,
                    label="dark",
                    value=False,
                    className="mb-0",
                    label_class_name="text-light",
                ),
            ],
            fluid=True,
        ),
        id=ids.NAVBAR,
        color="primary",
        dark=True,
        className="mb-3",
    )


def registry_or_none() -> tuple[Registry | None, str | None]:
    """The model registry, or the reason it cannot be read (shown instead of a crash)."""
    try:
        return load_registry(), None
    except (OSError, ValueError) as exc:
        return None, f"cannot read the model registry: {exc}"


def model_options(task: str | None = None) -> list[dict[str, Any]]:
    """Dropdown options: every registry model (serving `task`, if given), task shown, unavailable ones marked."""
    registry, _error = registry_or_none()
    if registry is None:
        return []
    options = []
    for spec in registry.models.values():
        if task is not None and task not in spec.tasks:
            continue
        available = spec.availability()
        label = f"{spec.id} — {', '.join(spec.tasks)}"
        if not available.ok:
            label += f" (unavailable: {available.detail})"
        options.append(
            {"label": label, "value": spec.id, "disabled": not available.ok, "title": spec.description}
        )
    return options


def available_models(task: str | None = None) -> list[str]:
    """Ids of the registry's models that are on this machine (serving `task`, if given), in registry order."""
    return [o["value"] for o in model_options(task) if not o["disabled"]]


def example_texts(task: str | None, text: str | None, pair: str | None) -> tuple[str | None, str | None]:
    """The task's example text where the form holds another task's (the user has typed nothing of their own),
    and its example pair where the pair box is empty too; None where the form keeps what it holds."""
    spec = _spec(task)
    if spec is None:
        return None, None
    examples = {s.example_text for s in TASK_SPECS.values()}
    pairs = {s.example_pair for s in TASK_SPECS.values()} - {None}
    new_text = spec.example_text if text is None or text in examples else text
    new_pair = (spec.example_pair or "") if not (pair or "").strip() or pair in pairs else pair
    return (None if new_text == text else new_text), (None if new_pair == (pair or "") else new_pair)


def task_options(tasks: tuple[str, ...] | list[str] = TASKS) -> list[dict[str, str]]:
    return [{"label": f"{TASK_SPECS[t].label} ({t})", "value": t} for t in tasks]


def _spec(task: str | None) -> TaskSpec | None:
    """The task's spec; None for no task or an unknown name (a hand-edited link)."""
    return TASK_SPECS.get(task or "")


def takes_pair(task: str | None) -> bool:
    spec = _spec(task)
    return spec is not None and spec.takes_pair


def needs_mask(task: str | None) -> bool:
    spec = _spec(task)
    return spec is not None and spec.needs_mask


def pair_label(task: str | None) -> str:
    spec = _spec(task)
    return (spec.pair_label if spec else None) or "Second text"


GENERATING_TASKS = ("causal-lm", "seq2seq")


def generate_style(task: str | None) -> dict[str, str]:
    """The generation box: causal-lm generates N tokens, seq2seq at most N without a target text."""
    return {} if task in GENERATING_TASKS else HIDDEN


def seed_style(task: str | None) -> dict[str, str]:
    return {} if task == "causal-lm" else HIDDEN


def generate_label(task: str | None) -> str:
    if task == "seq2seq":
        return "Without a target text, generate at most (tokens; blank: 20)"
    return "Generate tokens (blank: none; up to 64), each step explained"


def _count(value: Any) -> int | None:
    """A number box's value as an int; blank (None, "") as None. A wrong number is the request's to refuse."""
    if value in (None, ""):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def generation_fields(form: dict[str, Any]) -> dict[str, int]:
    """The request's generation fields from the form's boxes (generate, seed), as its task reads them."""
    count, seed = _count(form.get("generate")), _count(form.get("seed"))
    task = form.get("task")
    if task == "causal-lm" and count is not None:
        return {"generate": count, **({} if seed is None else {"sample_seed": seed})}
    if task == "seq2seq" and count is not None and not (form.get("pair") or "").strip():
        return {"max_new_tokens": count}
    return {}


def generation_form(request: dict[str, Any]) -> dict[str, Any]:
    """The form's generation boxes for a request (a permalink's, a link's)."""
    return {
        "generate": request.get("generate") or request.get("max_new_tokens"),
        "seed": request.get("sample_seed"),
    }


def pair_style(task: str | None) -> dict[str, str]:
    return {} if takes_pair(task) else {"display": "none"}


def alert(message: str, color: str = "danger") -> dbc.Alert:
    """A readable message; plain text children, so Dash escapes whatever it says."""
    return dbc.Alert(message, color=color, dismissable=True, className="mt-2")


def when(moment: float | str | None) -> str:
    """Epoch seconds (or an ISO string) as a short UTC time."""
    if not moment:
        return "unknown time"
    if isinstance(moment, str):
        return moment
    return dt.datetime.fromtimestamp(float(moment), dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def truncation_text(truncated: bool, kept: int, before: int | None) -> str | None:
    """ "truncated: kept 512 of 740 tokens (228 dropped)"; None when nothing was dropped."""
    if not truncated:
        return None
    if before is None:  # an analysis stored before the count was recorded
        return f"truncated to the model's maximum: kept {kept} tokens"
    return f"truncated: kept {kept} of {before} tokens ({before - kept} dropped)"


def truncation_notice(truncated: bool, kept: int, before: int | None) -> dbc.Badge | None:
    """The truncation warning beside a result: the views show only the tokens kept."""
    text = truncation_text(truncated, kept, before)
    if text is None:
        return None
    return dbc.Badge(text, color="warning", text_color="dark", className="me-2 truncation-notice")


def result_badge(meta: dict[str, Any] | None, cached: bool, key: str) -> html.Div:
    """cached · computed at · took N s · by worker (the link to it is the page's "copy link")."""
    meta = meta or {}
    parts = ["cached" if cached else "computed now", when(meta.get("created_at"))]
    if meta.get("compute_seconds") is not None:
        parts.append(f"took {float(meta['compute_seconds']):.2f} s")
    if meta.get("worker"):
        parts.append(f"by {meta['worker']}")
    return html.Div(
        [
            # dark text on the light cyan: white on it is 2:1, under WCAG AA's 4.5:1
            dbc.Badge(
                " · ".join(parts),
                color="success" if cached else "info",
                text_color=None if cached else "dark",
                className="me-2 text-wrap text-start",
            ),
            truncation_notice(
                bool(meta.get("truncated")),
                len(meta.get("tokens") or []),
                meta.get("tokens_before_truncation"),
            ),
        ],
        className="badge-line",
        title=f"key {key}",
    )


def progress_block() -> html.Div:
    return html.Div(
        [
            dbc.Progress(id=ids.PROGRESS, value=0, label="", striped=True, animated=True, className="mb-1"),
            html.Div(
                [
                    html.Span(id=ids.PROGRESS_TEXT, className="me-3"),
                    dbc.Button("Cancel", id=ids.CANCEL, size="sm", color="secondary", outline=True),
                ]
            ),
        ],
        id=ids.PROGRESS_GROUP,
        style={"display": "none"},
        className="mb-2",
    )


def card(title: str, body: Any) -> dbc.Card:
    return dbc.Card([dbc.CardHeader(title), dbc.CardBody(body)], className="view-card")
