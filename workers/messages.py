"""The Celery messages that carry jobs: sending them, killing the work of one, and finding which jobs
the broker still carries (a worker starting up reconciles the job records against them)."""

from __future__ import annotations

import base64
import logging
import uuid
from typing import Any

import orjson
import redis

from workers.job_status import JobStatus
from workers.jobs import JobRecords

log = logging.getLogger(__name__)

# The message that runs a list of job ids (one job, or a precompute batch): see workers/celery_jobs.py.
# ("task" is kept for NLP tasks; the name on the wire stays, so queued messages survive an upgrade.)
RUN_JOBS_MESSAGE = "interpboard.run_jobs"
LOWEST_PRIORITY = 9  # Celery's Redis transport serves priority 0 first, 9 last
PRIORITY_STEPS = list(range(LOWEST_PRIORITY + 1))
PRIORITY_SEPARATOR = "\x06\x16"  # kombu's: priority p > 0 of queue q is the list "q\x06\x16p"
UNACKED = "unacked"  # kombu's hash of delivered, not yet acknowledged messages


def send_jobs(app: Any, records: JobRecords, statuses: list[JobStatus]) -> None:
    """One Celery message for the jobs (one, or a batch), on their queue, at their priority."""
    job_ids = [s.job_id for s in statuses]
    # A single job's first message id is its job id, so Celery's own tools (flower, inspect) show the same
    # id; a requeued job's message gets a new one (a revoked id would be dropped by every worker).
    first = len(job_ids) == 1 and statuses[0].deliveries == 0 and statuses[0].message_id is None
    message_id = job_ids[0] if first else uuid.uuid4().hex
    for job_id in job_ids:
        records.set_message(job_id, message_id)
    app.send_task(
        RUN_JOBS_MESSAGE,
        args=[job_ids],
        task_id=message_id,
        queue=statuses[0].queue,
        priority=max(s.priority for s in statuses),
    )


def terminate_message(app: Any, message_id: str) -> None:
    """The fallback for work that ignores its cancel: kill the worker process running it (Celery revoke)."""
    app.control.revoke(message_id, terminate=True, signal="SIGKILL")


def jobs_in_broker(client: redis.Redis, queues: list[str]) -> set[str]:
    """The job ids carried by the messages waiting in `queues` or delivered and not yet acknowledged."""
    raw: list[bytes] = []
    for queue in queues:
        for priority in PRIORITY_STEPS:
            raw += client.lrange(queue if priority == 0 else f"{queue}{PRIORITY_SEPARATOR}{priority}", 0, -1)
    for value in client.hvals(UNACKED):
        try:
            raw.append(orjson.dumps(orjson.loads(value)[0]))  # [message, exchange, routing key]
        except (orjson.JSONDecodeError, IndexError, TypeError):
            continue
    return {job_id for message in raw for job_id in _job_ids(message)}


def _job_ids(message: bytes) -> list[str]:
    try:
        envelope = orjson.loads(message)
        if envelope.get("headers", {}).get("task") != RUN_JOBS_MESSAGE:
            return []
        body = envelope["body"]
        if envelope.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = orjson.loads(body)[0]
        return [j for j in args[0] if isinstance(j, str)]
    except Exception:
        log.debug("unreadable message in the broker", exc_info=True)
        return []
