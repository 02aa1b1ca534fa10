"""The web's edges: what every request passes before the pages and the API see it.

- Behind a reverse proxy (`INTERPBOARD_PROXY_HOPS`), the client's address is the one the proxy saw.
- A path longer than MAX_PATH_CHARS is a 414 (JSON under /api), before any routing.
- Dash's own routes answer malformed requests with a 400 and unknown component files with a 404,
  never a 500 with a traceback; any other unexpected failure off /api is a plain 500 (logged here).
"""

from __future__ import annotations

import logging
from typing import Any

import dash
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from dashapp.api import is_api_path, json_error
from interp.settings import settings

log = logging.getLogger(__name__)

MAX_PATH_CHARS = 2048
UPDATE_COMPONENT = "/_dash-update-component"
DASH_ROUTES = "/_dash-"


def install_edges(app: dash.Dash) -> None:
    server: Flask = app.server
    hops = settings().web.proxy_hops
    if hops:
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    server.before_request(_path_not_too_long)
    server.before_request(lambda: _well_formed_callback(app))
    server.register_error_handler(Exception, _unexpected)


def _answer(status: int, message: str) -> Response:
    if is_api_path(request.path) or request.path.startswith(DASH_ROUTES):
        return json_error(status, message)
    return Response(message + "\n", status=status, mimetype="text/plain")


def _path_not_too_long() -> Response | None:
    if len(request.full_path) > MAX_PATH_CHARS:
        return _answer(414, f"the address is longer than {MAX_PATH_CHARS} characters")
    return None


def _well_formed_callback(app: dash.Dash) -> Response | None:
    """The shape Dash's callback dispatcher reads without checking: anything else is a 400 here."""
    if request.path != UPDATE_COMPONENT or request.method != "POST":
        return None
    body = request.get_json(silent=True)
    problem = _callback_problem(body, app.callback_map)
    return None if problem is None else json_error(400, f"malformed Dash callback request: {problem}")


def _callback_problem(body: Any, callbacks: dict[str, Any]) -> str | None:
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or output not in callbacks:
        return "no such callback output"
    for name in ("inputs", "state"):
        items = body.get(name, [])
        if not isinstance(items, list) or not all(isinstance(i, dict | list) for i in items):
            return f"{name} must be a list of objects"
    if not isinstance(body.get("changedPropIds", []), list):
        return "changedPropIds must be a list"
    return None


def _unexpected(exc: Exception) -> Response | HTTPException:
    """Off /api (the API has its own handler): Dash's routes answer 400/404, anything else a plain 500."""
    if isinstance(exc, HTTPException):
        return exc
    if request.path.startswith("/_dash-component-suites/"):
        return _answer(404, "no such component file")
    if request.path.startswith(DASH_ROUTES) and isinstance(exc, dash.exceptions.DashException | ValueError):
        log.warning("%s %s: %s: %s", request.method, request.path, type(exc).__name__, exc)
        return _answer(400, f"malformed Dash request ({type(exc).__name__})")
    log.exception("%s %s failed", request.method, request.path[:200])
    return _answer(500, "internal error (logged on the server)")
