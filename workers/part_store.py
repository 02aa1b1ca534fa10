"""An analysis computed in parts (interp.part_names), as the store keeps it and everyone reads it.

The analysis record under its key holds the core and the parts its first job computed; its meta lists
every part with its state (`done`, or `offered` with its estimate: over the part budget, computed on
request). A part computed later is an entry of its own beside it (`<key>.sensitivity.3`, no History
row), so a part job never rewrites the big record; reading the analysis merges them in. A part being
computed reads as `queued` or `running`: its job holds the claim `<key>.<part>` in the job records.
Torch-free: the web reads analyses through here.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from cache import ResultStore
from cache.base import part_key
from interp.part_names import Part, PartKind
from interp.schema import Analysis, storage_array

DONE, OFFERED, QUEUED, RUNNING = "done", "offered", "queued", "running"
MISSING = (OFFERED, QUEUED, RUNNING)


def pending(analysis: Analysis) -> list[str]:
    """The parts listed but not in the analysis."""
    return [name for name, part in analysis.parts.items() if part.get("state") != DONE]


def part_values(analysis: Analysis, name: str) -> tuple[np.ndarray, dict[str, float]] | None:
    """What part `name` adds to the analysis (values, saliency info), when it is there."""
    part = Part.parse(name)
    if part.kind is PartKind.SALIENCY and part.method in analysis.saliency:
        return analysis.saliency[part.method], dict(analysis.saliency_info.get(part.method, {}))
    if part.kind is PartKind.SENSITIVITY:
        values = analysis.sensitivity_of(part.layer)  # type: ignore[arg-type]
        return None if values is None else (values, {})
    return None


def with_part(analysis: Analysis, name: str, values: np.ndarray, info: dict[str, float]) -> Analysis:
    """The analysis with one more part in it (a new object: the one given is left as it was)."""
    part = Part.parse(name)
    out = replace(analysis, parts={**analysis.parts, name: {**analysis.parts.get(name, {}), "state": DONE}})
    if part.kind is PartKind.SALIENCY:
        out.saliency = {**analysis.saliency, part.method: values}  # type: ignore[dict-item]
        if info:
            out.saliency_info = {**analysis.saliency_info, part.method: info}  # type: ignore[dict-item]
        if "saliency" not in out.stages_done:
            out.stages_done = [*out.stages_done, "saliency"]
    elif part.kind is PartKind.SENSITIVITY:
        layers, n = analysis.num_layers, analysis.n_tokens
        stack = analysis.attention_sensitivity
        stack = np.full((layers, n, n), np.nan, np.float32) if stack is None else stack.copy()
        stack[part.layer] = values
        out.attention_sensitivity = stack
        if not np.isnan(stack).any() and "sensitivity" not in out.stages_done:
            out.stages_done = [*out.stages_done, "sensitivity"]
    return out


def part_record(name: str, values: np.ndarray, info: dict[str, float], extra: dict[str, Any]) -> tuple:
    """(meta, arrays) of a part stored on its own, at the precision the whole analysis keeps it in."""
    kind = Part.parse(name).kind
    stored = (
        storage_array("attention_sensitivity", values[None])[0]
        if kind is PartKind.SENSITIVITY
        else storage_array(f"saliency.{name}", values)
    )
    return {"part": name, "info": info, "created_at": time.time(), **extra}, {"values": stored}


def read(store: ResultStore, key: str) -> Analysis | None:
    """The analysis under `key` with every part stored beside it merged in."""
    record = store.get(key)
    if record is None:
        return None
    analysis = Analysis.from_record(record.meta, record.arrays)
    for name in store.stored_parts(key, pending(analysis)):
        part = store.get_part(key, name)
        if part is not None and "values" in part.arrays:
            values = np.asarray(part.arrays["values"], dtype=np.float32)
            analysis = with_part(analysis, name, values, dict(part.meta.get("info") or {}))
    return analysis


def landed(store: ResultStore, key: str, analysis: Analysis) -> bool:
    """Whether parts of `analysis` (read from `key`) have been stored since (cheap: nothing is decoded)."""
    return bool(analysis.parts) and bool(store.stored_parts(key, pending(analysis)))


def states(analysis: Analysis, live: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each part's state: as stored, or `queued`/`running` where a job is computing it (`live`)."""
    out = {}
    for name, part in analysis.parts.items():
        state = part.get("state", DONE)
        if state != DONE and name in live:
            state = live[name]
        out[name] = {**part, "state": state}
    return out


def entry(key: str, name: str) -> str:
    """The part's entry in the store and its claim in the job records."""
    return part_key(key, name)
