"""WSGI entry for production:
`gunicorn -c python:dashapp.gunicorn_conf dashapp.wsgi:server --workers 4 --worker-class gthread --bind 0.0.0.0:8050`.

Each gunicorn worker builds its own app; jobs and results go through the shared broker and cache
(INTERPBOARD_BROKER / INTERPBOARD_CACHE), so any worker can answer any request.
"""

from __future__ import annotations

import logging

from dashapp.app import create_app
from workers.settings import job_settings


def _log_through_gunicorn() -> None:
    """Our warnings and errors (open without auth, Redis unreachable, a failed request) go to gunicorn's
    error log, with its timestamps and levels, instead of bare lines on stderr."""
    gunicorn_log = logging.getLogger("gunicorn.error")
    root = logging.getLogger()
    if gunicorn_log.handlers and not root.handlers:
        root.handlers = list(gunicorn_log.handlers)
        root.setLevel(logging.WARNING)


_log_through_gunicorn()
app = create_app()
server = app.server
# The open-without-auth warning comes from the master (dashapp/gunicorn_conf.py), once.
if not job_settings().broker:
    logging.getLogger(__name__).warning(
        "no INTERPBOARD_BROKER: jobs run inside each gunicorn worker process and only that process knows them; "
        "with more than one gunicorn worker, set a broker (see docs/deploy.md)"
    )
