"""History index rows: the small, flat summary of one stored analysis, and the listing filter."""

from __future__ import annotations

import math
import time
import unicodedata
from typing import Any

ROW_FIELDS = ("key", "model", "task", "text", "pair", "created_at", "compute_seconds", "worker", "n_tokens")
_SCALARS = (str, int, float, bool, type(None))


def index_row(key: str, meta: dict[str, Any], stored_bytes: int) -> dict[str, Any]:
    """Scalar fields of meta["request"] and of meta itself, plus the fixed fields every row has.

    created_at defaults to now so a record without it still sorts sensibly.
    """
    request = meta.get("request") if isinstance(meta.get("request"), dict) else {}
    row: dict[str, Any] = dict.fromkeys(ROW_FIELDS)
    row.update((k, v) for source in (request, meta) for k, v in source.items() if isinstance(v, _SCALARS))
    created_at = row["created_at"] if row["created_at"] is not None else time.time()
    if (
        isinstance(created_at, bool)
        or not isinstance(created_at, (int, float))
        or not math.isfinite(created_at)
    ):
        raise ValueError(f"meta created_at must be a unix time in seconds, not {created_at!r}")
    tokens = meta.get("tokens")
    row.update(
        key=key,
        created_at=float(created_at),
        n_tokens=len(tokens) if isinstance(tokens, list) else row["n_tokens"],
        stored_bytes=stored_bytes,
    )
    return row


def row_filter(model: str | None = None, task: str | None = None, q: str | None = None):
    """A predicate on rows: model and task exact, q a case-insensitive substring of text or pair."""
    needle = _fold(q) if q else None

    def keep(row: dict[str, Any]) -> bool:
        if model is not None and row.get("model") != model:
            return False
        if task is not None and row.get("task") != task:
            return False
        if needle is None:
            return True
        return any(isinstance(row.get(f), str) and needle in _fold(row[f]) for f in ("text", "pair"))

    return keep


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()
