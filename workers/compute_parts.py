"""Job bodies for analyses computed in parts (one-pass tasks; see workers/part_store.py for the layout).

An analysis job prepares the request once, computes the core and stores it as a partial at once (the
page shows it), then the parts of its plan (workers/part_plan.py), each stored as it finishes, and at
the end the whole analysis with each part's state (done, or offered with its estimate). A part job
adds one part to a stored analysis as an entry of its own; when the analysis has gone (evicted), it
recomputes the core and stores the analysis again with the part in it. Cancelled, either stores
nothing: the check comes before every store.

Imports torch (through interp.parts): only in the process that computes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from interp.calibration import calibrate_in_background as calibrate_in_background  # for workers/*: their door
from interp.calibration import observe, subject_estimates
from interp.part_names import CORE, Part, PartKind
from interp.parts import Subject, compute_core, compute_part, prepare
from interp.schema import Analysis, AnalysisRequest
from interp.settings import settings
from interp.stages import Progress, Stage
from workers import part_store
from workers.job_status import JobStatus
from workers.part_plan import plan

# (progress, fraction) -> None: reports to the job record; raises JobCancelled once the job is cancelled.
Report = Callable[[Progress, float], None]


def part_budget() -> float:
    return settings().engine.part_budget_s


def _stage(name: str) -> Stage:
    return Stage.SENSITIVITY if Part.parse(name).kind is PartKind.SENSITIVITY else Stage.SALIENCY


def _states(estimates: dict[str, float], **groups: list[str]) -> dict[str, dict[str, Any]]:
    """{name: {"state", "estimate_s"}} for the parts in each group (the group's name is their state)."""
    return {
        name: {"state": state, "estimate_s": float(f"{estimates.get(name, 0.0):.3g}")}
        for state, names in groups.items()
        for name in names
    }


def _refresh(parts: dict[str, dict[str, Any]], estimates: dict[str, float]) -> None:
    """The estimates of the parts not started yet (queued, offered), as they stand now."""
    for name, part in parts.items():
        if part["state"] in (part_store.QUEUED, part_store.OFFERED):
            part.update(_states(estimates, **{part["state"]: [name]})[name])


def analysis_in_parts(
    status: JobStatus, report: Report, store_partial: Callable[[Analysis, set[str]], None], budget_s: float
) -> Analysis:
    """The whole analysis of an analysis job, its parts' states in it; partials stored on the way."""
    report(Progress(Stage.LOADING), 0.0)
    subject = prepare(AnalysisRequest.from_dict(status.request))
    estimates = subject_estimates(subject)
    request = subject.request
    chosen = plan(request.methods, subject.layers, estimates, budget_s, status.focus)
    total = sum(estimates.get(n, 0.0) for n in ["core", *chosen.compute]) or 1.0
    analysis = compute_core(subject)
    observe(subject, CORE, analysis.timings["total"])
    analysis.parts = _states(estimates, done=["core"], queued=chosen.compute, offered=chosen.offered)
    store_partial(analysis, set())
    done = estimates.get("core", 0.0)
    report(Progress(Stage.FORWARD), 0.02 + 0.96 * done / total)  # after its partial: the page draws it
    sensitivity = [n for n in chosen.compute if _stage(n) is Stage.SENSITIVITY]
    for name in chosen.compute:
        analysis.parts[name]["state"] = part_store.RUNNING
        result = compute_part(subject, Part.parse(name), analysis)
        observe(subject, result.part, result.seconds)
        _refresh(analysis.parts, subject_estimates(subject))  # the rest at the speed this part ran at
        analysis = part_store.with_part(analysis, name, result.values, result.info)
        analysis.timings = {**analysis.timings, name: round(result.seconds, 4)}
        store_partial(analysis, {name})
        done += estimates.get(name, 0.0)
        # As the engine reports its stages: each once its result is stored (sensitivity: layer i of k).
        step = sensitivity.index(name) + 1 if name in sensitivity else None
        report(Progress(_stage(name), step, len(sensitivity) if step else None), 0.02 + 0.96 * done / total)
    report(Progress(Stage.DONE), 1.0)
    analysis.timings["total"] = sum(v for k, v in analysis.timings.items() if k != "total")
    return analysis


def add_part(status: JobStatus, store: Any, report: Report, worker: str, budget_s: float) -> None:
    """A part job: compute status.part of its analysis and store it (the analysis too, if it has gone)."""
    key, name = status.analysis_key, status.part
    assert name is not None
    existing = part_store.read(store, key)
    if existing is not None and part_store.part_values(existing, name) is not None:
        return  # stored meanwhile (by the analysis job, or a part job before this one)
    report(Progress(Stage.LOADING), 0.0)
    subject = prepare(AnalysisRequest.from_dict(status.request))
    if Part.parse(name).kind is PartKind.SENSITIVITY and Part.parse(name).layer >= subject.layers:  # type: ignore[operator]
        raise ValueError(f"{name}: the model has {subject.layers} layers (0 to {subject.layers - 1})")
    core = existing
    if core is None:
        report(Progress(Stage.FORWARD), 0.05)
        core = compute_core(subject)
        observe(subject, CORE, core.timings["total"])
    report(Progress(_stage(name), *((1, 1) if _stage(name) is Stage.SENSITIVITY else ())), 0.1)
    result = compute_part(subject, Part.parse(name), core)
    observe(subject, result.part, result.seconds)
    report(Progress(Stage.STORING), 0.99)  # raises once cancelled: nothing stored
    if existing is not None:
        meta, arrays = part_store.part_record(
            name, result.values, result.info, {"seconds": round(result.seconds, 4), "worker": worker}
        )
        store.put_part(key, name, meta, arrays)
        return
    # The analysis had gone: store it again, the part in it, the others offered as a first job would.
    estimates = subject_estimates(subject)
    request = subject.request
    analysis = part_store.with_part(core, name, result.values, result.info)
    chosen = plan(request.methods, subject.layers, estimates, budget_s, None)
    others = [n for n in [*chosen.compute, *chosen.offered] if n != name]
    analysis.parts = {**_states(estimates, done=["core", name], offered=others)}
    meta, arrays = analysis.to_record()
    meta.update(key=key, worker=worker, job_id=status.job_id, created_at=time.time(), compute_seconds=0.0)
    store.put(key, meta, arrays)


def computes_in_parts(request: dict[str, Any]) -> bool:
    """Whether the request's analysis is computed in parts (not seq2seq or generation)."""
    from interp.tasks import engine_for

    parsed = AnalysisRequest.from_dict(request)
    return engine_for(parsed.task).own_pipeline(parsed) is None


__all__ = ["Subject", "add_part", "analysis_in_parts", "computes_in_parts", "part_budget"]
