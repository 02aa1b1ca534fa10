"""Orchestration: one request (`analyze`) or a batch (`analyze_many`) through the stages.

Stages, each reported to `on_progress(progress, fraction, partial)` as an `interp.stages.Progress`: loading,
forward (predictions, attention, head statistics, logit lens), saliency, sensitivity (step l of L layers), done.
A callback that raises stops the work (that is how jobs are cancelled).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from interp import qk_capture
from interp.architecture import describe
from interp.attention import head_stats, request_attention
from interp.chat import tokenize_chat
from interp.checkpoints import checkpoint
from interp.loading import MODELS, LoadedModel
from interp.logit_lens import add_logit_lens
from interp.neurons import first_layers
from interp.registry import Registry, load_registry
from interp.saliency import GRADIENT_METHODS, Explainer
from interp.saliency import METHODS as SALIENCY
from interp.schema import Analysis, AnalysisRequest, InputError
from interp.sensitivity import attention_sensitivity
from interp.stages import Progress, Stage
from interp.tasks import TaskEngine, engine_for
from interp.tokens import Batch, Tokenized, block_diagonal, pad_batch, repeat_batch, tokenize
from interp.vjp_kernels import batched_backward

OnProgress = Callable[[Progress, float, Analysis | None], None]
# analyze_many batches at most this many requests (x their longest length in tokens) per pass.
MAX_BATCH = 16
MAX_BATCH_TOKENS = 4096


def analyze(
    request: AnalysisRequest, *, registry: Registry | None = None, on_progress: OnProgress | None = None
) -> Analysis:
    """Everything request.methods asks for (attention, predictions and head stats always)."""
    report = on_progress or (lambda *_: None)
    started = time.perf_counter()
    lm = model_for(registry or load_registry(), request)
    loading = time.perf_counter() - started
    report(Progress(Stage.LOADING), 0.05, None)
    item, target = prepare_input(request, lm)
    pipeline = engine_for(lm.task).own_pipeline(request)
    if pipeline is not None:  # seq2seq, generation: stages of their own
        with lm.lock:
            analysis = pipeline(lm, request, lambda s, f, a: report(s, f, None if a is None else replace(a)))
        analysis.timings = {"loading model": loading, **analysis.timings}
        return analysis

    def partial(stage: Progress, fraction: float, analyses: list[Analysis] | None) -> None:
        report(stage, fraction, replace(analyses[0]) if analyses else None)

    with lm.lock:
        [analysis] = _compute(lm, [request], [item], [target], partial)
    analysis.timings = {"loading model": loading, **analysis.timings}
    return analysis


def analyze_many(
    requests: Sequence[AnalysisRequest],
    *,
    registry: Registry | None = None,
    on_progress: OnProgress | None = None,
) -> list[Analysis | InputError]:
    """Analyses of many requests (batch precompute), in order; a bad request gives its InputError.

    Requests of the same model, task and parameters run as padded batches; the results equal
    one-by-one `analyze` calls up to float rounding. Progress reports carry no partial analysis.
    """
    report = on_progress or (lambda *_: None)
    registry = registry or load_registry()
    results: list[Analysis | InputError | None] = [None] * len(requests)
    groups: dict[tuple, list[_Prepared]] = {}
    for i, request in enumerate(requests):
        try:
            lm = model_for(registry, request)
            prepared = _Prepared(i, request, *prepare_input(request, lm))
            if engine_for(lm.task).own_pipeline(request) is not None:  # not batched with others
                results[i] = analyze(request, registry=registry)
                continue
        except InputError as exc:
            results[i] = exc
            continue
        key = (lm.spec, lm.task, request.methods, request.ig_steps, request.top_k)
        groups.setdefault(key, []).append(prepared)
    report(Progress(Stage.LOADING), 0.05, None)

    batches = [batch for members in groups.values() for batch in _batches(members)]
    for number, batch in enumerate(batches):
        lm = model_for(registry, batch[0].request)
        offset, share = 0.05 + 0.95 * number / len(batches), 0.95 / len(batches)

        def progress(
            stage: Progress,
            fraction: float,
            _: list[Analysis] | None,
            offset: float = offset,
            share: float = share,
        ) -> None:
            if stage.stage != Stage.DONE:  # said once, at the very end
                report(stage, offset + share * fraction, None)

        with lm.lock:
            analyses = _compute(
                lm, [m.request for m in batch], [m.item for m in batch], [m.target for m in batch], progress
            )
        for member, analysis in zip(batch, analyses):
            results[member.index] = analysis
    report(Progress(Stage.DONE), 1.0, None)
    return results  # type: ignore[return-value]


@dataclass
class _Prepared:
    index: int
    request: AnalysisRequest
    item: Tokenized
    target: dict[str, Any] | None


def model_for(registry: Registry, request: AnalysisRequest) -> LoadedModel:
    return MODELS.get(registry.check(request), request.task)


def prepare_input(request: AnalysisRequest, lm: LoadedModel) -> tuple[Tokenized, dict[str, Any] | None]:
    """Everything that can reject a request, checked before any computation."""
    engine = engine_for(lm.task)
    chat = lm.spec.chat_template and engine.takes_chat_prompts
    item = (tokenize_chat if chat else tokenize)(request, lm.tokenizer, lm.max_length)
    return item, engine.requested_target(request, lm)


def _batches(members: list[_Prepared]) -> list[list[_Prepared]]:
    """Requests of similar length together, within the batch limits."""
    size = lambda m: max(m.item.lengths) * len(m.item.lengths)  # noqa: E731 (padded tokens per request)
    batches: list[list[_Prepared]] = []
    for member in sorted(members, key=size):
        if (
            batches
            and len(batches[-1]) < MAX_BATCH
            and size(member) * (len(batches[-1]) + 1) <= MAX_BATCH_TOKENS
        ):
            batches[-1].append(member)
        else:
            batches.append([member])
    return batches


Report = Callable[[Progress, float, list[Analysis] | None], None]


def _compute(
    lm: LoadedModel,
    requests: list[AnalysisRequest],
    items: list[Tokenized],
    targets: list[dict[str, Any] | None],
    report: Report,
) -> list[Analysis]:
    """All stages for a batch of requests that share model, task and methods."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = (now - clock) / len(requests)  # a batch's time, shared by its requests
        clock = now

    batch = pad_batch(items, lm.device)
    with torch.no_grad():
        # [B, S, n, d], reused for every gradient; float32 whatever the model's precision (interp.saliency)
        embeds = lm.embeddings(batch.input_ids).float()
    methods = [m for m in requests[0].methods if m in SALIENCY]
    gradient = any(m in GRADIENT_METHODS for m in methods)
    analyses, backward = forward(lm, requests, items, targets, batch, embeds, gradient=gradient)
    lap("forward")
    _done(analyses, "forward", timings)
    report(Progress(Stage.FORWARD), 0.2, analyses)

    if methods:
        saliency_stage(lm, analyses, items, batch, embeds, methods, lap, backward)
        backward = None  # the graph's last references, before the sensitivity stage
        timings["saliency"] = sum(timings[f"saliency.{name}"] for name in methods)
        _done(analyses, "saliency", timings)
        report(Progress(Stage.SALIENCY), 0.4, analyses)

    if "attention_sensitivity" in requests[0].methods:
        maps = sensitivity_stage(
            lm,
            items,
            batch,
            embeds,
            lambda layer, layers: report(
                Progress(Stage.SENSITIVITY, layer, layers), 0.4 + 0.6 * layer / layers, None
            ),
        )
        for analysis, per_request in zip(analyses, maps):
            analysis.attention_sensitivity = per_request
        lap("sensitivity")
        _done(analyses, "sensitivity", timings)
    timings["total"] = sum(v for k, v in timings.items() if not k.startswith("saliency."))
    for analysis in analyses:
        analysis.timings = dict(timings)
    report(Progress(Stage.DONE), 1.0, analyses)
    return analyses


