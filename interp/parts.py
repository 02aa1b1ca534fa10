"""One part of an analysis at a time (names in interp.part_names), each equal to what `analyze` gives.

    subject = prepare(request)                      # model loaded, input tokenized and embedded, once
    core = compute_core(subject)                    # an Analysis: predictions, attention, head stats,
                                                    #   the cheap saliency methods the request asks for
    ig = compute_part(subject, saliency_part("integrated_gradients"), core)
    layer3 = compute_part(subject, sensitivity_part(3), core)
    analysis = assemble(core, [ig, layer3, ...])    # = analyze(request) once every part is there

The parts run the engine's own stage functions (interp.engine), so they cannot drift from the full
computation. Only one-pass tasks have parts; seq2seq and generation requests are one `core` part.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from interp.engine import forward, model_for, prepare_input, saliency_stage, sensitivity_stage
from interp.loading import LoadedModel
from interp.part_names import CHEAP_SALIENCY, Part, PartKind
from interp.registry import Registry, load_registry
from interp.saliency import GRADIENT_METHODS
from interp.schema import Analysis, AnalysisRequest
from interp.tasks import engine_for
from interp.tokens import Batch, Tokenized, pad_batch


@dataclass
class Subject:
    """One request prepared on its model, shared by all its parts."""

    request: AnalysisRequest
    lm: LoadedModel
    item: Tokenized
    target: dict[str, Any] | None  # the request's own target; None: the core's top prediction
    batch: Batch
    embeds: torch.Tensor  # [1, S, n, d] word embeddings

    @property
    def layers(self) -> int:
        config = self.lm.model.config
        return int(getattr(config.get_text_config(), "num_hidden_layers", 0))


@dataclass
class PartResult:
    """What one part adds to the core: a saliency method's [N] scores, or one layer's [N, N] sensitivity."""

    part: Part
    values: np.ndarray
    info: dict[str, float] = field(default_factory=dict)  # saliency_info (IG's completeness delta)
    seconds: float = 0.0


def prepare(request: AnalysisRequest, *, registry: Registry | None = None) -> Subject:
    """Load the model, tokenize and embed: InputError for a bad request, ValueError for one without parts."""
    return prepare_on(request, model_for(registry or load_registry(), request))


def prepare_on(request: AnalysisRequest, lm: LoadedModel) -> Subject:
    """As `prepare`, on a model already loaded (interp.probe's, built in memory)."""
    if engine_for(lm.task).own_pipeline(request) is not None:
        raise ValueError(f"a {request.task} request with its own pipeline is computed whole, not in parts")
    item, target = prepare_input(request, lm)
    batch = pad_batch([item], lm.device)
    with torch.no_grad():  # float32 whatever the model's precision, as in interp.engine (interp.saliency)
        embeds = lm.embeddings(batch.input_ids).float()
    return Subject(request, lm, item, target, batch, embeds)


def compute_core(subject: Subject) -> Analysis:
    """Predictions, attention, head statistics and the cheap saliency methods the request asks for."""
    s, clock = subject, time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name], clock = now - clock, now

    cheap = [m for m in s.request.methods if m in CHEAP_SALIENCY]
    gradient = any(m in GRADIENT_METHODS for m in cheap)
    with s.lm.lock:
        [core], backward = forward(
            s.lm, [s.request], [s.item], [s.target], s.batch, s.embeds, gradient=gradient
        )
        lap("forward")
        core.stages_done = ["forward"]
        if cheap:
            saliency_stage(s.lm, [core], [s.item], s.batch, s.embeds, cheap, lap, backward)
            core.stages_done = [*core.stages_done, "saliency"]
    core.timings = {**timings, "total": sum(timings.values())}
    return core


def compute_part(
    subject: Subject, part: Part, core: Analysis, on_layer: Callable[[int, int], None] | None = None
) -> PartResult:
    """One saliency method or one layer's sensitivity (core: this subject's, for the target it explains)."""
    if part.kind is PartKind.SALIENCY:
        return _saliency_part(subject, part, core)
    if part.kind is PartKind.SENSITIVITY:
        return sensitivity_parts(subject, [part.layer], on_layer)[0]  # type: ignore[list-item]
    raise ValueError(f"the core is computed by compute_core, not as {part}")


def sensitivity_parts(
    subject: Subject, layers: Iterable[int], on_layer: Callable[[int, int], None] | None = None
) -> list[PartResult]:
    """Several layers' sensitivity from one forward pass (on_layer(i, count) after each)."""
    layers = list(layers)
    if any(not 0 <= layer < subject.layers for layer in layers):
        raise ValueError(f"layers {layers}: the model has {subject.layers} (0 to {subject.layers - 1})")
    s, started = subject, time.perf_counter()
    with s.lm.lock:
        [maps] = sensitivity_stage(s.lm, [s.item], s.batch, s.embeds, on_layer or (lambda *_: None), layers)
    seconds = (time.perf_counter() - started) / max(1, len(layers))
    return [PartResult(Part(PartKind.SENSITIVITY, layer=l), m, seconds=seconds) for l, m in zip(layers, maps)]


def _saliency_part(subject: Subject, part: Part, core: Analysis) -> PartResult:
    s, started = subject, time.perf_counter()
    scratch = replace(core, saliency={}, saliency_info={})  # saliency_stage writes its result here
    with s.lm.lock:
        saliency_stage(s.lm, [scratch], [s.item], s.batch, s.embeds, [part.method], lambda _: None)
    return PartResult(
        part,
        scratch.saliency[part.method],  # type: ignore[index]
        dict(scratch.saliency_info.get(part.method, {})),  # type: ignore[arg-type]
        time.perf_counter() - started,
    )


def assemble(core: Analysis, results: Iterable[PartResult]) -> Analysis:
    """The core with the parts' results in it. attention_sensitivity is set once every layer is there."""
    analysis = replace(core)
    layers: dict[int, np.ndarray] = {}
    for result in results:
        if result.part.kind is PartKind.SALIENCY:
            analysis.saliency = {**analysis.saliency, result.part.method: result.values}  # type: ignore[dict-item]
            if result.info:
                analysis.saliency_info = {**analysis.saliency_info, result.part.method: result.info}  # type: ignore[dict-item]
            analysis.timings = {**analysis.timings, f"saliency.{result.part.method}": result.seconds}
        elif result.part.kind is PartKind.SENSITIVITY:
            layers[result.part.layer] = result.values  # type: ignore[index]
    if analysis.saliency and "saliency" not in analysis.stages_done:
        analysis.stages_done = [*analysis.stages_done, "saliency"]
    if layers and sorted(layers) == list(range(analysis.num_layers)):
        analysis.attention_sensitivity = np.stack([layers[l] for l in sorted(layers)])
        analysis.stages_done = [*analysis.stages_done, "sensitivity"]
    return analysis
