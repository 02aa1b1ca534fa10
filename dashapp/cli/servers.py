"""`interpboard worker` and `interpboard serve`: the long-running processes."""

from __future__ import annotations

import argparse
import os

from dashapp.cli.console import UsageError, positive


def cmd_worker(args: argparse.Namespace) -> int:
    from workers.settings import job_settings

    settings = job_settings()
    if not settings.broker:
        raise UsageError(
            "interpboard worker needs INTERPBOARD_BROKER=redis://... (without a broker the server runs jobs itself)"
        )
    from workers.app import app

    # A unique node name per process, so several workers on one host answer pings separately.
    app.worker_main(
        [
            "worker",
            "--queues",
            args.queues or settings.queue,
            "--concurrency",
            str(args.concurrency),
            "--loglevel",
            args.loglevel,
            "--hostname",
            f"interpboard-{os.getpid()}@%h",
        ]
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from dashapp.app import serve

    serve(args.host, args.port, args.debug)
    return 0


def add_server_commands(commands: argparse._SubParsersAction) -> None:
    worker = commands.add_parser("worker", help="run a Celery worker (needs INTERPBOARD_BROKER)")
    worker.add_argument(
        "--queues", help="comma-separated queues to consume (default: INTERPBOARD_QUEUE, cpu)"
    )
    worker.add_argument(
        "--concurrency", type=positive, default=1, help="worker processes (each keeps its own models warm)"
    )
    worker.add_argument("--loglevel", default="info")
    worker.set_defaults(func=cmd_worker)

    serve = commands.add_parser("serve", help="run the dashboard")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8050)
    serve.add_argument("--debug", action="store_true")
    serve.set_defaults(func=cmd_serve)
