"""A job's status as everyone reads it: its state, stage (step of), progress and outcome.

The records (workers/jobs.py) store and change it as a dict; `JobStatus` is its checked shape, and
the API's and OpenAPI document's too.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from interp.stages import Stage, describe


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"
    CANCELLED = "cancelled"


QUEUED, RUNNING, DONE, ERROR, CANCELLED = JobState
TERMINAL = frozenset({DONE, ERROR, CANCELLED})


class Focus(BaseModel):
    """What the asker looks at first and wants computed; not part of the cache key (one-pass tasks)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    layer: int | None = Field(None, ge=0, description="The selected layer: its sensitivity comes first.")
    method: str | None = Field(None, description="The selected saliency method: comes first.")
    layers: list[int] | None = Field(
        None, description="Compute sensitivity for these layers only (the others are offered)."
    )
    everything: bool = Field(False, description="Compute every part, whatever its estimated cost.")


class JobStatus(BaseModel):
    """A job record as read: the backends store and change it as a dict, this is its checked shape."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str
    key: str
    state: JobState = QUEUED
    stage: Stage = Stage.QUEUED
    step: int | None = None  # for stages done in steps: sensitivity layer `step` of `of`
    of: int | None = None
    batch: int | None = None  # jobs computed together (precompute), when more than one
    progress: float = Field(0.0, ge=0, le=1)
    queue_position: int | None = None  # 1 = next to start; only while queued
    error: str | None = None  # for the user; InputError/ModelUnavailable messages verbatim
    error_kind: str | None = Field(
        None,
        description="input (the request cannot be analysed: change it), or "
        "unavailable, timeout, lost, internal (try again, or ask the operator).",
    )
    created_at: float = Field(default_factory=time.time)  # epoch seconds
    started_at: float | None = None
    finished_at: float | None = None
    worker: str | None = Field(None, description="host:pid of the worker process")
    request: dict[str, Any] = Field(default_factory=dict)  # AnalysisRequest.to_dict()
    queue: str = "cpu"
    deliveries: int = Field(0, description="More than 1 after a lost worker's job was redelivered.")
    cancel_requested: bool = False
    cancel_requested_at: float | None = None
    heartbeat_at: float | None = Field(None, description="Last sign of life from the worker running the job.")
    client: str = Field("local", description="Who submitted it (user or address), for the per-client cap.")
    priority: int = Field(
        0, ge=0, le=9, description="0 runs first; a client's later queued jobs wait longer."
    )
    message_id: str | None = None  # the Celery message that runs it (for revoke)
    part: str | None = Field(
        None,
        description="A part job: the part (e.g. sensitivity.3) of the analysis it adds to; key is <key>.<part>.",
    )
    focus: Focus | None = None  # an analysis job: what to compute first, and what at all

    @property
    def analysis_key(self) -> str:
        """The analysis the job computes, or adds its part to."""
        return self.key[: -len(self.part) - 1] if self.part else self.key

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    @computed_field  # in the API's JSON too: "cancelling…" shows the moment a cancel is asked
    @property
    def stage_text(self) -> str:
        """What people read: "sensitivity 3/12", "forward (batch of 4)", "cancelling…"."""
        if self.cancel_requested and not self.finished:
            return "cancelling…"
        return describe(self.stage, self.step, self.of, self.batch)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobStatus:
        """From a stored record; fields this version does not know are left out."""
        return cls.model_validate({k: v for k, v in data.items() if k in cls.model_fields})
