"""Job records, in memory and in real Redis: claims, state changes, queue positions, cancel."""

from __future__ import annotations

import threading
import time

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
)
from workers.memory_records import MemoryJobRecords
from workers.redis_records import RedisJobRecords


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
    assert records.start("a", "host:2") is None  # its worker still beats: a stale message, not a loss
    records.lost_after = 0.05
    time.sleep(0.1)
    again = records.start("a", "host:2")  # the first worker was lost mid-job
    assert again.deliveries == 2 and again.worker == "host:2"


def test_heartbeats_keep_a_job_alive_and_silence_makes_it_lost(records):
    records.lost_after = 0.2
    queued(records, "a")
    records.start("a", "host:1")
    time.sleep(0.15)
    assert records.beat("a").heartbeat_at > records.get("a").started_at
    time.sleep(0.1)
    assert records.lost() == [] and records.reap("a", max_retries=2) is None  # beat 0.1 s ago
    time.sleep(0.25)
    assert records.lost() == ["a"]


def test_a_lost_job_is_requeued_first_in_line_then_given_up(records):
    records.lost_after = 0.05
    queued(records, "other", key="k2", at=3.0)
    status = JobStatus(job_id="a", key="k", request={}, created_at=2.0, priority=5, client="alice")
    records.create(status)
    records.claim("k", "a")
    records.enqueue(status)
    assert records.get("a").queue_position == 2 and records.queued_by("alice") == 1
    records.start("a", "host:1")
    assert records.queued_by("alice") == 1 and records.running() == ["a"]  # unfinished: still counts
    time.sleep(0.1)

    again = records.reap("a", max_retries=1)
    assert again.state == QUEUED and again.worker is None and again.deliveries == 1
    assert records.get("a").queue_position == 1 and records.running() == []
    assert records.holder("k") == "a"  # still in flight: a re-POST follows the requeued job
    assert records.reap("a", max_retries=1) is None  # not running: nothing to do twice

    records.start("a", "host:2")
    time.sleep(0.1)
    assert records.reap("a", max_retries=1) is None  # two deliveries, both lost: ended
    ended = records.get("a")
    assert ended.state == ERROR and ended.error_kind == "lost" and "lost 2 times" in ended.error
    assert records.holder("k") is None and records.lost() == [] and records.queued_by("alice") == 0


def test_cancelling_a_lost_job_ends_it(records):
    records.lost_after = 0.05
    queued(records, "a")
    records.start("a", "host:1")
    time.sleep(0.1)
    assert records.cancel("a").state == CANCELLED
    assert records.holder("k") is None


def test_a_lost_job_with_a_cancel_pending_ends_cancelled(records):
    queued(records, "a")
    records.start("a", "host:1")
    records.cancel("a")
    records.lost_after = 0.05
    time.sleep(0.1)
    assert records.reap("a", max_retries=5) is None and records.get("a").state == CANCELLED


def test_queue_positions_follow_priority_then_time(records):
    for job_id, priority, at in (("late-first", 0, 3.0), ("early-second", 1, 1.0), ("third", 1, 2.0)):
        status = JobStatus(job_id=job_id, key=job_id, request={}, created_at=at, priority=priority)
        records.create(status)
        records.enqueue(status)
    assert [records.get(j).queue_position for j in ("late-first", "early-second", "third")] == [1, 2, 3]
    assert records.queued("cpu") == 3 and records.queued_by("local") == 3
    assert records.queued_ids() == {"cpu": ["late-first", "early-second", "third"]}


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


@pytest.mark.parametrize("corrupt", ["not a hash", {"state": "{not json"}, {"state": '"running"'}])
def test_a_corrupt_record_reads_as_a_failed_job(redis_url, corrupt):
    client = redis.Redis.from_url(redis_url)
    records = RedisJobRecords(client)
    if isinstance(corrupt, str):
        client.set("interpboard:jobrec:bad", corrupt)
    else:
        client.hset("interpboard:jobrec:bad", mapping=corrupt)
    status = records.get("bad")
    assert status.state == ERROR and status.error_kind == "internal" and "corrupt" in status.error
    assert records.beat("bad") is None and records.finish("bad", DONE) is None
    assert records.is_cancel_requested("bad")  # a worker holding it stops


def test_redis_records_expire(redis_url):
    client = redis.Redis.from_url(redis_url)
    records = RedisJobRecords(client, expires=100, inflight_ttl=50)
    queued(records, "a")
    assert 0 < client.ttl("interpboard:jobrec:a") <= 100
    assert 0 < client.ttl("interpboard:job:k") <= 50
