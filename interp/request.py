"""The analysis request: one pydantic model that validates, normalises and documents itself.

Torch-free. Built once at each edge (API, CLI, Dash pages) with one call, and parsed again with the
same model by a worker reading its own queue. Every problem is an `InputError` naming it for the
user; a `MalformedRequest` (wrong type, unknown field, value out of range: the API's 400) is one of them.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from interp.task_specs import TASK_SPECS, TASKS

# Bump whenever a change to the engine can change a result: it is part of every cache key.
ENGINE_VERSION = "1"

SALIENCY_METHODS = ("grad_norm", "grad_x_input", "integrated_gradients", "attention_rollout")
METHODS = (*SALIENCY_METHODS, "attention_sensitivity")
DEFAULT_TOP_K = 10
DEFAULT_IG_STEPS = 50
MAX_TEXT_CHARS = 20_000
MAX_MESSAGE = 300  # longest message about a malformed request (never a whole rejected value)
LIMITS = {"top_k": (1, 100), "ig_steps": (1, 1000), "generate": (1, 64), "max_new_tokens": (1, 64)}
MAX_CANDIDATES, MAX_CANDIDATE_CHARS = 200, 100  # Compare asks for the union of up to 4 models' top-k
DEFAULT_MAX_NEW_TOKENS = 20  # seq2seq without a target text generates at most this many tokens
# Fields added after the first cache keys were made: left out of to_dict (and so of every key) while unset.
_UNSET_OMITTED = ("generate", "sample_seed", "max_new_tokens", "candidates")

# Users may write either common mask spelling; the engine swaps in the tokenizer's own mask token,
# so one sentence can be compared across BERT ([MASK]) and RoBERTa (<mask>).
MASK_MARKERS = ("[MASK]", "<mask>")
_MASK_RE = re.compile(r"\[MASK\]|<mask>")


class InputError(ValueError):
    """A request that can never succeed: the message names the problem for the user."""


class MalformedRequest(InputError):
    """The request's shape is wrong (type, unknown field, range), not its content."""


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


Task = Literal[TASKS]  # type: ignore[valid-type]
Method = Literal[METHODS]  # type: ignore[valid-type]
_OPTIONAL = ("methods", "top_k", "ig_steps")  # null means the default


