"""Request and result types shared by every room.

Torch-free on purpose: the Dash server, the cache and the job layer import this module without
pulling torch in. The engine (`interp.engine`) fills an `Analysis`; everyone else reads it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from interp.task_specs import PAIR_TASKS, TASK_SPECS, TASKS  # noqa: F401 (re-exported: rooms import them from here)

# Bump whenever a change to the engine can change a result: it is part of every cache key.
ENGINE_VERSION = "1"

SALIENCY_METHODS = ("grad_norm", "grad_x_input", "integrated_gradients", "attention_rollout")
METHODS = SALIENCY_METHODS + ("attention_sensitivity",)
DEFAULT_TOP_K = 10
DEFAULT_IG_STEPS = 50
MAX_TEXT_CHARS = 20_000

# Users may write either common mask spelling; the engine swaps in the tokenizer's own mask token,
# so one sentence can be compared across BERT ([MASK]) and RoBERTa (<mask>).
MASK_MARKERS = ("[MASK]", "<mask>")
_MASK_RE = re.compile(r"\[MASK\]|<mask>")


class InputError(ValueError):
    """A request that can never succeed: the message names the problem for the user."""


class ModelUnavailable(RuntimeError):
    """The model cannot be loaded here (not downloaded, offline, broken files); says which and why."""


def normalize_text(text: str | None) -> str | None:
    """NFC, and strip only the outer whitespace (inner spacing can change tokens)."""
    if text is None:
        return None
    return unicodedata.normalize("NFC", text).strip()


def count_masks(text: str) -> int:
    return len(_MASK_RE.findall(text))


def replace_mask_marker(text: str, mask_token: str) -> str:
    return _MASK_RE.sub(lambda _m: mask_token, text)


def _visible(text: str) -> str:
    """Text without whitespace, control and format (zero-width) characters."""
    return "".join(c for c in text if not c.isspace() and unicodedata.category(c) not in ("Cc", "Cf"))


@dataclass(frozen=True)
class AnalysisRequest:
    """One analysis a user asks for. Normalised and validated on construction."""

    model: str
    task: str
    text: str
    pair: str | None = None
    mask_index: int | None = None
    target: str | None = None
    methods: tuple[str, ...] = METHODS
    top_k: int = DEFAULT_TOP_K
    ig_steps: int = DEFAULT_IG_STEPS

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        if not isinstance(self.model, str) or not self.model.strip():
            raise InputError("model id is required")
        set_("model", self.model.strip())
        if self.task not in TASKS:
            raise InputError(f"unknown task {self.task!r}; expected one of {', '.join(TASKS)}")
        if not isinstance(self.text, str):
            raise InputError("text must be a string")
        text = normalize_text(self.text)
        if not _visible(text):
            raise InputError("text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise InputError(f"text is longer than {MAX_TEXT_CHARS} characters")
        set_("text", text)

        pair = normalize_text(self.pair) if self.pair is not None else None
        spec = TASK_SPECS[self.task]
        if spec.takes_pair:
            if not pair or not _visible(pair):
                raise InputError(f"task {self.task} needs a {spec.pair_label.lower()} (pair text)")
            if len(pair) > MAX_TEXT_CHARS:
                raise InputError(f"pair text is longer than {MAX_TEXT_CHARS} characters")
        elif pair:
            raise InputError(f"task {self.task} takes one text, not a pair")
        else:
            pair = None
        set_("pair", pair)

        masks = count_masks(text)
        if spec.needs_mask:
            if self.mask_index is None and masks == 0:
                raise InputError("masked-word prediction needs a mask: write [MASK] in the text or give a mask index")
            if masks > 1 or (masks == 1 and self.mask_index is not None):
                raise InputError("only one mask per request: the text has more than one [MASK], or both a [MASK] and a mask index")
        elif self.mask_index is not None:
            raise InputError(f"mask index only applies to the mlm task, not {self.task}")
        if self.mask_index is not None and (isinstance(self.mask_index, bool) or not isinstance(self.mask_index, int) or self.mask_index < 0):
            raise InputError("mask index must be a non-negative integer")

        target = normalize_text(self.target) if self.target is not None else None
        set_("target", target or None)

        methods = tuple(self.methods) if not isinstance(self.methods, str) else tuple(m for m in self.methods.split(",") if m)
        unknown = [m for m in methods if m not in METHODS]
        if unknown:
            raise InputError(f"unknown method(s) {', '.join(unknown)}; expected some of {', '.join(METHODS)}")
        set_("methods", tuple(m for m in METHODS if m in methods))  # canonical order, no duplicates
        for name, lo, hi in (("top_k", 1, 100), ("ig_steps", 1, 1000)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise InputError(f"{name} must be an integer between {lo} and {hi}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AnalysisRequest":
        """Build from untrusted JSON (API, Celery message); unknown fields are an error."""
        if not isinstance(data, dict):
            raise InputError("request must be a JSON object")
        known = {f.name for f in fields(cls)}
        extra = sorted(set(data) - known)
        if extra:
            raise InputError(f"unknown field(s): {', '.join(extra)}")
        for required in ("model", "task", "text"):
            if data.get(required) is None:
                raise InputError(f"{required} is required")
        values = dict(data)
        if "methods" in values and values["methods"] is not None:
            if not isinstance(values["methods"], (list, tuple, str)):
                raise InputError("methods must be a list of method names")
            if isinstance(values["methods"], (list, tuple)) and not all(isinstance(m, str) for m in values["methods"]):
                raise InputError("methods must be a list of method names")
        else:
            values.pop("methods", None)
        for opt in ("top_k", "ig_steps"):
            if values.get(opt) is None:
                values.pop(opt, None)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "task": self.task,
            "text": self.text,
            "pair": self.pair,
            "mask_index": self.mask_index,
            "target": self.target,
            "methods": list(self.methods),
            "top_k": self.top_k,
            "ig_steps": self.ig_steps,
        }

    def key_payload(self, fingerprint: str) -> dict[str, Any]:
        """Everything that determines the result; hashed into the cache key (see cache.keys).

        A parameter enters only where it changes the result (ig_steps only with IG).
        """
        params: dict[str, Any] = {"top_k": self.top_k}
        if "integrated_gradients" in self.methods:
            params["ig_steps"] = self.ig_steps
        request = {name: value for name, value in self.to_dict().items() if name not in ("top_k", "ig_steps")}
        return {**request, "fingerprint": fingerprint, "params": params, "engine": ENGINE_VERSION}

    def with_(self, **changes: Any) -> "AnalysisRequest":
        return replace(self, **changes)


# Arrays stored per analysis, with the precision the cache keeps them in.
ARRAY_DTYPES = {
    "attention": np.float16,  # [L, H, n, n]
    "attention_sensitivity": np.float16,  # [L, n, n]
    "head_entropy": np.float32,  # [L, H]
    "head_special_share": np.float32,  # [L, H]
    "head_mean_distance": np.float32,  # [L, H]
}


def _storage_array(name: str, values: np.ndarray) -> np.ndarray:
    """Cast to the stored dtype, rounding matrices to a grid no coarser than float16's own spacing
    at the array's largest values: the worst-case error stays float16's, while the many tiny
    values stop carrying noise bits nobody can see, and compress (stored size 0.40 -> 0.23 of float32).
    """
    dtype = ARRAY_DTYPES.get(name, np.float32)
    values = np.asarray(values, dtype=np.float32)
    if name == "attention":  # probabilities in [0, 1]: float16 spacing just below 1 is 2**-11
        values = np.round(values * 2.0**13) / 2.0**13
    elif name == "attention_sensitivity" and values.size:  # per layer, relative to the layer's largest norm
        top = np.abs(values).reshape(values.shape[0], -1).max(axis=1).reshape(-1, *[1] * (values.ndim - 1))
        step = np.where(top > 0, top * 2.0**-11, 1.0)
        values = np.round(values / step) * step
    return np.ascontiguousarray(values, dtype=dtype)


@dataclass
class Analysis:
    """What the engine computed for one request. Arrays are numpy; everything else is JSON-able.

    Parts may be missing while a job is running (stage by stage): `attention` arrives with the
    predictions, `saliency` and `attention_sensitivity` later. `stages_done` says which.
    """

    request: AnalysisRequest
    fingerprint: str
    tokens: list[str]
    token_words: list[int | None]  # word index of each token; None for special tokens
    words: list[str]  # the words, in order over text then pair
    token_segments: list[int]  # 0 = text, 1 = pair (similarity: the second sentence's tokens follow the first's)
    special_tokens: list[bool]
    predictions: list[dict[str, Any]]  # [{"label", "score", ...}], best first for mlm/causal-lm, model order for classes
    target: dict[str, Any] | None  # {"label", "index"} the saliency explains
    mask_position: int | None = None  # token index of the mask (mlm)
    truncated: bool = False
    attention: np.ndarray | None = None  # [L, H, n, n], rows sum to 1
    saliency: dict[str, np.ndarray] = field(default_factory=dict)  # method -> [n]
    saliency_info: dict[str, dict[str, float]] = field(default_factory=dict)  # e.g. IG completeness delta
    attention_sensitivity: np.ndarray | None = None  # [L, n, n]; row j = moved embedding, column k = attended token
    head_stats: dict[str, np.ndarray] = field(default_factory=dict)  # entropy / special_share / mean_distance -> [L, H]
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    stages_done: list[str] = field(default_factory=list)
    device: str = "cpu"

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def num_layers(self) -> int:
        return 0 if self.attention is None else int(self.attention.shape[0])

    @property
    def num_heads(self) -> int:
        return 0 if self.attention is None else int(self.attention.shape[1])

    # --- (de)serialisation: JSON metadata + named numpy arrays, never pickle -------------------

    def to_record(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Split into JSON metadata and arrays (cast to their storage precision)."""
        arrays: dict[str, np.ndarray] = {}
        if self.attention is not None:
            arrays["attention"] = self.attention
        if self.attention_sensitivity is not None:
            arrays["attention_sensitivity"] = self.attention_sensitivity
        for name, values in self.saliency.items():
            arrays[f"saliency.{name}"] = values
        for name, values in self.head_stats.items():
            arrays[f"head_{name}"] = values
        arrays = {k: _storage_array(k, v) for k, v in arrays.items()}
        meta = {
            "request": self.request.to_dict(),
            "fingerprint": self.fingerprint,
            "engine": ENGINE_VERSION,
            "tokens": self.tokens,
            "token_words": self.token_words,
            "words": self.words,
            "token_segments": self.token_segments,
            "special_tokens": self.special_tokens,
            "predictions": self.predictions,
            "target": self.target,
            "mask_position": self.mask_position,
            "truncated": self.truncated,
            "saliency_info": self.saliency_info,
            "timings": self.timings,
            "stages_done": self.stages_done,
            "device": self.device,
        }
        return meta, arrays

    @classmethod
    def from_record(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "Analysis":
        as32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
        return cls(
            request=AnalysisRequest.from_dict(meta["request"]),
            fingerprint=meta["fingerprint"],
            tokens=list(meta["tokens"]),
            token_words=list(meta["token_words"]),
            words=list(meta["words"]),
            token_segments=list(meta["token_segments"]),
            special_tokens=list(meta["special_tokens"]),
            predictions=list(meta["predictions"]),
            target=meta.get("target"),
            mask_position=meta.get("mask_position"),
            truncated=bool(meta.get("truncated", False)),
            attention=as32(arrays["attention"]) if "attention" in arrays else None,
            saliency={k.split(".", 1)[1]: as32(v) for k, v in arrays.items() if k.startswith("saliency.")},
            saliency_info=dict(meta.get("saliency_info") or {}),
            attention_sensitivity=as32(arrays["attention_sensitivity"]) if "attention_sensitivity" in arrays else None,
            head_stats={k[len("head_"):]: as32(v) for k, v in arrays.items() if k.startswith("head_")},
            timings=dict(meta.get("timings") or {}),
            stages_done=list(meta.get("stages_done") or []),
            device=meta.get("device", "cpu"),
        )

    def to_json(self, *, full: bool = False) -> dict[str, Any]:
        """The CLI/API shape: lists and floats only."""
        out: dict[str, Any] = {
            "model": self.request.model,
            "task": self.request.task,
            "text": self.request.text,
            "pair": self.request.pair,
            "tokens": self.tokens,
            "token_words": self.token_words,
            "words": self.words,
            "mask_position": self.mask_position,
            "predictions": self.predictions,
            "target": self.target,
            "saliency": {k: np.asarray(v, dtype=np.float64).round(7).tolist() for k, v in self.saliency.items()},
            "saliency_info": self.saliency_info,
            "head_stats": {k: np.asarray(v, dtype=np.float64).round(6).tolist() for k, v in self.head_stats.items()},
            "truncated": self.truncated,
            "timings": self.timings,
            "stages_done": self.stages_done,
        }
        if full:
            out["attention"] = None if self.attention is None else np.asarray(self.attention, dtype=np.float64).round(6).tolist()
            out["attention_sensitivity"] = (
                None if self.attention_sensitivity is None
                else np.asarray(self.attention_sensitivity, dtype=np.float64).round(7).tolist()
            )
        return out
