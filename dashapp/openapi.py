"""The OpenAPI 3.1 description of the JSON API (served at /api/openapi.json).

`ANALYSIS_REQUEST_SCHEMA` is also what the API validates request bodies against, so the document
and the checks cannot drift apart. Value rules that need the registry or the text itself (mask
count, empty text, unknown model) stay in `AnalysisRequest` and answer 422.
"""

from __future__ import annotations

from typing import Any

from interp.schema import METHODS, TASKS

ANALYSIS_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["model", "task", "text"],
    "properties": {
        "model": {"type": "string", "minLength": 1, "maxLength": 200, "description": "A model id from GET /api/models."},
        "task": {"type": "string", "enum": list(TASKS)},
        "text": {"type": "string", "description": "The input; for mlm write [MASK] (or <mask>) once."},
        "pair": {"type": ["string", "null"], "description": "Hypothesis (mnli) or second sentence (similarity)."},
        "mask_index": {"type": ["integer", "null"], "minimum": 0, "description": "mlm: mask this word instead of writing [MASK]."},
        "target": {"type": ["string", "null"], "maxLength": 1000,
                   "description": "Label or token the saliency explains (default: the top prediction)."},
        "methods": {
            "type": ["array", "string", "null"],
            "items": {"type": "string", "enum": list(METHODS)},
            "maxLength": 1000,
            "description": "Saliency methods: a list, or a comma-separated string. Default: all.",
        },
        "top_k": {"type": ["integer", "null"], "minimum": 1, "maximum": 100},
        "ig_steps": {"type": ["integer", "null"], "minimum": 1, "maximum": 1000},
    },
}

_KEY = {"name": "key", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}
_JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(description, _ref("Error"))


_COMMON_ERRORS = {"401": _error("Authentication required (only when the deployment enables it)."),
                  "503": _error("The broker or the cache cannot be reached right now.")}

_SCHEMAS: dict[str, Any] = {
    "AnalysisRequest": ANALYSIS_REQUEST_SCHEMA,
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "Submission": {
        "type": "object",
        "required": ["key", "status", "job_id", "cached"],
        "properties": {
            "key": {"type": "string"},
            "status": {"type": "string", "enum": ["done", "queued", "running", "error", "cancelled"]},
            "job_id": {"type": ["string", "null"]},
            "cached": {"type": "boolean"},
        },
    },
    "JobStatus": {
        "type": "object",
        "required": ["job_id", "key", "state"],
        "properties": {
            "job_id": {"type": "string"},
            "key": {"type": "string"},
            "state": {"type": "string", "enum": ["queued", "running", "done", "error", "cancelled"]},
            "stage": {"type": ["string", "null"]},
            "progress": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "queue_position": {"type": ["integer", "null"]},
            "error": {"type": ["string", "null"]},
            "error_kind": {"type": ["string", "null"],
                           "description": "input (the request cannot be analysed: change it), or unavailable, timeout, "
                                          "lost, internal (try again, or ask the operator)."},
            "created_at": {"type": ["number", "null"]},
            "started_at": {"type": ["number", "null"]},
            "finished_at": {"type": ["number", "null"]},
            "worker": {"type": ["string", "null"], "description": "host:pid of the worker process"},
            "request": {"type": ["object", "null"]},
            "queue": {"type": "string"},
            "deliveries": {"type": "integer", "description": "More than 1 after a lost worker's job was redelivered."},
            "cancel_requested": {"type": "boolean"},
        },
    },
    "Analysis": {
        "type": "object",
        "description": "Analysis.to_json plus provenance; attention and attention_sensitivity only with ?full=1.",
        "required": ["key", "status", "model", "task", "tokens", "predictions"],
        "properties": {
            "key": {"type": "string"},
            "status": {"const": "done"},
            "model": {"type": "string"},
            "task": {"type": "string"},
            "text": {"type": "string"},
            "pair": {"type": ["string", "null"]},
            "tokens": {"type": "array", "items": {"type": "string"}},
            "token_words": {"type": "array", "items": {"type": ["integer", "null"]}, "description": "Word index of each token."},
            "words": {"type": "array", "items": {"type": "string"}},
            "mask_position": {"type": ["integer", "null"]},
            "predictions": {"type": "array", "items": {"type": "object"}},
            "target": {"type": ["object", "null"], "description": "{label, index}: what the saliency explains."},
            "truncated": {"type": "boolean"},
            "saliency_info": {"type": "object"},
            "stages_done": {"type": "array", "items": {"type": "string"}},
            "saliency": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "number"}}},
            "head_stats": {"type": "object"},
            "timings": {"type": "object"},
            "created_at": {"type": ["number", "null"]},
            "compute_seconds": {"type": ["number", "null"]},
            "worker": {"type": ["string", "null"]},
            "queue": {"type": ["string", "null"]},
            "device": {"type": ["string", "null"]},
            "attention": {"type": ["array", "null"], "description": "[layers][heads][n][n]"},
            "attention_sensitivity": {"type": ["array", "null"], "description": "[layers][n][n]"},
        },
    },
    "Pending": {
        "type": "object",
        "required": ["key", "status"],
        "properties": {"key": {"type": "string"}, "status": {"type": "string"}, "job": _ref("JobStatus")},
    },
    "AnalysisIndex": {
        "type": "object",
        "required": ["items", "total", "limit", "offset"],
        "properties": {
            "items": {"type": "array", "items": {"type": "object"}},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
        },
    },
    "Model": {
        "type": "object",
        "required": ["id", "tasks", "available"],
        "properties": {
            "id": {"type": "string"},
            "tasks": {"type": "array", "items": {"type": "string"}},
            "labels": {"type": ["array", "null"], "items": {"type": "string"}},
            "description": {"type": "string"},
            "available": {"type": "boolean"},
            "where": {"type": "string"},
            "detail": {"type": "string"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "checks": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {"ok": {"type": "boolean"}, "detail": {"type": "string"}},
                },
            },
        },
    },
}

