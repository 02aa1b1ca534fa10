"""Following analysis jobs from a page: submit, poll, cancel, and what a job's status means to the UI.

The Analyze and Compare pages keep a small dict per job in the browser (its "record": key, job id,
state, stage kind, error) and read a JobStatus only through `follow`: every interpretation of a
job's state and stage in the web pages is written here, once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from dashapp.api import client_id
from dashapp.input_checks import check_input
from dashapp.services import Services
from interp.schema import AnalysisRequest, InputError, ModelUnavailable
from interp.stages import Stage
from workers.executor import QueueFull
from workers.job_status import Focus
from workers.jobs import CANCELLED, DONE, ERROR, QUEUED, RUNNING, TERMINAL

log = logging.getLogger(__name__)

GONE = "gone"  # not a job state: the job's record has expired (or the server restarted)
CANCELLING = "cancelling…"  # a cancel asked for, the job not ended yet
GONE_MESSAGE = "the job's record is gone (expired, or the server restarted): run it again"
# Stages whose partial result the views can draw: none while the model loads.
NOTHING_TO_DRAW = (None, Stage.QUEUED, Stage.STARTING, Stage.LOADING)

__all__ = [
    "CANCELLED",
    "CANCELLING",
    "DONE",
    "ERROR",
    "GONE",
    "QUEUED",
    "RUNNING",
    "JobReport",
    "Started",
    "ask_parts",
    "cancel",
    "finished",
    "follow",
    "submit",
    "updated_record",
]


@dataclass(frozen=True)
class Started:
    """What a submit gave: the job's record for the browser, or why no job started."""

    record: dict[str, Any] | None = None
    problem: str | None = None  # the input or the model cannot be used: the user's to fix
    failure: str | None = None  # the job layer itself failed (Redis down, …)


@dataclass(frozen=True)
class JobReport:
    """One poll of a job, as the pages show it."""

    state: str  # a job state, or GONE
    stage: str | None  # a Stage value: views redraw once per stage, not per step
    percent: int
    label: str  # the stage for people, steps included (on the progress bar): "sensitivity 3/12"
    text: str  # "queued: queued · position 2 in the queue"
    error: str | None  # why it ended without a result

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL or self.state == GONE

    @property
    def failed(self) -> bool:
        """Ended without a (final) result."""
        return self.finished and self.state != DONE

    @property
    def severity(self) -> str:
        """The alert colour of its end: the user's own doing or an expiry warns, a failure is an error."""
        return "danger" if self.state == ERROR else "warning"

    @property
    def drawable_stage(self) -> str | None:
        """The stage whose partial result the views can draw (a running job past loading), else None."""
        return self.stage if self.state == RUNNING and self.stage not in NOTHING_TO_DRAW else None


def submit(services: Services, request: AnalysisRequest, focus: Focus | None = None) -> Started:
    """Submit one request (`focus`: the selected layer and method, computed first); a cached result comes
    back as a record already done."""
    try:
        check_input(request)
        sub = services.executor.submit(request, client=client_id(), focus=focus)
    except (InputError, ModelUnavailable, QueueFull) as exc:
        return Started(problem=str(exc))
    except Exception as exc:  # the service behind the page failed (Redis down, …): say so, never a traceback
        log.exception("submit failed")
        return Started(failure=f"{type(exc).__name__}: {exc}")
    record = {
        "key": sub.key,
        "job_id": sub.job_id,
        "cached": sub.cached,
        "state": DONE if sub.cached else QUEUED,
        "stage": None,
        "error": None,
    }
    return Started(record=record)


def ask_parts(services: Services, key: str, names: list[str]) -> tuple[list[dict[str, Any]], str | None]:
    """Ask for parts of the analysis `key`: the records of the jobs computing them, or what went wrong."""
    meta = services.executor.store.get_meta(key)
    if meta is None:
        return [], "the analysis is no longer in the cache: run it again"
    try:
        subs = services.executor.request_parts(
            AnalysisRequest.from_dict(meta["request"]), names, client=client_id()
        )
    except (ValueError, InputError, ModelUnavailable, QueueFull) as exc:
        return [], str(exc)
    except Exception as exc:
        log.exception("asking for parts failed")
        return [], f"{type(exc).__name__}: {exc}"
    return [
        {"job_id": sub.job_id, "part": name, "key": key, "state": QUEUED}
        for name, sub in zip(names, subs, strict=True)
        if sub.job_id
    ], None


def follow(services: Services, job_id: str) -> JobReport:
    status = services.executor.status(job_id)
    if status is None:
        return JobReport(GONE, None, 0, "", "", GONE_MESSAGE)
    text = f"{status.state}: {status.stage_text}"
    if status.queue_position:
        text += f" · position {status.queue_position} in the queue"
    error = status.error
    if error is None and status.state in (ERROR, CANCELLED):
        error = "the job was cancelled" if status.state == CANCELLED else "the job failed"
    return JobReport(
        str(status.state),
        str(status.stage),
        round(100 * float(status.progress)),
        status.stage_text,
        text,
        error,
    )


def finished(record: dict[str, Any]) -> bool:
    """Whether a job's browser record needs no more polling."""
    return record.get("state") in TERMINAL


def updated_record(services: Services, record: dict[str, Any]) -> tuple[dict[str, Any], JobReport | None]:
    """A job's browser record after one poll, and the poll's report (None: already finished, not polled)."""
    if finished(record) or not record.get("job_id"):
        return record, None
    report = follow(services, record["job_id"])
    state = ERROR if report.state == GONE else report.state
    return {**record, "state": state, "stage": report.stage, "error": report.error}, report


def cancel(services: Services, record: dict[str, Any] | None) -> str:
    """Ask the job to stop; what to tell the user."""
    if not record or not record.get("job_id"):
        return ""
    return CANCELLING if services.executor.cancel(record["job_id"]) else "the job had already ended"
