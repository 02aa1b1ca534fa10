"""Content-addressed keys: the same request gives the same key on every machine."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson


def canonical_json(payload: dict[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8: byte-identical for equal payloads."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def content_key(payload: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()
