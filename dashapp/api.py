"""JSON API on the Dash server's Flask app: submit analyses, follow jobs, read and list results.

Every answer under /api is JSON (errors too: `{"error": "..."}`); bad input is a 4xx naming the
problem, an unreachable broker or cache a 503, never a 500 with a traceback.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from typing import Any

import orjson
import redis
from flask import Blueprint, Flask, Response, current_app, has_request_context, request, send_file, url_for
from kombu.exceptions import OperationalError
from werkzeug.exceptions import HTTPException

from cache import CacheUnavailable
from cache.keys import is_key
from dashapp import exports
from dashapp.input_checks import check_input
from interp.part_names import Part
from interp.schema import Analysis, AnalysisRequest, InputError, MalformedRequest
from workers.executor import QueueFull
from workers.settings import safe_url

log = logging.getLogger(__name__)

# Two texts of MAX_TEXT_CHARS in 4-byte UTF-8 fit with room to spare.
MAX_BODY_BYTES = 256 * 1024
TOO_LARGE = f"request body is larger than {MAX_BODY_BYTES // 1024} KiB"
MAX_PAGE = 500
# Provenance the job layer adds to a stored analysis's meta.
PROVENANCE = ("created_at", "compute_seconds", "worker", "queue", "device")
# What a lost broker or cache connection raises; answered with 503.
UNREACHABLE = (
    CacheUnavailable,
    redis.ConnectionError,
    redis.TimeoutError,
    OperationalError,
    ConnectionError,
    TimeoutError,
)

api = Blueprint("api", __name__, url_prefix="/api")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def register_api(server: Flask, executor_factory: Callable[[], Any]) -> None:
    """Mount the API on `server`; `executor_factory()` gives the job executor (called per request)."""
    from dashapp import api_status  # noqa: F401 - its routes join the blueprint before it is registered

    server.extensions["interpboard_executor"] = executor_factory
    server.register_blueprint(api)
    server.register_error_handler(HTTPException, _http_error)


def _executor() -> Any:
    return current_app.extensions["interpboard_executor"]()


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    payload = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    return Response(payload, status=status, headers=headers, mimetype="application/json")


def json_error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


# --- errors --------------------------------------------------------------------------------------


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def _http_error(exc: HTTPException) -> Response | HTTPException:
    """Routing errors (404, 405, 413) as JSON under /api; the Dash pages keep Flask's own."""
    if not is_api_path(request.path):
        return exc
    messages = {
        404: _no_such_endpoint(request.path),
        405: f"{request.method} is not allowed on {request.path[:200]}",
        413: TOO_LARGE,
    }
    return json_error(exc.code or 500, messages.get(exc.code, exc.description or exc.name))


def _no_such_endpoint(path: str) -> str:
    return f"no such endpoint: {path[:200]} (the routes are listed in /api/openapi.json)"


@api.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return json_error(exc.status, str(exc))


@api.errorhandler(QueueFull)
def _queue_full(exc: QueueFull) -> Response:
    response = json_error(429, str(exc))
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


@api.errorhandler(InputError)
def _input_error(exc: InputError) -> Response:
    # A malformed request (type, unknown field, range) is a 400; a well-formed one that cannot be analysed a 422.
    return json_error(400 if isinstance(exc, MalformedRequest) else 422, str(exc))


@api.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    if isinstance(exc, redis.OutOfMemoryError):
        log.error("%s %s: Redis is full: %s", request.method, request.path, exc)
        return json_error(503, "the job broker is full (Redis maxmemory reached); try again later")
    if isinstance(exc, UNREACHABLE):
        log.warning("%s %s: backend unreachable: %s", request.method, request.path, _redact(str(exc)))
        return json_error(
            503,
            f"the job broker or result cache is unreachable right now ({type(exc).__name__}); try again shortly",
        )
    log.exception("%s %s failed", request.method, request.path)
    return json_error(500, f"internal error: {type(exc).__name__} (logged on the server)")


