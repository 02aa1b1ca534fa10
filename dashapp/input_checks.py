"""What the web checks of a request with the model's tokenizer and config alone, before queueing it.

The worker would refuse these anyway, but only after the request waited in the queue; here they are
a 422 at once. Torch-free: the tokenizer is the `tokenizers` library (Rust) reading the model's
tokenizer.json, the labels come from its config.json or the registry. Where a file is missing the
check is left to the worker: this never refuses a request the worker would accept. The messages are
the engine's own (interp/tokens.py, interp/tasks/).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from interp.registry import ModelSpec, load_registry
from interp.request import replace_mask_marker
from interp.schema import AnalysisRequest, InputError
from interp.task_specs import TargetKind, task_spec


def check_input(request: AnalysisRequest) -> None:
    """InputError for a request its model's tokenizer or labels already rule out."""
    spec = task_spec(request.task)
    if request.target is not None and spec.target is TargetKind.NONE:
        raise InputError(f"{spec.name} explains {spec.explains}; it takes no target")
    model = load_registry().check(request)
    folder = _model_folder(model)
    if folder is None:
        return
    if request.target is not None and spec.target is TargetKind.CLASS:
        _check_label(request.target, model, folder)
    tokenizer = _tokenizer(folder)
    if tokenizer is None:
        return
    if request.target is not None and spec.target is TargetKind.TOKEN:
        _check_single_token(request.target, model, tokenizer)
    if spec.needs_mask:
        _check_mask(request, tokenizer)


def _model_folder(model: ModelSpec) -> Path | None:
    local = model.local_dir()
    if local is not None:
        return local if local.is_dir() else None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(model.path, "config.json", revision=model.revision)
    return Path(found).parent if isinstance(found, str) else None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _check_label(wanted: str, model: ModelSpec, folder: Path) -> None:
    labels = model.labels
    if labels is None:
        config = _read_json(folder / "config.json") or {}
        id2label = config.get("id2label")
        if not isinstance(id2label, dict) or not id2label:
            return
        labels = tuple(str(id2label.get(str(i), f"LABEL_{i}")) for i in range(len(id2label)))
    if not any(wanted.lower() == name.lower() or wanted == str(i) for i, name in enumerate(labels)):
        raise InputError(f"unknown target label {wanted!r}; model {model.id} has labels {', '.join(labels)}")


class _Tokenizer:
    """A model's tokenizer.json plus the special tokens its tokenizer_config.json names."""

    def __init__(self, folder: Path) -> None:
        self.backend = Tokenizer.from_file(str(folder / "tokenizer.json"))
        config = {
            **(_read_json(folder / "special_tokens_map.json") or {}),
            **(_read_json(folder / "tokenizer_config.json") or {}),
        }
        self.mask_token = _token_text(config.get("mask_token"))
        unk = _token_text(config.get("unk_token"))
        self.unk_id = None if unk is None else self.backend.token_to_id(unk)


def _token_text(value: Any) -> str | None:
    if isinstance(value, dict):  # {"content": "[MASK]", ...}
        value = value.get("content")
    return value if isinstance(value, str) and value else None


def _tokenizer(folder: Path) -> _Tokenizer | None:
    path = folder / "tokenizer.json"
    try:
        return _cached_tokenizer(folder, path.stat().st_mtime_ns)
    except Exception:  # noqa: BLE001 - no usable tokenizer.json: the worker decides
        return None


@lru_cache(maxsize=16)
def _cached_tokenizer(folder: Path, _mtime: int) -> _Tokenizer:
    return _Tokenizer(folder)


def _check_single_token(wanted: str, model: ModelSpec, tokenizer: _Tokenizer) -> None:
    backend = tokenizer.backend
    if backend.token_to_id(wanted) is not None:
        return
    pieces: list[str] = []
    for candidate in (wanted, " " + wanted):  # byte-level BPE spells a word after a space differently
        encoding = backend.encode(candidate, add_special_tokens=False)
        if len(encoding.ids) == 1 and encoding.ids[0] != tokenizer.unk_id:
            return
        pieces = pieces or encoding.tokens
    raise InputError(
        f"target {wanted!r} is not a single token of model {model.id}'s vocabulary "
        f"(it splits into {' '.join(pieces) or 'nothing'})"
    )


def _check_mask(request: AnalysisRequest, tokenizer: _Tokenizer) -> None:
    if tokenizer.mask_token is None:
        return  # the worker says the model has no mask token
    text = replace_mask_marker(request.text, tokenizer.mask_token)
    encoding = tokenizer.backend.encode(text, request.pair)
    if request.mask_index is not None:
        i, n = request.mask_index, len(encoding.ids)
        if i >= n:
            raise InputError(f"mask index {i} is out of range: the input has {n} tokens (0 to {n - 1})")
        if encoding.special_tokens_mask[i]:
            raise InputError(f"mask index {i} points at a special token, not at a word")
        return
    mask_id = tokenizer.backend.token_to_id(tokenizer.mask_token)
    found = sum(1 for t in encoding.ids if t == mask_id)
    if found == 0:
        raise InputError(
            "the mask was lost in tokenisation; write it as [MASK] or <mask> with spaces around it"
        )
    if found > 1:
        raise InputError("only one mask per request")
