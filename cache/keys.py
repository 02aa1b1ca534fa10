"""Content-addressed keys: the same request gives the same key on every machine."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson


def canonical_json(payload: dict[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8: byte-identical for equal payloads."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def content_key(payload: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


KEY_PATTERN = re.compile(r"[0-9a-f]{64}")  # what content_key gives: sha256, lowercase hex


def is_key(value: object) -> bool:
    """Whether `value` can be a cache key (checked before a key from a URL reaches a store or a link)."""
    return isinstance(value, str) and KEY_PATTERN.fullmatch(value) is not None