def _redact(text: str) -> str:
    return re.sub(r"\w+://\S+", lambda m: safe_url(m.group(0)), text)


@api.get("", defaults={"unknown": ""}, strict_slashes=False)
@api.get("/<path:unknown>")
def no_such_endpoint(unknown: str) -> Response:
    """Keeps unknown /api paths (/api itself too) from falling through to the Dash pages' catch-all
    (an HTML 200). GET only, like that catch-all: other methods on unknown paths get a 405, in JSON."""
    raise ApiError(404, _no_such_endpoint(request.path))


# --- analyses --------------------------------------------------------------------------------------


def _request_body() -> AnalysisRequest:
    """The analysis request in the body, validated (the one call: AnalysisRequest.from_dict)."""
    if not request.is_json:
        raise ApiError(415, "send the request as JSON with Content-Type: application/json")
    # One byte over the limit is read at most: a body with a Content-Length above it is refused at once
    # (413), and a chunked body (no length) is cut there, so its length tells.
    request.max_content_length = MAX_BODY_BYTES + 1
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, TOO_LARGE)
    if not raw.strip():
        raise ApiError(400, "request body is empty; send an analysis request as a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(
            400, f"request body must be a JSON object (an analysis request), not {json_type(data)}"
        )
    return AnalysisRequest.from_dict(data)


@api.post("/analyses")
def submit() -> Response:
    analysis_request = _request_body()  # before the executor: a bad body never needs the broker
    check_input(analysis_request)  # what the tokenizer and labels rule out: 422 now, not a failed job later
    submission = _executor().submit(analysis_request, client=client_id())
    status = "done" if submission.cached else submission.status.state
    body = {"key": submission.key, "status": status, "job_id": submission.job_id, "cached": submission.cached}
    if submission.cached:
        return _json(body, 200)
    return _json(
        body, 202, headers={"Location": url_for("api.analysis", key=submission.key, job=submission.job_id)}
    )


def client_id() -> str | None:
    """Who submits, for the fair-use caps: the authenticated user, else the client's address (None
    outside a request: the operator's own process)."""
    if not has_request_context():
        return None
    user = current_app.extensions.get("interpboard_user", lambda: None)()
    return f"user:{user}" if user else f"addr:{request.remote_addr or 'unknown'}"


def json_type(value: Any) -> str:
    """A value's type as JSON names it (null, array...), for messages: never Python's "NoneType"."""
    names = {
        type(None): "null",
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "array",
    }
    return names.get(type(value), "object")


def _known_key(key: str) -> str:
    if not is_key(key):
        raise ApiError(404, f"unknown analysis {key[:80]!r}: keys are 64 hexadecimal characters")
    return key


@api.get("/analyses/<key>")
def analysis(key: str) -> Response:
    """The analysis; while its job runs, 202 and the job (the one named by ?job=, as in the Location
    of a submit, which also tells how a finished job failed; otherwise whichever job computes the key)."""
    executor = _executor()
    record = executor.store.get(_known_key(key))
    if record is None:
        job_id = request.args.get("job")
        job = executor.status(job_id) if job_id else executor.job_for(key)
        if job is None or job.key != key:
            raise ApiError(404, f"unknown analysis {key}: not in the cache")
        if job.finished:
            return _json(
                {"error": f"analysis {key} was not computed: {job.error or job.state}", "job": job.to_dict()},
                404,
            )
        return _json({"key": key, "status": job.state, "job": job.to_dict()}, 202)
    full = request.args.get("full", "0").lower() in ("1", "true", "yes")
    merged = executor.result(key)  # with the parts stored beside it
    if merged is None:  # gone between the two reads
        raise ApiError(404, f"unknown analysis {key}: not in the cache")
    result = merged.to_json(full=full)
    result["parts"] = _part_states(executor, key, merged)
    provenance = {name: record.meta.get(name) for name in PROVENANCE}
    return _json({"key": key, "status": "done", **provenance, **result})


