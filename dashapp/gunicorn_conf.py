"""gunicorn settings for the web (`gunicorn -c python:dashapp.gunicorn_conf dashapp.wsgi:server ...`).

The command line still names workers, threads and binds; this module adds the hook that warns, once
in the master and for the addresses gunicorn really bound, when the web is open without authentication.
"""

from __future__ import annotations

from typing import Any

from dashapp.auth import listen_hosts, warn_if_open
from interp.settings import settings

# Long addresses reach the app, which answers them with a 414 in JSON (dashapp/edges.py), rather than
# gunicorn's own plain-text refusal above its default 4,094 bytes. 8,190 is gunicorn's maximum; the
# proxy (deploy/nginx.conf) refuses longer request lines itself, in JSON too.
limit_request_line = 8190


def when_ready(server: Any) -> None:
    for host in listen_hosts(list(server.cfg.bind), settings().web.bind):
        warn_if_open(host, logger=server.log)
