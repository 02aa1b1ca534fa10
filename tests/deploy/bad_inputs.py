"""Bad requests for the JSON API, each with the 4xx it must get. Shared by tests and benchmarks/faults.py.

Needs the tiny-model registry (tests/tiny_models.py) for the model ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

UNKNOWN_KEY = "0" * 64
JSON = "application/json"


@dataclass(frozen=True)
class BadInput:
    name: str
    method: str
    path: str
    status: int
    body: bytes | None = None
    content_type: str | None = None


def _post(
    name: str, status: int, payload: object = None, *, raw: bytes | None = None, content_type: str = JSON
) -> BadInput:
    body = raw if raw is not None else orjson.dumps(payload)
    return BadInput(name, "POST", "/api/analyses", status, body, content_type)


def _req(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {"model": "tiny-bert-sst", "task": "sst", "text": "the movie was great"}
    return {k: v for k, v in {**base, **changes}.items() if v is not ...}


MLM = {"model": "tiny-bert-mlm", "task": "mlm"}
MNLI = {"model": "tiny-bert-mnli", "task": "mnli"}
SIM = {"model": "tiny-bert-sim", "task": "similarity"}
GPT = {"model": "tiny-gpt2", "task": "causal-lm"}

BAD_INPUTS: list[BadInput] = [
    # Not JSON at all: 415.
    _post("text/plain body", 415, _req(), content_type="text/plain"),
    _post(
        "form body",
        415,
        raw=b"model=tiny-bert-sst&task=sst",
        content_type="application/x-www-form-urlencoded",
    ),
    _post("no content type", 415, _req(), content_type=""),
    # Not parseable, or the wrong shape: 400.
    _post("empty body", 400, raw=b""),
    _post("truncated JSON", 400, raw=b'{"model": "tiny-bert-sst", '),
    _post("invalid UTF-8", 400, raw=b'{"model": "\xff\xfe"}'),
    _post("JSON array", 400, [_req()]),
    _post("JSON string", 400, "the movie was great"),
    _post("JSON null", 400, None),
    _post("missing model", 400, _req(model=...)),
    _post("missing task", 400, _req(task=...)),
    _post("missing text", 400, _req(text=...)),
    _post("unknown field", 400, _req(temperature=0.7)),
    _post("model is a number", 400, _req(model=42)),
    _post("model is empty", 400, _req(model="")),
    _post("text is a list", 400, _req(text=["the", "movie"])),
    _post("unknown task", 400, _req(task="summarize")),
    _post("top_k zero", 400, _req(top_k=0)),
    _post("top_k too large", 400, _req(top_k=1000)),
    _post("top_k a string", 400, _req(top_k="5")),
    _post("top_k a boolean", 400, _req(top_k=True)),
    _post("ig_steps negative", 400, _req(ig_steps=-1)),
    _post("mask_index negative", 400, {**MLM, "text": "the movie", "mask_index": -1}),
    _post("unknown method in list", 400, _req(methods=["grad_norm", "telepathy"])),
    _post("methods a number", 400, _req(methods=5)),
    _post(
        "methods nested too deep",
        400,
        raw=b'{"model": "tiny-bert-sst", "task": "sst", "text": "x", "methods": '
        + b"[" * 1000
        + b"]" * 1000
        + b"}",
    ),
    _post("model name of 100 KB", 400, _req(model="m" * 100_000)),
    _post("target of 100 KB", 400, _req(target="t" * 100_000)),
    _post("a list of 10k unknown methods", 400, _req(methods=["telepathy"] * 10_000)),
    # Well-formed, but cannot be analysed: 422 with the reason.
    _post("empty text", 422, _req(text="")),
    _post("invisible text", 422, _req(text=" \u200b\t\n ")),
    _post("text too long", 422, _req(text="word " * 4001)),
    _post("unknown model", 422, _req(model="gpt-17")),
    _post("model does not serve task", 422, _req(task="mlm", text="the [MASK] was great")),
    _post("mlm without a mask", 422, {**MLM, "text": "the movie was great"}),
    _post("mlm with two masks", 422, {**MLM, "text": "the [MASK] was [MASK]"}),
    _post("mlm mask and mask_index", 422, {**MLM, "text": "the [MASK] was great", "mask_index": 1}),
    _post("mask_index on sst", 422, _req(mask_index=1)),
    _post("mnli without hypothesis", 422, {**MNLI, "text": "a man plays guitar"}),
    _post("sst with a pair", 422, _req(pair="a second sentence")),
    _post("unknown method in string", 422, _req(methods="grad_norm,telepathy")),
    # Ruled out by the model's tokenizer or labels, at the web (dashapp/input_checks.py), not in the worker.
    _post("mask_index out of range", 422, {**MLM, "text": "the movie was great", "mask_index": 50}),
    _post("mask_index on a special token", 422, {**MLM, "text": "the movie was great", "mask_index": 0}),
    _post("unknown target label", 422, _req(target="no-such-label")),
    _post("target on similarity", 422, {**SIM, "text": "a cat", "pair": "a dog", "target": "x"}),
    _post("causal-lm target of many tokens", 422, {**GPT, "text": "the cat", "target": "xyzzyplughqwv"}),
    # Too big: 413.
    _post("body over the size limit", 413, _req(text="x" * 300_000)),
    # Unknown things to read or delete: 404; bad paging: 400; wrong verb: 405.
    BadInput("malformed key", "GET", "/api/analyses/not-a-key", 404),
    BadInput("unknown key", "GET", f"/api/analyses/{UNKNOWN_KEY}", 404),
    BadInput("unknown key with unknown job", "GET", f"/api/analyses/{UNKNOWN_KEY}?job=nope", 404),
    BadInput("unknown npz", "GET", f"/api/analyses/{UNKNOWN_KEY}.npz", 404),
    BadInput("delete unknown analysis", "DELETE", f"/api/analyses/{UNKNOWN_KEY}", 404),
    BadInput("unknown job", "GET", "/api/jobs/nope", 404),
    BadInput("cancel unknown job", "DELETE", "/api/jobs/nope", 404),
    BadInput("limit zero", "GET", "/api/analyses?limit=0", 400),
    BadInput("limit not a number", "GET", "/api/analyses?limit=many", 400),
    BadInput("offset negative", "GET", "/api/analyses?offset=-1", 400),
    BadInput("unknown endpoint", "GET", "/api/everything", 404),
    BadInput("the API's root", "GET", "/api", 404),
    BadInput("the API's root with a slash", "GET", "/api/", 404),
    BadInput("wrong method on health", "POST", "/api/health", 405),
    BadInput("wrong method", "PUT", "/api/analyses", 405),
]
