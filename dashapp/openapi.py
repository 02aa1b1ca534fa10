"""The OpenAPI 3.1 description of the JSON API (served at /api/openapi.json), generated.

Schemas come from the pydantic models the API validates and answers with (`AnalysisRequest`,
`JobStatus`, dashapp/contracts.py), so the document and the checks cannot drift apart; only the
table of paths is written here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from dashapp import contracts as c
from interp.schema import AnalysisRequest
from workers.jobs import JobStatus

_REQUEST: list[type[BaseModel]] = [AnalysisRequest, c.PartsRequest]
_ANSWERS: list[type[BaseModel]] = [
    JobStatus,
    c.Error,
    c.Submitted,
    c.AnalysisSummary,
    c.Pending,
    c.NotComputed,
    c.AnalysisIndex,
    c.Models,
    c.Health,
    c.Deleted,
    c.Cancelled,
    c.PartsAsked,
]

_KEY = {
    "name": "key",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
}
_JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(description: str, model: type[BaseModel] | dict[str, Any]) -> dict[str, Any]:
    schema = model if isinstance(model, dict) else _ref(model)
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(description, c.Error)


_COMMON_ERRORS = {
    "401": _error("Authentication required (only when the deployment enables it)."),
    "414": _error("The address is too long."),
    "503": _error("The broker or the cache cannot be reached right now."),
}

_PATHS: dict[str, Any] = {
    "/api/health": {
        "get": {
            "summary": "Web, broker and cache reachable",
            "security": [],
            "responses": {
                "200": _json("All reachable.", c.Health),
                "503": _json("Something is down.", c.Health),
            },
        },
    },
    "/api/models": {
        "get": {
            "summary": "The model registry, with availability on this server",
            "responses": {"200": _json("Models.", c.Models), **_COMMON_ERRORS},
        },
    },
    "/api/analyses": {
        "post": {
            "summary": "Ask for an analysis: answered from the cache, or queued",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(AnalysisRequest)}},
            },
            "responses": {
                "200": _json("Already cached.", c.Submitted),
                "202": {
                    **_json("Queued (or following an identical running job).", c.Submitted),
                    "headers": {
                        "Location": {"schema": {"type": "string"}, "description": "GET this for the result."}
                    },
                },
                "400": _error("Body is not valid JSON or does not match AnalysisRequest."),
                "413": _error("Body too large."),
                "415": _error("Body is not JSON."),
                "422": _error("The request cannot be analysed (empty text, unknown model, mask rules, ...)."),
                "429": {
                    **_error("Too many jobs waiting: this client's, or the whole queue's."),
                    "headers": {
                        "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
                    },
                },
                **_COMMON_ERRORS,
            },
        },
        "get": {
            "summary": "The History index of cached analyses, newest first",
            "parameters": [
                {"name": "model", "in": "query", "schema": {"type": "string"}},
                {"name": "task", "in": "query", "schema": {"type": "string"}},
                {
                    "name": "q",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "Substring of text or pair, any case.",
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                },
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
            ],
            "responses": {
                "200": _json("One page.", c.AnalysisIndex),
                "400": _error("Bad limit or offset."),
                **_COMMON_ERRORS,
            },
        },
    },
    "/api/analyses/{key}": {
        "parameters": [_KEY],
        "get": {
            "summary": "One analysis (JSON); ?full=1 adds the attention arrays",
            "parameters": [
                {"name": "full", "in": "query", "schema": {"type": "string", "enum": ["0", "1"]}},
                {
                    "name": "job",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "The job computing it (from the submit's Location): while it runs, 202 with its status.",
                },
            ],
            "responses": {
                "200": _json("The analysis.", c.AnalysisSummary),
                "202": _json("Still computing.", c.Pending),
                "404": _json(
                    "Unknown key, or its job ended without a result.",
                    {"anyOf": [_ref(c.Error), _ref(c.NotComputed)]},
                ),
                **_COMMON_ERRORS,
            },
        },
        "delete": {
            "summary": "Remove an analysis from the cache and the index",
            "responses": {
                "200": _json("Deleted.", c.Deleted),
                "404": _error("Unknown key."),
                **_COMMON_ERRORS,
            },
        },
    },
    "/api/analyses/{key}/parts": {
        "parameters": [_KEY],
        "post": {
            "summary": "Ask for more parts of an analysis (e.g. an offered layer's sensitivity)",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(c.PartsRequest)}},
            },
            "responses": {
                "200": _json("All there already.", c.PartsAsked),
                "202": _json(
                    "Jobs computing them: poll each until done, then read the analysis.", c.PartsAsked
                ),
                "400": _error("No such part of this analysis, or a malformed body."),
                "404": _error("Unknown analysis."),
                "429": _error("Too many jobs waiting; see Retry-After."),
                **_COMMON_ERRORS,
            },
        },
    },
    "/api/analyses/{key}.npz": {
        "parameters": [_KEY],
        "get": {
            "summary": "All arrays of an analysis as a NumPy .npz download",
            "responses": {
                "200": {
                    "description": "The arrays.",
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "contentMediaType": "application/octet-stream"}
                        }
                    },
                },
                "404": _error("Unknown key."),
                **_COMMON_ERRORS,
            },
        },
    },
    "/api/jobs/{job_id}": {
        "parameters": [_JOB_ID],
        "get": {
            "summary": "Status of a job: state, stage (step of), progress, queue position, error",
            "responses": {
                "200": _json("The job.", JobStatus),
                "404": _error("Unknown job."),
                **_COMMON_ERRORS,
            },
        },
        "delete": {
            "summary": "Cancel a job (queued: skipped; running: stops at the next stage)",
            "responses": {
                "200": _json("Whether it was cancelled, and the job now.", c.Cancelled),
                "404": _error("Unknown job."),
                **_COMMON_ERRORS,
            },
        },
    },
    "/api/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1 JSON."}},
        },
    },
}


@cache
def _schemas() -> dict[str, Any]:
    pairs = [(m, "validation") for m in _REQUEST] + [(m, "serialization") for m in _ANSWERS]
    _, document = models_json_schema(pairs, ref_template="#/components/schemas/{model}")
    return document["$defs"]


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "interpboard API",
            "version": "1",
            "description": "Submit analyses of transformer models, follow their jobs, read and list cached results.",
        },
        "paths": _PATHS,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "INTERPBOARD_TOKEN"},
                "basic": {"type": "http", "scheme": "basic", "description": "INTERPBOARD_USERS"},
            },
        },
        # Either scheme, or none when the deployment has auth off.
        "security": [{"token": []}, {"basic": []}, {}],
    }