class AnalysisRequest(BaseModel):
    """One analysis a user asks for. Normalised and validated on construction."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    model: str = Field(
        min_length=1, max_length=200, strict=True, description="A model id from GET /api/models."
    )
    task: Task
    text: str = Field(strict=True, description="The input; for mlm write [MASK] (or <mask>) once.")
    pair: str | None = Field(None, description="Hypothesis (mnli) or second sentence (similarity).")
    mask_index: int | None = Field(
        None,
        ge=0,
        strict=True,
        description="mlm: mask the token at this index (of the tokenized input, special tokens included, "
        "as the analysis's `tokens` list them) instead of writing [MASK].",
    )
    target: str | None = Field(
        None,
        max_length=1000,
        description="Label or token the saliency explains (default: the top prediction).",
    )
    methods: tuple[Method, ...] | Annotated[str, Field(max_length=1000)] = Field(
        METHODS, description="Saliency methods: a list, or a comma-separated string. Default: all."
    )
    top_k: int = Field(DEFAULT_TOP_K, ge=LIMITS["top_k"][0], le=LIMITS["top_k"][1], strict=True)
    ig_steps: int = Field(DEFAULT_IG_STEPS, ge=LIMITS["ig_steps"][0], le=LIMITS["ig_steps"][1], strict=True)
    generate: int | None = Field(
        None,
        ge=LIMITS["generate"][0],
        le=LIMITS["generate"][1],
        strict=True,
        description="causal-lm: generate this many tokens and explain each step.",
    )
    sample_seed: int | None = Field(
        None, ge=0, strict=True, description="With generate: sample with this seed instead of greedy."
    )
    max_new_tokens: int | None = Field(
        None,
        ge=LIMITS["max_new_tokens"][0],
        le=LIMITS["max_new_tokens"][1],
        strict=True,
        description=f"seq2seq without a target text: generate at most this many (default {DEFAULT_MAX_NEW_TOKENS}).",
    )
    candidates: tuple[Annotated[str, Field(max_length=MAX_CANDIDATE_CHARS)], ...] | None = Field(
        None,
        min_length=1,
        max_length=MAX_CANDIDATES,
        description="mlm, causal-lm: also score these words at the read position, each by the model's own "
        "probability from its full distribution (`candidate_scores`); a word that is not one token of "
        "the model's vocabulary is marked, without a probability.",
    )

    def __init__(self, *args: Any, **values: Any) -> None:
        """Fields by name, or model, task, text, pair in order; InputError for any problem."""
        values.update(zip(("model", "task", "text", "pair"), args, strict=False))
        try:
            super().__init__(**{k: v for k, v in values.items() if not (k in _OPTIONAL and v is None)})
        except ValidationError as exc:
            raise _input_error(exc) from None

    @classmethod
    def from_dict(cls, data: Any) -> AnalysisRequest:
        """Build from untrusted JSON (API, a job record); unknown fields are an error."""
        if not isinstance(data, dict):
            raise MalformedRequest("request must be a JSON object")
        return cls(**data)

    # --- normalisation (each field alone), then the rules between fields --------------------

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("model id is required")
        return value.strip()

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        text = normalize_text(value)
        if not _visible(text):
            raise ValueError("text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(f"text is longer than {MAX_TEXT_CHARS} characters")
        return text

    @field_validator("pair", "target")
    @classmethod
    def _optional_text(cls, value: str | None) -> str | None:
        return normalize_text(value) or None

    @field_validator("candidates")
    @classmethod
    def _candidates(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        words = [normalize_text(word) for word in value]
        if not all(words):
            raise ValueError("a candidate word is empty")
        first: dict[str, str] = {}  # a word is scored whatever its case (interp.tasks.token.word_scores)
        for word in words:
            first.setdefault(word.casefold(), word)  # type: ignore[union-attr]
        return tuple(first.values())

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: tuple[str, ...] | str) -> tuple[str, ...]:
        methods = tuple(m for m in value.split(",") if m) if isinstance(value, str) else value
        unknown = [m for m in methods if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown method(s) {', '.join(unknown)}; expected some of {', '.join(METHODS)}")
        return tuple(m for m in METHODS if m in methods)  # canonical order, no duplicates

    @model_validator(mode="after")
    def _task_rules(self) -> AnalysisRequest:
        spec = TASK_SPECS[self.task]
        if spec.takes_pair and (self.pair or spec.pair_required):
            if not self.pair or not _visible(self.pair):
                raise ValueError(f"task {self.task} needs a {spec.pair_label.lower()} (pair text)")
            if len(self.pair) > MAX_TEXT_CHARS:
                raise ValueError(f"pair text is longer than {MAX_TEXT_CHARS} characters")
        elif self.pair:
            raise ValueError(f"task {self.task} takes one text, not a pair")
        masks = count_masks(self.text)
        if spec.needs_mask:
            if self.mask_index is None and masks == 0:
                raise ValueError(
                    "masked-word prediction needs a mask: write [MASK] in the text or give a mask index"
                )
            if masks > 1 or (masks == 1 and self.mask_index is not None):
                raise ValueError(
                    "only one mask per request: the text has more than one [MASK], "
                    "or both a [MASK] and a mask index"
                )
        elif self.mask_index is not None:
            raise ValueError(f"mask index only applies to the mlm task, not {self.task}")
        return self._generation_rules()

    def _generation_rules(self) -> AnalysisRequest:
        if self.candidates is not None and (not TASK_SPECS[self.task].predicts_word or self.generate):
            words = ", ".join(name for name, spec in TASK_SPECS.items() if spec.predicts_word)
            raise ValueError(
                f"candidate words only apply to tasks that predict one word ({words}), not generating"
            )
        if self.generate is not None and self.task != "causal-lm":
            raise ValueError(f"generate only applies to the causal-lm task, not {self.task}")
        if self.sample_seed is not None and self.generate is None:
            raise ValueError("a sample seed only applies when generating (generate)")
        if self.max_new_tokens is not None and (self.task != "seq2seq" or self.pair):
            raise ValueError("max new tokens only applies to seq2seq without a target text")
        if self.target is not None and (self.task == "seq2seq" or self.generate is not None):
            raise ValueError(
                "a generating or seq2seq request explains every target token; it takes no target"
            )
        return self

    # --- the shapes others need ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        dumped = self.model_dump()
        unset = [name for name in _UNSET_OMITTED if dumped[name] is None]
        out = {**{k: v for k, v in dumped.items() if k not in unset}, "methods": list(self.methods)}
        if self.candidates is not None:
            out["candidates"] = list(self.candidates)
        return out

    def key_payload(self, fingerprint: str) -> dict[str, Any]:
        """Everything that determines the result; hashed into the cache key (see cache.keys).

        A parameter enters only where it changes the result (ig_steps only with IG).
        """
        params: dict[str, Any] = {"top_k": self.top_k}
        if "integrated_gradients" in self.methods:
            params["ig_steps"] = self.ig_steps
        request = {name: value for name, value in self.to_dict().items() if name not in ("top_k", "ig_steps")}
        return {**request, "fingerprint": fingerprint, "params": params, "engine": ENGINE_VERSION}

    def with_(self, **changes: Any) -> AnalysisRequest:
        return type(self)(**{**self.to_dict(), **changes})


def _input_error(exc: ValidationError) -> InputError:
    """The first problem, in words for the user: a rule's own message, or what the field must be."""
    errors = exc.errors(include_url=False)  # inputs to tell kinds apart, never to quote
    extra = [str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden"]
    if extra:
        return MalformedRequest(_cut(f"unknown field(s): {', '.join(sorted(extra))}"))
    error = errors[0]
    if error["type"] == "value_error":  # our own rules: the request is well-formed, its content is not
        return InputError(str(error["ctx"]["error"]))
    return MalformedRequest(_cut(_shape_message(error)))


def _shape_message(error: ErrorDetails) -> str:
    name = str(error["loc"][0]) if error["loc"] else "request"
    if error["type"] == "missing" or (name in ("model", "task", "text") and error.get("input") is None):
        return f"{name} is required"
    if name in LIMITS:
        return f"{name} must be an integer between {LIMITS[name][0]} and {LIMITS[name][1]}"
    if name == "candidates":
        return (
            f"candidates must be a list of 1 to {MAX_CANDIDATES} words of at most "
            f"{MAX_CANDIDATE_CHARS} characters"
        )
    if name == "mask_index":
        return "mask index must be a non-negative integer"
    if name == "task":
        return f"unknown task; expected one of {', '.join(TASKS)}"
    if name == "model" and error["type"] == "string_too_short":
        return "model id is required"
    if name == "methods":
        if error["type"] == "literal_error" and isinstance(error.get("input"), str):
            return f"unknown method(s); expected some of {', '.join(METHODS)}"
        if error["type"] != "string_too_long":
            return "methods must be a list of method names, or a comma-separated string"
    if error["type"] == "string_type":
        return f"{name} must be a string"
    return f"{'.'.join(map(str, error['loc']))}: {error['msg']}"


def _cut(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + "…"