def forward(
    lm: LoadedModel,
    requests: list[AnalysisRequest],
    items: list[Tokenized],
    targets: list[dict[str, Any] | None],
    batch: Batch,
    embeds: torch.Tensor,
    *,
    gradient: bool = False,
) -> tuple[list[Analysis], Callable[[], torch.Tensor] | None]:
    """Predictions, attention, head statistics and logit lens: the analyses' first version.

    gradient: the forward runs with gradients on and also gives the target scalars' backward pass (the
    second value, for interp.saliency.Explainer: grad-norm and grad x input then need no forward of their
    own: one model forward less, about a fifth of the core's CPU time at 512 tokens). The graph is held until
    that is called.
    """
    engine, read_pos = engine_for(lm.task), _read_positions(engine_for(lm.task), items, lm)
    keep_qk = qk_capture.layout(lm.model, items[0].lengths) is not None
    leaf = embeds.detach().clone().requires_grad_() if gradient else embeds
    grad_mode = torch.enable_grad() if gradient else torch.inference_mode()
    with grad_mode, qk_capture.capturing(lm.model) if keep_qk else nullcontext([]) as caught:
        graph = engine.run(lm, leaf, batch, attentions=True, hidden_states=engine.has_logit_lens)
    outputs = _detached(graph) if gradient else graph
    with torch.inference_mode():
        preds = engine.predictions(lm, outputs, batch, read_pos, requests[0].top_k)
        attention = [request_attention(outputs.attentions, b, item.lengths) for b, item in enumerate(items)]
        asked = [request.candidates for request in requests]
        words = engine.word_scores(lm, outputs, read_pos, asked) if any(asked) else [None] * len(requests)
    analyses = [
        Analysis(
            request=request,
            fingerprint=lm.fingerprint,
            tokens=item.tokens,
            token_words=item.token_words,
            words=item.words,
            token_segments=item.token_segments,
            special_tokens=item.special_tokens,
            predictions=p,
            target=target or engine.default_target(p),
            mask_position=item.mask_position,
            truncated=item.truncated,
            tokens_before_truncation=item.tokens_before_truncation,
            attention=a,
            head_stats=head_stats(a, item.special_tokens),
            device=str(lm.device),
            architecture=dict(describe(lm.model.config)),
            candidate_scores=w,
        )
        for request, item, p, target, a, w in zip(requests, items, preds, targets, attention, words)
    ]
    backward = None
    if gradient:  # the analyses' targets are known now (the top prediction where a request names none)
        target_ids = torch.tensor([a.target["index"] for a in analyses], device=lm.device)
        with torch.enable_grad():
            scores = engine.target_scores(graph, batch, read_pos, target_ids).float()

        def backward() -> torch.Tensor:
            checkpoint()  # a cancelled job stops here, as before Captum's pass
            return torch.autograd.grad(scores.sum(), leaf)[0]

    if engine.has_logit_lens:
        add_logit_lens(lm, analyses, outputs.hidden_states, read_pos)
    for b, (analysis, item) in enumerate(zip(analyses, items)):
        if caught and all("q" in got and "k" in got for got in caught):  # else the attention stays dense
            qk_capture.store(
                analysis, *qk_capture.request_qk(caught, b, item.lengths), lm.model, item.lengths
            )
    return analyses, backward


