"""The Celery app: configuration only (the job message's body lives in workers/celery_jobs.py).

`celery -A workers.app ...` (flower, inspect) and `interpboard worker` both use `app`.
"""

from __future__ import annotations

from celery import Celery

from workers.messages import PRIORITY_STEPS
from workers.settings import Settings, job_settings


def make_app(settings: Settings) -> Celery:
    app = Celery("interpboard", broker=settings.broker, include=["workers.celery_jobs"])
    app.conf.update(
        # JSON only: nothing shared is ever unpickled.
        task_serializer="json",
        result_serializer="json",
        event_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        # Job status lives in our own records (workers/jobs.py), not in a result backend.
        task_ignore_result=True,
        result_expires=settings.result_expires,
        # A job is acked when it ends, so a worker lost mid-job leaves it to be redelivered.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.job_time_limit,
        task_time_limit=settings.hard_time_limit,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout,
            # Sweep for unacked messages of dead workers often enough to notice within a visibility timeout
            # (kombu's default sweeps about every 100 s).
            "unacked_restore_interval": max(1, min(60, settings.visibility_timeout // 4)),
            "unacked_restore_throttle": 1,
            # A client's later jobs are sent at a lower priority (workers/executor.py): one list per level.
            "priority_steps": PRIORITY_STEPS,
            "queue_order_strategy": "priority",
        },
        broker_connection_retry_on_startup=True,
        # One queue per device kind: workers listen on `cpu` and/or `gpu`; the server sends to its QUEUE.
        task_default_queue=settings.queue,
    )
    return app


app = make_app(job_settings())
