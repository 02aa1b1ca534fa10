"""What the views show, said beside them, and whether the form still asks for it.

The views draw the analysis on show; the form may since have been edited. The page names the analysis
(model, task, text) above the views and on the export buttons and files, and marks the views stale as
soon as the form no longer matches them, so nobody reads or exports an old analysis as the current one.
"""

from __future__ import annotations

import re
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from dashapp.pages import components as ui
from interp.schema import normalize_text
from interp.task_specs import TASK_SPECS

EXCERPT = 48  # characters of the text shown beside the views
FILE_EXCERPT = 24  # … and in a download's file name
STALE_CLASS = "views-stale"


def excerpt(text: str | None, limit: int = EXCERPT) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def describe(request: dict[str, Any]) -> str:
    """`tiny-bert-mlm · masked word · “the cat sat on the [MASK] .”` (and the pair, when there is one)."""
    spec = TASK_SPECS.get(request.get("task") or "")
    parts = [
        str(request.get("model") or "?"),
        spec.label if spec else str(request.get("task") or "?"),
        f"“{excerpt(request.get('text'))}”",
    ]
    if request.get("pair"):
        parts[-1] += f" ‖ “{excerpt(request['pair'], EXCERPT // 2)}”"
    if request.get("generate"):
        seed = request.get("sample_seed")
        parts.append(
            f"+{request['generate']} tokens" + (f" (seed {seed})" if seed is not None else " (greedy)")
        )
    return " · ".join(parts)


def _same(a: Any, b: Any) -> bool:
    return (normalize_text(a) or None) == (normalize_text(b) or None)


def form_matches(request: dict[str, Any], form: dict[str, Any]) -> bool:
    """Whether Run would ask for the analysis on show (the pair counts only where the task reads one)."""
    fields = ["model", "task", "text", "target"]
    if ui.takes_pair(form.get("task")):
        fields.append("pair")
    generation = ui.generation_fields(form)
    return all(_same(request.get(f), form.get(f)) for f in fields) and all(
        request.get(f) == generation.get(f) for f in ("generate", "sample_seed", "max_new_tokens")
    )


def shown_request(shown: dict | None, job: dict | None) -> dict[str, Any] | None:
    """The request of the analysis on show; None when nothing is (or it was refused)."""
    if not shown or not shown.get("key") or not job or job.get("key") != shown["key"]:
        return None
    return job.get("request") or None


def showing(shown: dict | None, job: dict | None, form: dict[str, Any]) -> tuple[Any, str, str]:
    """(the line above the views, the views' class, the export label)."""
    request = shown_request(shown, job)
    if request is None:
        return None, "", "Export"
    what = describe(request)
    if form_matches(request, form):
        return html.Div(["Showing ", html.Strong(what)], className="small mb-2"), "", f"Export {what}"
    stale = dbc.Alert(
        ["These views show ", html.Strong(what), ", not what the form now asks: Run to update them."],
        color="warning",
        className="py-1 px-2 small mb-2",
    )
    return stale, STALE_CLASS, f"Export {what} (the views on show, not the edited form)"


def file_stem(request: dict[str, Any] | None, key: str) -> str:
    """`interpboard-<model>-<task>-<text excerpt>-<key[:12]>`: a download names what it holds."""
    request = request or {}
    words = ""
    for word in re.findall(r"[A-Za-z0-9]+", str(request.get("text") or "")):  # whole words, up to the limit
        if len(words) + len(word) + 1 > FILE_EXCERPT:
            break
        words = f"{words}-{word}" if words else word
    parts = ["interpboard", str(request.get("model") or ""), str(request.get("task") or ""), words, key[:12]]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", "-".join(p for p in parts if p))
