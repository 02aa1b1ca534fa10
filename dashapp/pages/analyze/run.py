"""Running an analysis from the Analyze page: the form, Run, a link's autorun, a permalink, mask mode, and
following the job (through dashapp.jobs) until the views can show its result."""

from __future__ import annotations

import re
from typing import Any

from dash import no_update

from cache.keys import is_key
from dashapp import ids, jobs
from dashapp.pages import components as ui
from dashapp.services import Services
from interp.schema import MASK_MARKERS, AnalysisRequest, InputError
from workers.job_status import Focus

_WORDS = re.compile(r"(\s+)")


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


def task_changed(task: str | None, text: str | None = None, pair: str | None = None) -> tuple:
    """Pair box, mask switch and generation boxes for the task; its example input where the form holds no
    text of the user's."""
    new_text, new_pair = ui.example_texts(task, text, pair)
    return (
        ui.pair_style(task),
        ui.pair_label(task),
        {} if ui.needs_mask(task) else ui.HIDDEN,
        no_update if new_text is None else new_text,
        no_update if new_pair is None else new_pair,
        ui.generate_style(task),
        ui.generate_label(task),
        ui.seed_style(task),
    )


def submit(services: Services, form: dict[str, Any], selection: dict | None = None) -> dict[str, Any]:
    """Submit the form's request: a cached result shows at once, otherwise the page starts polling.
    The selected layer's sensitivity and the selected saliency method are computed first."""
    task = form.get("task")
    try:
        request = AnalysisRequest(
            model=form.get("model") or "",
            task=task,
            text=form.get("text") or "",
            pair=(form.get("pair") or None) if ui.takes_pair(task) else None,
            target=form.get("target") or None,
            **ui.generation_fields(form),
        )
    except InputError as exc:
        return refused(str(exc))
    sel = selection or {}
    layer = sel.get("layer") if isinstance(sel.get("layer"), int) and sel.get("layer") >= 0 else None
    method = sel.get("method") if isinstance(sel.get("method"), str) else None
    started = jobs.submit(services, request, Focus(layer=layer, method=method))
    if started.record is None:
        return refused(started.problem or f"could not start the analysis: {started.failure}")
    record = started.record
    return {
        "job": {**record, "request": request.to_dict()},
        "shown": {"key": record["key"], "final": record["cached"], "stage": None},
        "poll_disabled": record["cached"],
        "alert": None,
        "progress_style": ui.HIDDEN if record["cached"] else {},
    }


def refused(message: str) -> dict[str, Any]:
    """No analysis for the form: the message, and no old views beside it as if they answered the form."""
    return {
        "alert": ui.alert(message),
        "progress_style": ui.HIDDEN,
        "job": None,
        "shown": {"key": None, "final": False, "stage": "refused"},
        "poll_disabled": True,
    }


def open_key(services: Services, key: str) -> dict[str, Any]:
    """A permalink: the cached analysis `key`, its request copied into the form."""
    meta = services.executor.store.get_meta(key) if is_key(key) else None
    if meta is None:
        return {
            "alert": ui.alert(f"no cached analysis with key {key!r} (it may have been deleted)", "warning")
        }
    request = meta.get("request") or {}
    return {
        "job": {"key": key, "job_id": None, "cached": True, "state": jobs.DONE, "request": request},
        "shown": {"key": key, "final": True, "stage": None, "permalink": True},
        "poll_disabled": True,
        "alert": None,
        "form": {
            **{name: request.get(name) or "" for name in ("model", "task", "text", "pair", "target")},
            **ui.generation_form(request),
        },
    }


