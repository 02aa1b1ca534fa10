"""An in-memory executor with the workers interface, for callback tests (in addition to the real one)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from interp.schema import Analysis, AnalysisRequest, InputError
from interp.stages import describe


@dataclass
class FakeStatus:
    job_id: str
    key: str
    state: str = "queued"
    stage: str = "queued"
    progress: float = 0.0
    queue_position: int | None = 1
    error: str | None = None
    worker: str | None = None
    step: int | None = None
    of: int | None = None

    @property
    def stage_text(self) -> str:
        return describe(self.stage, self.step, self.of)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "error", "cancelled")


@dataclass
class FakeSubmission:
    key: str
    job_id: str | None
    cached: bool
    status: FakeStatus | None


@dataclass
class FakeStore:
    analyses: dict[str, Analysis] = field(default_factory=dict)
    metas: dict[str, dict] = field(default_factory=dict)
    partials: dict[str, Analysis] = field(default_factory=dict)

    def get_meta(self, key: str) -> dict | None:
        return self.metas.get(key)

    def stored_parts(self, key: str, names: list[str]) -> list[str]:
        return []  # analyses put here are whole

    def partial_stages(self, key: str) -> int:
        return len(self.partials[key].stages_done) if key in self.partials else 0

    def delete(self, key: str) -> bool:
        self.metas.pop(key, None)
        return self.analyses.pop(key, None) is not None

    def index(self, model=None, task=None, q=None, limit=50, offset=0) -> list[dict]:
        rows = [
            m
            for m in self.metas.values()
            if (model is None or m["request"]["model"] == model)
            and (task is None or m["request"]["task"] == task)
            and (q is None or q.lower() in m["request"]["text"].lower())
        ]
        return sorted(rows, key=lambda m: -m["created_at"])[offset : offset + limit]


class FakeExecutor:
    """Results come from `analyses` (by request text): submit is cached if `put` was called, else a running job."""

    def __init__(
        self, models: tuple[str, ...] = ("tiny-bert-mlm", "tiny-roberta-mlm", "tiny-bert-sst")
    ) -> None:
        self.models = models
        self.store = FakeStore()
        self.jobs: dict[str, FakeStatus] = {}
        self.cancelled: list[str] = []

    @staticmethod
    def key_of(request: AnalysisRequest) -> str:
        return hashlib.sha256(repr(request.to_dict()).encode()).hexdigest()

    def put(self, analysis: Analysis) -> str:
        key = self.key_of(analysis.request)
        self.store.analyses[key] = analysis
        meta, _arrays = analysis.to_record()
        self.store.metas[key] = {
            **meta,
            "key": key,
            "created_at": time.time(),
            "compute_seconds": 1.5,
            "worker": "host:1",
        }
        return key

    def submit(self, request: AnalysisRequest, client: str | None = None, focus=None) -> FakeSubmission:
        if request.model not in self.models:
            raise InputError(f"unknown model {request.model!r}")
        key = self.key_of(request)
        if key in self.store.analyses:
            return FakeSubmission(key, None, True, None)
        status = FakeStatus(job_id=f"job-{len(self.jobs)}", key=key)
        self.jobs[status.job_id] = status
        return FakeSubmission(key, status.job_id, False, status)

    def status(self, job_id: str) -> FakeStatus | None:
        return self.jobs.get(job_id)

    def cancel(self, job_id: str) -> bool:
        status = self.jobs.get(job_id)
        if status is None or status.finished:
            return False
        status.state, status.error = "cancelled", "cancelled by the user"
        self.cancelled.append(job_id)
        return True

    def result(self, key: str) -> Analysis | None:
        return self.store.analyses.get(key)

    def part_jobs(self, key: str, names: list[str]) -> dict:
        return {}

    def partial(self, key: str) -> Analysis | None:
        return self.store.partials.get(key)
