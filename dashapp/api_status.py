"""The API's open routes: health (its details only to the authenticated when auth is on), the
models, and the generated OpenAPI document. Part of the /api blueprint (dashapp/api.py)."""

from __future__ import annotations

import os
from typing import Any

import redis
from flask import Response, current_app

from dashapp.api import ApiError, _executor, _json, _redact, api
from dashapp.openapi import openapi_document
from interp.registry import load_registry
from workers.settings import job_settings, safe_url

BROKER_HEADROOM = 64 * 1024  # bytes: less free than this in the broker and new jobs would be refused


def _down(where: str, exc: Exception) -> dict[str, Any]:
    return {"ok": False, "detail": f"{where}: {type(exc).__name__}: {_redact(str(exc))}"}


def _broker_check(url: str) -> dict[str, Any]:
    """Reachable, and not full: a broker at maxmemory (noeviction) refuses every new job."""
    where = safe_url(url)
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2) as client:
            memory = client.info("memory")
    except Exception as exc:  # noqa: BLE001 - any failure is "down", with its reason
        return _down(where, exc)
    # Within a small headroom counts as full: Redis refuses a write that would cross maxmemory, and the
    # used figure falls back a little once the refused command's buffers are freed.
    if memory.get("maxmemory") and memory["used_memory"] >= memory["maxmemory"] - BROKER_HEADROOM:
        return {
            "ok": False,
            "detail": f"{where} is full ({memory['used_memory']} of {memory['maxmemory']} bytes)",
        }
    return {"ok": True, "detail": where}


def _cache_check() -> dict[str, Any]:
    try:
        store = _executor().store
        return {"ok": store.ping(), "detail": store.url_for_logs}
    except Exception as exc:  # noqa: BLE001 - the executor itself may not come up while Redis is down
        return _down("result store", exc)


def _sees_topology() -> bool:
    """Whether this request may see addresses and pids: always without auth, else only when authenticated."""
    authorised = current_app.extensions.get("interpboard_authorised")
    return authorised is None or authorised()


@api.get("/health")
def health() -> Response:
    """Open (for health checks); to anyone not authenticated when auth is on, the verdicts only."""
    broker = job_settings().broker
    checks = {
        "web": {"ok": True, "detail": f"pid {os.getpid()}"},
        "broker": _broker_check(broker)
        if broker
        else {"ok": True, "detail": "embedded executor (no broker)"},
        "cache": _cache_check(),
    }
    ok = all(c["ok"] for c in checks.values())
    if not _sees_topology():
        checks = {name: {"ok": check["ok"]} for name, check in checks.items()}
    return _json({"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503)


@api.get("/models")
def models() -> Response:
    try:
        registry = load_registry()
    except (OSError, ValueError) as exc:
        raise ApiError(503, f"the model registry cannot be read: {exc}") from None
    rows = []
    for spec in registry.models.values():
        rows.append(
            {
                "id": spec.id,
                "tasks": list(spec.tasks),
                "labels": list(spec.labels) if spec.labels else None,
                "description": spec.description,
                **spec.availability().fields(),
            }
        )
    return _json({"models": rows, "source": registry.source})


@api.get("/openapi.json")
def openapi() -> Response:
    return _json(openapi_document())
