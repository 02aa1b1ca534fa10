"""Job records, in memory and in real Redis: claims, state changes, queue positions, cancel."""

from __future__ import annotations

import threading

import pytest
import redis

from interp.stages import Progress, Stage
from workers.jobs import (
    CANCELLED,
    DONE,
    ERROR,
    QUEUED,
    RUNNING,
    JobRecords,
    JobStatus,
    MemoryJobRecords,
    RedisJobRecords,
)


@pytest.fixture(params=["memory", "redis"])
def records(request) -> JobRecords:
    if request.param == "memory":
        return MemoryJobRecords()
    return RedisJobRecords(redis.Redis.from_url(request.getfixturevalue("redis_url")))


def queued(records: JobRecords, job_id: str, key: str = "k", at: float = 1.0) -> JobStatus:
    status = JobStatus(job_id=job_id, key=key, request={"model": "m"}, created_at=at)
    records.create(status)
    assert records.claim(key, job_id) is None
    records.enqueue(status)
    return status


def test_claim_lets_one_job_hold_a_key(records):
    assert records.claim("k", "a") is None
    assert records.claim("k", "b") == "a"
    records.release("k", "b")  # not the holder: no effect
    assert records.claim("k", "c") == "a"
    assert records.holder("k") == "a"
    records.release("k", "a")
    assert records.holder("k") is None
    assert records.claim("k", "c") is None


def test_concurrent_claims_have_one_winner(records):
    winners = []
    barrier = threading.Barrier(8)

    def claim(i: int) -> None:
        barrier.wait()
        if records.claim("k", f"job{i}") is None:
            winners.append(i)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_lifecycle_queued_running_done(records):
    queued(records, "a", at=1.0)
    queued(records, "b", key="k2", at=2.0)
    assert records.get("a").queue_position == 1
    assert records.get("b").queue_position == 2

    running = records.start("a", "host:1")
    assert running.state == RUNNING and running.deliveries == 1 and running.worker == "host:1"
    assert records.get("a").queue_position is None
    assert records.get("b").queue_position == 1

    records.progress("a", Progress(Stage.FORWARD), 0.4)
    assert (records.get("a").stage, records.get("a").progress) == ("forward", 0.4)
    records.progress("a", Progress(Stage.SENSITIVITY, 3, 12), 0.6, batch=4)
    assert records.get("a").stage_text == "sensitivity 3/12 (batch of 4)"
    done = records.finish("a", DONE)
    assert done.state == DONE and done.progress == 1.0 and done.finished_at is not None
    assert records.claim("k", "next") is None  # the key was released
    # An ended job stays ended: no late progress, no second finish.
    records.progress("a", Progress(Stage.SALIENCY), 0.5)
    assert records.finish("a", ERROR, "late") is None
    assert records.get("a").stage == DONE and records.get("a").error is None
    assert records.get("missing") is None


def test_redelivered_job_counts_deliveries(records):
    queued(records, "a")
    records.start("a", "host:1")
    again = records.start("a", "host:2")  # the first worker was lost mid-job
    assert again.deliveries == 2 and again.worker == "host:2"


def test_cancel_queued_job_ends_it_and_it_never_starts(records):
    queued(records, "a")
    cancelled = records.cancel("a")
    assert cancelled.state == CANCELLED and cancelled.queue_position is None
    assert records.start("a", "host:1") is None
    assert records.claim("k", "b") is None
    assert records.cancel("a") is None  # already ended


def test_cancel_running_job_sets_the_flag(records):
    queued(records, "a")
    records.start("a", "host:1")
    assert not records.is_cancel_requested("a")
    assert records.cancel("a").state == RUNNING
    assert records.is_cancel_requested("a")
    assert records.finish("a", CANCELLED).state == CANCELLED


def test_status_round_trips_as_json(records):
    status = queued(records, "a")
    got = records.get("a")
    assert got.to_dict() == {**status.to_dict(), "queue_position": 1}
    assert got.state == QUEUED and got.request == {"model": "m"}


def test_redis_records_expire(redis_url):
    client = redis.Redis.from_url(redis_url)
    records = RedisJobRecords(client, expires=100, inflight_ttl=50)
    queued(records, "a")
    assert 0 < client.ttl("interpboard:jobrec:a") <= 100
    assert 0 < client.ttl("interpboard:job:k") <= 50
