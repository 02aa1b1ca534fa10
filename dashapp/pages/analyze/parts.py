"""Parts of the analysis on show that a view lacks (an offered layer's sensitivity, integrated gradients):
its state and estimated cost above the view, a button that asks for it, one that cancels its job, and
following the part jobs until the part lands, when the views redraw (no reload), or the job ends."""

from __future__ import annotations

import time
from typing import Any

from dashapp import jobs
from dashapp.figures.sensitivity import part_text
from dashapp.pages import components as ui
from dashapp.selection import clamp
from dashapp.services import Services
from interp.part_names import EXPENSIVE_SALIENCY

SHOWN_BUTTON = {"display": "inline-block"}


def part_of(view: str, analysis: Any, selection: dict[str, Any]) -> str | None:
    """The part `view` draws from for the selection, when the analysis lists it."""
    if view == "sensitivity":
        name = f"sensitivity.{selection.get('layer') or 0}"
    elif selection.get("method") in EXPENSIVE_SALIENCY:
        name = f"saliency.{selection['method']}"
    else:
        return None
    return name if name in analysis.parts else None


def notes(
    services: Services, shown: dict | None, selection: dict | None, asked: list | None, views: list[str]
) -> list[Any]:
    """Per view: (note, button label, button style, cancel style), flattened in `views` order."""
    key = (shown or {}).get("key")
    analysis = services.analysis(key) if key else None
    out: list[Any] = []
    for view in views:
        text, label, style, cancel = "", "", ui.HIDDEN, ui.HIDDEN
        if analysis is not None and analysis.parts and (shown or {}).get("final"):
            sel = clamp(selection, analysis)
            name = part_of(view, analysis, sel)
            state = _state(services, key, analysis, name, asked) if name else None
            if name and state is not None:
                what = part_text(analysis, name)
                text = f"{what} · {state}"
                if state == "offered":
                    text = f"{what}: not computed yet"
                    label, style = f"Compute {what.split(' ≈')[0].split(' <')[0]}", SHOWN_BUTTON
                elif state != jobs.CANCELLING:  # queued or running: it can be stopped
                    cancel = SHOWN_BUTTON
        out += [text, label, style, cancel]
    return out


def _mine(key: str, name: str, asked: list | None) -> dict | None:
    """The page's record of the job computing part `name` of `key`, if it follows one."""
    return next((job for job in asked or [] if job.get("key") == key and job.get("part") == name), None)


def _state(services: Services, key: str, analysis: Any, name: str, asked: list | None) -> str | None:
    """The part's state for people (None: it is there); a job the page follows shows its progress."""
    if (analysis.parts.get(name) or {}).get("state") == "done":
        return None
    mine = _mine(key, name, asked)
    if mine is not None and mine.get("cancelling"):
        return jobs.CANCELLING
    if mine is not None:  # the estimate stays beside it: "running for 12 s" of "≈ 40 s"
        elapsed = mine.get("elapsed")
        return f"{mine.get('state', 'queued')}" + (f" for {elapsed} s" if elapsed is not None else "")
    live = services.executor.part_jobs(key, [name]).get(name)
    return str(live.state) if live is not None else "offered"


def adopt(
    services: Services, shown: dict | None, selection: dict | None, asked: list | None, views: list[str]
) -> dict[str, Any]:
    """Follow the jobs computing the parts on show that the page did not ask for (someone else's, or its own
    before a reload), so that their note ends when they do: the part lands, or is offered again."""
    key = (shown or {}).get("key")
    analysis = services.analysis(key) if key and (shown or {}).get("final") else None
    if analysis is None or not analysis.parts:
        return {}
    sel = clamp(selection, analysis)
    names = [name for view in views if (name := part_of(view, analysis, sel)) and not _mine(key, name, asked)]
    live = services.executor.part_jobs(key, names) if names else {}
    if not live:
        return {}
    found = [
        {"job_id": job.job_id, "part": name, "key": key, "state": str(job.state)}
        for name, job in live.items()
    ]
    return {"asked": [*(asked or []), *found], "poll_disabled": False}


def cancel(
    services: Services, view: str, shown: dict | None, selection: dict | None, asked: list | None
) -> dict[str, Any]:
    """The cancel of `view` was clicked: stop the job computing its part (the page's own, or one someone
    else asked for), say "cancelling…" at once, and follow the job until it has ended."""
    key = (shown or {}).get("key")
    analysis = services.analysis(key) if key else None
    name = part_of(view, analysis, clamp(selection, analysis)) if analysis is not None else None
    if name is None:
        return {}
    mine = _mine(key, name, asked)
    if mine is None:
        live = services.executor.part_jobs(key, [name]).get(name)
        if live is None:
            return {}
        mine = {"job_id": live.job_id, "part": name, "key": key, "state": str(live.state)}
    if not services.executor.cancel(mine["job_id"]):  # it had ended: the notes follow the part's state
        return {"asked": [job for job in asked or [] if job is not mine], "shown": _redrawn(shown)}
    others = [job for job in asked or [] if job.get("job_id") != mine["job_id"]]
    return {"asked": [*others, {**mine, "cancelling": True}], "poll_disabled": False}


def _redrawn(shown: dict) -> dict:
    """`shown` again, counted: the views read the analysis again (a part has landed)."""
    return {**shown, "parts": (shown.get("parts") or 0) + 1}


def ask(
    services: Services, view: str, shown: dict | None, selection: dict | None, asked: list | None
) -> dict[str, Any]:
    """The button of `view` was clicked: ask for its part and follow the job."""
    key = (shown or {}).get("key")
    analysis = services.analysis(key) if key else None
    if analysis is None:
        return {}
    name = part_of(view, analysis, clamp(selection, analysis))
    if name is None:
        return {}
    records, problem = jobs.ask_parts(services, key, [name])
    if problem:
        return {"alert": ui.alert(problem, "warning")}
    following = [job for job in asked or [] if job.get("finished") is not True]
    known = {job["job_id"] for job in following}
    fresh = [record for record in records if record["job_id"] not in known]
    if not fresh and not records:  # there already (computed meanwhile): show it
        return {"shown": _redrawn(shown)}
    return {"asked": following + fresh, "poll_disabled": False}


def poll(services: Services, asked: list | None, shown: dict | None) -> dict[str, Any]:
    """Follow the part jobs: their progress in the notes; a part landed redraws the views (a new `shown`)."""
    if not asked:
        return {"poll_disabled": True}
    following, landed, problems = [], False, []
    for job in asked:
        report = jobs.follow(services, job["job_id"])
        if report.finished:
            landed = landed or report.state == jobs.DONE
            if (
                report.failed
                and report.error
                and not (job.get("cancelling") and report.state == jobs.CANCELLED)
            ):
                problems.append(f"{job['part']}: {report.error}")
            continue
        since = job.get("since") or (time.time() if report.state == jobs.RUNNING else None)
        elapsed = int(time.time() - since) if since else None
        following.append({**job, "state": report.state, "since": since, "elapsed": elapsed})
    out: dict[str, Any] = {"poll_disabled": not following}
    if following != asked:
        out["asked"] = following
    if landed and shown and shown.get("key"):
        out["shown"] = _redrawn(shown)
    if problems:
        out["alert"] = ui.alert("; ".join(problems), "warning")
    return out