def _detached(outputs: Any) -> Any:
    """A model output's tensors (and tuples of them) cut from the graph; other values as they are."""
    cut = lambda v: v.detach() if isinstance(v, torch.Tensor) else v  # noqa: E731
    return type(outputs)(
        **{k: tuple(map(cut, v)) if isinstance(v, tuple) else cut(v) for k, v in outputs.items()}
    )


def saliency_stage(
    lm: LoadedModel,
    analyses: list[Analysis],
    items: list[Tokenized],
    batch: Batch,
    embeds: torch.Tensor,
    methods: list[str],
    lap: Callable[[str], None],
    backward: Callable[[], torch.Tensor] | None = None,
) -> None:
    """The saliency methods' scores into the analyses (backward: the gradient from forward(gradient=True))."""
    engine, B = engine_for(lm.task), len(analyses)
    read_pos = _read_positions(engine, items, lm)
    target_ids = torch.tensor([a.target["index"] for a in analyses], device=lm.device)

    def score(x: torch.Tensor) -> torch.Tensor:
        checkpoint()  # once per gradient pass or chunk of IG steps: a cancelled job stops here
        times = x.shape[0] // B  # Captum stacks IG steps along the batch
        repeated = repeat_batch(batch, times)
        outputs = engine.run(lm, x, repeated)
        scores = engine.target_scores(outputs, repeated, read_pos.repeat(times), target_ids.repeat(times))
        return scores.float()

    explainer = Explainer(
        score,
        embeds,
        batch.lengths,
        [a.attention for a in analyses],
        [engine.reading_rows(item, lm) for item in items],
        analyses[0].request.ig_steps,
        backward,
    )
    for name in methods:
        # New dicts, not updates in place: partial snapshots already handed out stay as they were.
        for analysis, (values, info) in zip(analyses, SALIENCY[name](explainer)):
            analysis.saliency = {**analysis.saliency, name: values}
            if info:
                analysis.saliency_info = {**analysis.saliency_info, name: info}
        lap(f"saliency.{name}")


