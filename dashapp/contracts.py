"""The JSON API's answers as pydantic models: the OpenAPI document is generated from them.

The request (`AnalysisRequest`) and the job (`JobStatus`) are the job layer's own models; these
are the shapes only the API writes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workers.jobs import JobState, JobStatus


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Error(_Answer):
    error: str


class Submitted(_Answer):
    key: str
    status: Literal["done"] | JobState
    job_id: str | None
    cached: bool


class PartState(_Answer):
    """One part of an analysis (core, saliency.<method>, sensitivity.<layer>)."""

    state: Literal["done", "offered", "queued", "running"] = Field(
        description="offered: over the part budget, computed on request (POST .../parts)."
    )
    estimate_s: float | None = Field(None, description="Estimated seconds of work on the worker's device.")
    job_id: str | None = Field(None, description="The job computing it (queued or running).")


class PartsRequest(_Answer):
    parts: list[str] = Field(
        min_length=1,
        max_length=256,
        description='Part names, e.g. ["sensitivity.3", "saliency.integrated_gradients"].',
    )


class PartsAsked(_Answer):
    key: str
    parts: dict[str, PartState]
    jobs: list[str] = Field(description="The jobs to poll (GET /api/jobs/{job_id}) until the parts are done.")


class AnalysisSummary(_Answer):
    """Analysis.to_json plus provenance; attention and attention_sensitivity only with ?full=1."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    status: Literal["done"]
    model: str
    task: str
    text: str | None = None
    pair: str | None = None
    tokens: list[str]
    token_words: list[int | None] = Field([], description="Word index of each token.")
    words: list[str] = []
    mask_position: int | None = None
    predictions: list[Any] = Field(
        description="[{label, score, ...}]; seq2seq: one such list per target token."
    )
    target: dict[str, Any] | None = Field(None, description="{label, index}: what the saliency explains.")
    truncated: bool = False
    tokens_before_truncation: int | None = Field(
        None, description="When truncated: how many tokens the input had (len(tokens) were kept)."
    )
    saliency_info: dict[str, Any] = {}
    stages_done: list[str] = []
    saliency: dict[str, list[Any]] = Field(
        {}, description="method -> [n] scores; seq2seq: method -> [target tokens][source + target tokens]."
    )
    head_stats: dict[str, Any] = {}
    timings: dict[str, Any] = {}
    created_at: float | None = None
    compute_seconds: float | None = None
    worker: str | None = None
    queue: str | None = None
    device: str | None = None
    attention: list[Any] | None = Field(None, description="[layers][heads][n][n]")
    attention_sensitivity: list[Any] | None = Field(None, description="[layers][n][n]")
    source_tokens: list[str] | None = Field(None, description="seq2seq: the encoder's tokens.")
    target_tokens: list[str] | None = Field(None, description="seq2seq: the target (given or generated).")
    decoder_tokens: list[str] | None = Field(None, description="seq2seq: the decoder's input tokens.")
    encoder_attention: list[Any] | None = Field(None, description="seq2seq, ?full=1: [layers][heads][ns][ns]")
    decoder_attention: list[Any] | None = Field(None, description="seq2seq, ?full=1: [layers][heads][nt][nt]")
    cross_attention: list[Any] | None = Field(None, description="seq2seq, ?full=1: [layers][heads][nt][ns]")
    generated: list[str] | None = Field(None, description="causal-lm with generate: the generated tokens.")
    steps: list[dict[str, Any]] | None = Field(
        None, description="causal-lm with generate: [{token, position, predictions, saliency}] per step."
    )
    architecture: dict[str, Any] = Field(
        {},
        description="interp.architecture.describe: query and key/value heads "
        "(GQA), per-layer global/sliding attention and window, soft-caps.",
    )
    logit_lens: list[list[dict[str, Any]]] | None = Field(
        None, description="Token tasks: per layer, the top-k {label, score, token_id} of its residual stream."
    )
    logit_lens_target: list[dict[str, Any]] | None = Field(
        None, description="Per layer, the target token's {rank (1 = top), score}."
    )
    candidate_scores: list[dict[str, Any]] | None = Field(
        None,
        description="With the request's candidates: per word {word, score (null: not one token), "
        "single_token, token_ids, pieces}.",
    )
    parts: dict[str, PartState] = Field(
        {}, description="One-pass tasks: each part with its state (empty: computed whole)."
    )


class Pending(_Answer):
    key: str
    status: JobState
    job: JobStatus


class NotComputed(_Answer):
    error: str
    job: JobStatus


class AnalysisIndex(_Answer):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


class ModelRow(_Answer):
    id: str
    tasks: list[str]
    labels: list[str] | None
    description: str
    available: bool
    where: str
    detail: str


class Models(_Answer):
    models: list[ModelRow]
    source: str


class Check(_Answer):
    ok: bool
    detail: str | None = None  # addresses and pids: left out for the unauthenticated when auth is on


class Health(_Answer):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Check]


class Deleted(_Answer):
    key: str
    deleted: bool


class Cancelled(_Answer):
    cancelled: bool
    job: JobStatus