_PATHS: dict[str, Any] = {
    "/api/health": {
        "get": {
            "summary": "Web, broker and cache reachable",
            "security": [],
            "responses": {"200": _json("All reachable.", _ref("Health")), "503": _json("Something is down.", _ref("Health"))},
        }
    },
    "/api/models": {
        "get": {
            "summary": "The model registry, with availability on this server",
            "responses": {"200": _json("Models.", {"type": "object", "properties": {"models": {"type": "array", "items": _ref("Model")}}}),
                          **_COMMON_ERRORS},
        }
    },
    "/api/analyses": {
        "post": {
            "summary": "Ask for an analysis: answered from the cache, or queued",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("AnalysisRequest")}}},
            "responses": {
                "200": _json("Already cached.", _ref("Submission")),
                "202": {**_json("Queued (or following an identical running job).", _ref("Submission")),
                        "headers": {"Location": {"schema": {"type": "string"}, "description": "GET this for the result."}}},
                "400": _error("Body is not valid JSON or does not match AnalysisRequest."),
                "413": _error("Body too large."),
                "415": _error("Body is not JSON."),
                "422": _error("The request cannot be analysed (empty text, unknown model, mask rules, ...)."),
                **_COMMON_ERRORS,
            },
        },
        "get": {
            "summary": "The History index of cached analyses, newest first",
            "parameters": [
                {"name": "model", "in": "query", "schema": {"type": "string"}},
                {"name": "task", "in": "query", "schema": {"type": "string"}},
                {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "Substring of text or pair, any case."},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
            ],
            "responses": {"200": _json("One page.", _ref("AnalysisIndex")), "400": _error("Bad limit or offset."), **_COMMON_ERRORS},
        },
    },
    "/api/analyses/{key}": {
        "parameters": [_KEY],
        "get": {
            "summary": "One analysis (JSON); ?full=1 adds the attention arrays",
            "parameters": [
                {"name": "full", "in": "query", "schema": {"type": "string", "enum": ["0", "1"]}},
                {"name": "job", "in": "query", "schema": {"type": "string"},
                 "description": "The job computing it (from the submit's Location): while it runs, 202 with its status."},
            ],
            "responses": {
                "200": _json("The analysis.", _ref("Analysis")),
                "202": _json("Still computing.", _ref("Pending")),
                "404": _error("Unknown key."),
                **_COMMON_ERRORS,
            },
        },
        "delete": {
            "summary": "Remove an analysis from the cache and the index",
            "responses": {"200": _json("Deleted.", {"type": "object"}), "404": _error("Unknown key."), **_COMMON_ERRORS},
        },
    },
    "/api/analyses/{key}.npz": {
        "parameters": [_KEY],
        "get": {
            "summary": "All arrays of an analysis as a NumPy .npz download",
            "responses": {
                "200": {"description": "The arrays.", "content": {"application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}},
                "404": _error("Unknown key."),
                **_COMMON_ERRORS,
            },
        },
    },
    "/api/jobs/{job_id}": {
        "parameters": [_JOB_ID],
        "get": {
            "summary": "Status of a job: state, stage, progress, queue position, error",
            "responses": {"200": _json("The job.", _ref("JobStatus")), "404": _error("Unknown job."), **_COMMON_ERRORS},
        },
        "delete": {
            "summary": "Cancel a job (queued: skipped; running: stops at the next stage)",
            "responses": {
                "200": _json("Whether it was cancelled, and the job now.",
                             {"type": "object", "properties": {"cancelled": {"type": "boolean"}, "job": _ref("JobStatus")}}),
                "404": _error("Unknown job."),
                **_COMMON_ERRORS,
            },
        },
    },
    "/api/openapi.json": {
        "get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3.1 JSON."}}},
    },
}


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
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "INTERPBOARD_TOKEN"},
                "basic": {"type": "http", "scheme": "basic", "description": "INTERPBOARD_USERS"},
            },
        },
        # Either scheme, or none when the deployment has auth off.
        "security": [{"token": []}, {"basic": []}, {}],
    }
