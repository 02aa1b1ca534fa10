"""The heartbeat thread and the reaper, on in-memory records: no worker process needed."""

from __future__ import annotations

import time

import pytest

from workers.executor import EmbeddedExecutor
from workers.jobs import CANCELLED, QUEUED, RUNNING, JobStatus
from workers.liveness import Heartbeat, JobCancelled, Reaper
from workers.memory_records import MemoryJobRecords
from workers.settings import Settings


def running(records: MemoryJobRecords, job_id: str = "a", **fields) -> JobStatus:
    status = JobStatus(job_id=job_id, key=f"key-{job_id}", request={}, **fields)
    records.create(status)
    records.claim(status.key, job_id)
    records.enqueue(status)
    return records.start(job_id, "host:1")


def test_heartbeat_beats_while_the_work_runs_and_sees_the_cancel():
    records = MemoryJobRecords()
    first = running(records)
    with Heartbeat(records, ["a"], interval=0.2) as beat:
        time.sleep(0.5)
        assert records.get("a").heartbeat_at > first.heartbeat_at
        beat.check()  # nothing to stop yet
        records.cancel("a")
        time.sleep(1.2)  # the cancel poll runs once a second
        assert beat.cancelled("a")
        with pytest.raises(JobCancelled):
            beat.check()


def test_reaper_requeues_a_silent_job_and_sends_it_again():
    records = MemoryJobRecords(lost_after=0.05)
    running(records)
    sent: list[list[str]] = []
    reaper = Reaper(
        records,
        Settings(lost_after=0.05, heartbeat_interval=0.01),
        lambda s: sent.append([j.job_id for j in s]),
    )
    assert reaper.look(records.get("a")).state == RUNNING  # just started: alive
    time.sleep(0.1)
    assert reaper.look(records.get("a")).state == QUEUED and sent == [["a"]]
    reaper.sweep()
    assert sent == [["a"]]  # requeued once, not again


def test_a_cancel_that_is_not_obeyed_terminates_the_work_after_the_grace():
    records = MemoryJobRecords()
    running(records, message_id="message-1")
    killed: list[str] = []
    reaper = Reaper(records, Settings(cancel_grace=0.1), lambda s: None, killed.append)
    records.cancel("a")
    assert reaper.look(records.get("a")).stage_text == "cancelling…" and not killed
    time.sleep(0.2)
    reaper.sweep()
    assert killed == ["message-1"] and records.get("a").state == CANCELLED


def test_reconcile_sends_again_queued_jobs_no_message_carries():
    records = MemoryJobRecords()
    for job_id in ("carried", "orphan", "young"):
        at = time.time() - (0 if job_id == "young" else 60)
        status = JobStatus(job_id=job_id, key=job_id, request={}, created_at=at)
        records.create(status)
        records.enqueue(status)
    sent: list[str] = []
    reaper = Reaper(records, Settings(), lambda s: sent.extend(j.job_id for j in s))
    assert reaper.reconcile(lambda: {"carried"}) == ["orphan"] and sent == ["orphan"]


def test_embedded_executor_runs_the_most_urgent_waiting_job_first(tmp_path, tiny_registry, monkeypatch):
    monkeypatch.delenv("INTERPBOARD_BROKER", raising=False)
    executor = EmbeddedExecutor(Settings(cache=str(tmp_path)))
    order: list[list[str]] = []
    monkeypatch.setattr("workers.executor.run_jobs", lambda ids, _ctx: order.append(ids))
    executor._pool.submit(time.sleep, 0.3)  # keep the one thread busy while three jobs wait
    for job_id, priority in (("later", 5), ("first", 0), ("second", 1)):
        executor._dispatch([JobStatus(job_id=job_id, key=job_id, priority=priority)])
    executor._pool.shutdown(wait=True)
    assert order == [["first"], ["second"], ["later"]]