def mask_word(text: str, word: int, memo: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """`text` with its word number `word` replaced by [MASK], and the memo that undoes it.

    One mask per request, and the sentence stays the user's: the word an earlier click masked comes back
    (`memo`). A mask the user typed stands for a word nobody knows: InputError says to type it in first.
    """
    parts = _WORDS.split(text)  # words at even positions, whitespace between them
    words = parts[0::2]
    if memo and 0 <= memo.get("word", -1) < len(words) and words[memo["word"]] in MASK_MARKERS:
        words[memo["word"]] = memo["original"]
    if not 0 <= word < len(words):
        raise InputError("the text has changed since these tokens were drawn: Run it first")
    typed = [i for i, w in enumerate(words) if i != word and any(m in w for m in MASK_MARKERS)]
    if typed:
        raise InputError(
            f"the mask in “{words[typed[0]]}” was typed, so the word it stands for is unknown: "
            "type that word in its place, then click the word to mask"
        )
    original = words[word]
    words[word] = "[MASK]"
    parts[0::2] = words
    return "".join(parts), {"word": word, "original": original}


def start(
    services: Services,
    trigger: Any,
    autorun: dict | None,
    form: dict[str, Any],
    clicks: list | None,
    mask_mode: bool,
    shown: dict | None,
    memo: dict | None,
    previous: dict | None = None,
    selection: dict | None = None,
) -> dict[str, Any]:
    """Run, a link's autorun, a permalink, or (mlm, mask mode) a click on a token that masks its word.

    `previous`: the request of the job before; a result's "token" is the selected token from now on (a
    new text's token index names another token: the selection does not carry over; a mask selects itself).
    """
    if trigger == ids.AUTORUN:  # runs once: the store is emptied
        if not autorun:
            return {}
        if "key" in autorun:
            return {**open_key(services, autorun["key"]), "autorun": None}
        return {**submit(services, {**form, **autorun["request"]}, selection), "autorun": None}
    if isinstance(trigger, dict) and trigger.get("type") == ids.TOKEN_BUTTON:
        index = trigger["index"]
        if not (
            mask_mode and ui.needs_mask(form.get("task")) and clicks and index < len(clicks) and clicks[index]
        ):
            return {}
        analysis = services.analysis((shown or {}).get("key"))
        word = analysis.token_words[index] if analysis and index < analysis.n_tokens else None
        if word is None:
            return {}
        text = form.get("text") or ""
        try:
            if len(_WORDS.split(text)[0::2]) != len(analysis.words):  # the tokens are of another text
                raise InputError("the text has changed since these tokens were drawn: Run it first")
            text, memo = mask_word(text, word, memo)
        except InputError as exc:
            return {"alert": ui.alert(str(exc), "warning")}
        out = {**submit(services, {**form, "text": text}, selection), "form": {"text": text}, "memo": memo}
        return {**out, "token": index}
    out = submit(services, form, selection)
    asked = (out.get("job") or {}).get("request", {})
    same_text = previous is not None and all(
        (previous.get(f) or None) == asked.get(f) for f in ("text", "pair")
    )
    return out if same_text else {**out, "token": None}


def poll(services: Services, job: dict | None, shown: dict | None) -> dict[str, Any]:
    """Follow a running job: progress, stage, queue position; re-render when a new stage lands."""
    if not job or not job.get("job_id"):
        return {"poll_disabled": True}
    report = jobs.follow(services, job["job_id"])
    key = job["key"]
    if report.state == jobs.GONE:  # the views keep waiting: nothing says how the job ended
        return {
            "poll_disabled": True,
            "progress_style": ui.HIDDEN,
            "alert": ui.alert(report.error, report.severity),
        }
    if report.state == jobs.DONE:
        return {
            "poll_disabled": True,
            "progress_style": ui.HIDDEN,
            "shown": {"key": key, "final": True, "stage": "done"},
        }
    if report.failed:
        # The views stop waiting: they keep what the job produced before it ended, if anything.
        return {
            "poll_disabled": True,
            "progress_style": ui.HIDDEN,
            "shown": {"key": key, "final": False, "stage": report.state},
            "alert": ui.alert(report.error, report.severity),
        }
    out: dict[str, Any] = {
        "progress": report.percent,
        "progress_label": report.label,
        "progress_text": report.text,
        "progress_style": {},
    }
    # Redrawn per stage, and per part stored within one (a layer's sensitivity): `parts` counts them.
    stored = services.executor.store.partial_stages(key) if report.drawable_stage else 0
    now = {"key": key, "final": False, "stage": report.drawable_stage, "parts": stored}
    if report.drawable_stage and {k: (shown or {}).get(k) for k in now} != now:
        out["shown"] = now
    return out


def badge(services: Services, shown: dict | None, job: dict | None) -> Any:
    if not shown or not shown.get("final"):
        return None
    meta = services.executor.store.get_meta(shown["key"])
    return ui.result_badge(meta, bool(job and job.get("cached")), shown["key"])