def sensitivity_stage(
    lm: LoadedModel,
    items: list[Tokenized],
    batch: Batch,
    embeds: torch.Tensor,
    on_layer: Callable[[int, int], None],
    chosen: Sequence[int] | None = None,
) -> list[np.ndarray]:
    """Each request's attention sensitivity: [L, N, N], or [len(chosen), N, N] for the chosen layers."""
    # Sequences are independent, so one cotangent batch can serve a whole batch of requests. That
    # pays where backward passes are launch-bound (GPU); on a CPU they are compute-bound and padding
    # to the longest request only adds work, so there each request goes alone.
    groups = [[b] for b in range(len(items))] if lm.device.type == "cpu" else [list(range(len(items)))]
    engine, out = engine_for(lm.task), [np.empty(0)] * len(items)
    for number, group in enumerate(groups):
        part = batch.select(group)
        B, S, n = part.shape
        x = embeds[group, :, :n]

        def attentions_of(
            flat: torch.Tensor, part: Batch = part, B: int = B, S: int = S, n: int = n
        ) -> tuple[torch.Tensor, ...]:
            outputs = engine.run(lm, flat.reshape(B, S, n, -1), part, attentions=True, encoder_only=True)
            return outputs.attentions

        def layer_done(layer: int, layers: int, number: int = number) -> None:
            on_layer(number * layers + layer, len(groups) * layers)

        shape = qk_capture.layout(lm.model, items[group[0]].lengths)
        # A layer's attention depends only on the layers below it: the forward stops at the highest chosen.
        top = max(chosen) + 1 if chosen else lm.model.config.get_text_config().num_hidden_layers
        with (
            qk_capture.capturing(lm.model) if shape else nullcontext([]) as caught,
            batched_backward(lm.model),
        ):
            rule = shape and qk_capture.score_rule(lm.model, shape, caught)
            with first_layers(lm.model, top):
                maps = attention_sensitivity(
                    attentions_of,
                    x.reshape(B * S, n, -1),
                    part.attention_mask.reshape(B * S, n),
                    layer_done,
                    chosen,
                    rule,
                )
        for b, per_sequence in zip(group, maps.reshape(B, S, *maps.shape[1:])):
            out[b] = block_diagonal(per_sequence, items[b].lengths)
    return out


def _read_positions(engine: TaskEngine, items: list[Tokenized], lm: LoadedModel) -> torch.Tensor:
    return torch.tensor([engine.read_position(item, lm) for item in items], device=lm.device)


def _done(analyses: list[Analysis], stage: str, timings: dict[str, float]) -> None:
    for analysis in analyses:
        analysis.stages_done = [*analysis.stages_done, stage]
        analysis.timings = dict(timings)