def _part_states(executor: Any, key: str, analysis: Analysis) -> dict[str, Any]:
    states = executor.part_states(key, analysis)
    jobs = executor.part_jobs(key, [n for n, p in states.items() if p["state"] in ("queued", "running")])
    return {n: {**p, **({"job_id": jobs[n].job_id} if n in jobs else {})} for n, p in states.items()}


@api.post("/analyses/<key>/parts")
def ask_parts(key: str) -> Response:
    """More parts of a stored analysis: a job per part not there yet (following one already computing it)."""
    executor = _executor()
    meta = executor.store.get_meta(_known_key(key))
    if meta is None:
        raise ApiError(404, f"unknown analysis {key}: not in the cache")
    body = request.get_json(silent=True)
    names = body.get("parts") if isinstance(body, dict) else None
    if (
        not isinstance(names, list)
        or not names
        or not all(isinstance(n, str) for n in names)
        or len(names) > 256
    ):
        raise ApiError(400, 'send {"parts": ["sensitivity.3", ...]}: a list of 1 to 256 part names')
    try:
        subs = executor.request_parts(AnalysisRequest.from_dict(meta["request"]), names, client=client_id())
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    jobs = list(dict.fromkeys(s.job_id for s in subs if s.job_id))
    merged = executor.result(key)
    states = _part_states(executor, key, merged) if merged is not None else {}
    asked = list(dict.fromkeys(str(Part.parse(n)) for n in names))  # as request_parts: one answer each
    parts = {}
    for name, sub in zip(asked, subs, strict=True):
        following = sub.status if sub.job_id and sub.status and not sub.status.finished else None
        parts[name] = states.get(name) or {
            "state": str(following.state) if following else "done",
            **({"job_id": sub.job_id} if following else {}),
        }
    return _json({"key": key, "parts": parts, "jobs": jobs}, 202 if jobs else 200)


@api.get("/analyses/<key>.npz")
def analysis_arrays(key: str) -> Response:
    analysis = _executor().result(_known_key(key))  # with the parts stored beside it
    if analysis is None:
        raise ApiError(404, f"unknown analysis {key}")
    # Attention stored as q/k is rebuilt: the download keeps its [layers, heads, n, n] `attention`.
    meta, arrays = analysis.to_record(dense=True)
    stored = _executor().store.get_meta(key) or {}  # who computed it, when: the record's, not the analysis's
    meta.update({name: stored[name] for name in PROVENANCE if name in stored})
    buffer = io.BytesIO(exports.to_npz(meta, arrays))
    return send_file(
        buffer, mimetype="application/octet-stream", as_attachment=True, download_name=f"{key}.npz"
    )


@api.delete("/analyses/<key>")
def delete_analysis(key: str) -> Response:
    if not _executor().store.delete(_known_key(key)):
        raise ApiError(404, f"unknown analysis {key}")
    return _json({"key": key, "deleted": True})


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, not {raw[:40]!r}") from None
    if not lo <= value <= hi:
        raise ApiError(400, f"{name} must be between {lo} and {hi}")
    return value


@api.get("/analyses")
def index() -> Response:
    filters = {name: request.args.get(name) or None for name in ("model", "task", "q")}
    limit = _int_arg("limit", 50, 1, MAX_PAGE)
    offset = _int_arg("offset", 0, 0, 10**9)
    store = _executor().store
    items = store.index(**filters, limit=limit, offset=offset)
    return _json({"items": items, "total": store.count(**filters), "limit": limit, "offset": offset})


# --- jobs ----------------------------------------------------------------------------------------------


def _job(job_id: str) -> Any:
    status = _executor().status(job_id) if len(job_id) <= 200 else None
    if status is None:
        raise ApiError(404, f"unknown job {job_id[:80]!r}")
    return status


@api.get("/jobs/<job_id>")
def job(job_id: str) -> Response:
    return _json(_job(job_id).to_dict())


@api.delete("/jobs/<job_id>")
def cancel_job(job_id: str) -> Response:
    _job(job_id)
    cancelled = _executor().cancel(job_id)
    return _json({"cancelled": cancelled, "job": _job(job_id).to_dict()})
