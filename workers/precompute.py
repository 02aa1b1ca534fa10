"""Precompute: analyse every input of a file with one or more models, so the cache is warm.

Inputs are JSONL (`{"text": ..., "pair": ...}` per line) or CSV (columns text[,pair]). Bad lines
are reported with their line number and skipped; cached analyses are skipped; the rest go out in
batches (one job runs `interp.engine.analyze_many` over a batch) and are stored one key each.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from interp.registry import load_registry
from interp.schema import METHODS, AnalysisRequest, InputError
from workers.executor import Executor
from workers.jobs import JobState, JobStatus

INPUT_FIELDS = ("text", "pair")


@dataclass(frozen=True)
class InputLine:
    line: int
    text: str
    pair: str | None


@dataclass
class PrecomputeReport:
    submitted: int = 0
    cached: int = 0  # already in the cache, or computed by someone else meanwhile
    done: int = 0
    failed: list[str] = field(default_factory=list)  # "line N (model): why"
    skipped: list[str] = field(default_factory=list)  # bad input lines


def read_inputs(path: Path) -> tuple[list[InputLine], list[str]]:
    """The usable lines of a JSONL or CSV file, and a message per unusable one."""
    inputs: list[InputLine] = []
    problems: list[str] = []
    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else _jsonl_rows(path)
    for line, row in rows:
        if isinstance(row, str):
            problems.append(f"line {line}: {row}")
            continue
        text, pair = row.get("text"), row.get("pair")
        extra = sorted(set(row) - set(INPUT_FIELDS))
        if extra:
            problems.append(
                f"line {line}: unknown field(s) {', '.join(extra)}; expected text and optionally pair"
            )
        elif not isinstance(text, str) or not text.strip():
            problems.append(f"line {line}: no text")
        elif pair is not None and not isinstance(pair, str):
            problems.append(f"line {line}: pair must be a string")
        else:
            inputs.append(InputLine(line, text, pair or None))
    return inputs, problems


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict | str]]:
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                row = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield number, f"not valid JSON ({exc})"
                continue
            yield number, row if isinstance(row, dict) else "expected a JSON object with a text field"


def _csv_rows(path: Path) -> Iterator[tuple[int, dict | str]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "text" not in reader.fieldnames:
            yield 1, "the CSV header needs a text column (and optionally pair)"
            return
        for row in reader:
            if None in row:  # more cells than header columns
                yield reader.line_num, "more cells than columns"
            elif any(v is None for v in row.values()):
                yield reader.line_num, "fewer cells than columns"
            elif any(v.strip() for v in row.values()):
                yield reader.line_num, {k: (v if v != "" else None) for k, v in row.items()}


def precompute(
    executor: Executor,
    path: Path,
    models: list[str],
    task: str,
    methods: tuple[str, ...] = METHODS,
    batch_size: int = 16,
    on_progress: Callable[[int, int], None] | None = None,
    poll: float = 0.2,
) -> PrecomputeReport:
    """Submit every (model, input) pair that is not cached and wait for all of them.

    Raises InputError for a problem with the whole command (unknown model, task, method).
    """
    registry = load_registry()
    for model in models:
        if task not in registry.get(model).tasks:
            raise InputError(
                f"model {model} does not serve task {task}; it serves {', '.join(registry.get(model).tasks)}"
            )
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise InputError(f"unknown method(s) {', '.join(unknown)}; expected some of {', '.join(METHODS)}")
    inputs, problems = read_inputs(path)
    report = PrecomputeReport(skipped=problems)

    requests: list[AnalysisRequest] = []
    origins: list[str] = []
    for model in models:
        for item in inputs:
            try:
                requests.append(
                    AnalysisRequest(model=model, task=task, text=item.text, pair=item.pair, methods=methods)
                )
            except InputError as exc:
                report.skipped.append(f"line {item.line} ({model}): {exc}")
                continue
            origins.append(f"line {item.line} ({model})")

    submissions = executor.submit_many(requests, batch_size=batch_size)
    report.submitted = len(submissions)
    # Identical lines share one job, so follow submissions, not jobs.
    pending = [
        (sub.job_id, origin) for sub, origin in zip(submissions, origins, strict=True) if not sub.cached
    ]
    report.cached = len(submissions) - len(pending)

    def show(statuses: dict[str, JobStatus | None]) -> None:
        if on_progress is not None:
            ended = sum(1 for job_id, _ in pending if statuses[job_id] is None or statuses[job_id].finished)
            on_progress(report.cached + ended, len(submissions))

    if on_progress is not None:
        on_progress(report.cached, len(submissions))
    statuses = executor.wait_all({job_id for job_id, _ in pending}, poll=poll, on_poll=show)
    for job_id, origin in pending:
        status = statuses[job_id]
        if status is not None and status.state == JobState.DONE:
            report.done += 1
        else:
            report.failed.append(
                f"{origin}: {(status.error or status.state) if status else 'the job record expired'}"
            )
    return report
