"""Saliency methods: one registry, one signature, Captum underneath where it has the method.

Every method explains the target scalar (an engine's target_scores) of each request in a batch and returns,
per request, one score per token (over its sequences, concatenated) and a dict of extra figures.
Gradients are taken on the input word embeddings; the model adds positions itself.

Precision: the embeddings the gradients are taken on and the target scalar are float32 whatever the model's
precision; the model casts them to its own dtype (`TaskEngine.run`). So with bfloat16/float16 weights the
forward and backward passes run in that dtype (half the memory, the point of loading it so), while what adds
many small terms up — the gradient norm over hidden dimensions, gradient x input, the integrated-gradients
sum over steps and its completeness check — runs in float32, where half precision would lose most of them.
Each gradient keeps the model precision's own rounding (about 3 significant digits in bfloat16); load the
model in float32 (the default) for exact gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from captum.attr import IntegratedGradients, Saliency

from interp.attention import rollout
from interp.tokens import unpad

# Rows (requests x IG steps) of one model call are capped to keep activations in memory.
MAX_ROWS_TOKENS = 2048


@dataclass
class Explainer:
    """What the methods need for a batch of B requests."""

    score: Callable[[torch.Tensor], torch.Tensor]  # [r*B, S, n, d] word embeddings -> [r*B] target scalars
    embeds: torch.Tensor  # [B, S, n, d]
    lengths: list[list[int]]  # real tokens per request and sequence
    attention: list[np.ndarray]  # per request [L, H, N, N]
    rows: list[list[list[int]]]  # per request, groups of rows the prediction reads (rollout)
    ig_steps: int
    # The gradient's backward pass from a forward already run with gradients on (the engine's own, which
    # gave the predictions and attention: interp.engine.forward); None: Captum's Saliency runs a forward.
    backward: Callable[[], torch.Tensor] | None = None

    @cached_property
    def gradient(self) -> torch.Tensor:
        """The target scalar's signed gradient on the word embeddings, [B, S, n, d] (Captum's Saliency).

        grad-norm and grad x input both read it, so one forward + backward serves the two.
        """
        if self.backward is not None:
            return self.backward()
        return Saliency(self.score).attribute(_leaf(self.embeds), abs=False)

    def per_request(self, values: torch.Tensor) -> list[np.ndarray]:
        """[B, S, n] -> per request [N]."""
        return [unpad(v, lengths) for v, lengths in zip(values, self.lengths)]


Result = list[tuple[np.ndarray, dict[str, float]]]
GRADIENT_METHODS = ("grad_norm", "grad_x_input")  # the methods that read Explainer.gradient
METHODS: dict[str, Callable[[Explainer], Result]] = {}


def method(name: str):
    def register(fn: Callable[[Explainer], Result]) -> Callable[[Explainer], Result]:
        METHODS[name] = fn
        return fn

    return register


def _leaf(embeds: torch.Tensor) -> torch.Tensor:
    return embeds.detach().clone().requires_grad_()


@method("grad_norm")
def grad_norm(ex: Explainer) -> Result:
    """L2 norm over hidden dimensions of the target scalar's gradient."""
    return [(s, {}) for s in ex.per_request(ex.gradient.norm(dim=-1))]


@method("grad_x_input")
def grad_x_input(ex: Explainer) -> Result:
    """Signed sum over hidden dimensions of gradient x embedding (what Captum's InputXGradient computes)."""
    return [(s, {}) for s in ex.per_request((ex.gradient * ex.embeds).sum(-1))]


@method("integrated_gradients")
def integrated_gradients(ex: Explainer) -> Result:
    """Integrated gradients from an all-zero word-embedding baseline, summed over hidden dimensions.

    Completeness: the scores add up to score(x) - score(baseline) up to `delta`.
    """
    B, S, n, _ = ex.embeds.shape
    baseline = torch.zeros_like(ex.embeds)
    steps_per_call = max(1, min(ex.ig_steps, MAX_ROWS_TOKENS // (B * S * n)))
    attributions, delta = IntegratedGradients(ex.score).attribute(
        _leaf(ex.embeds),
        baselines=baseline,
        n_steps=ex.ig_steps,
        internal_batch_size=B * steps_per_call,
        return_convergence_delta=True,
    )
    with torch.no_grad():
        difference = ex.score(ex.embeds) - ex.score(baseline)
    return [
        (s, {"delta": float(d), "score_difference": float(f), "steps": ex.ig_steps})
        for s, d, f in zip(ex.per_request(attributions.sum(-1)), delta, difference)
    ]


@method("attention_rollout")
def attention_rollout(ex: Explainer) -> Result:
    """Attention rollout (Abnar & Zuidema), read at the rows the prediction reads."""
    return [(rollout(attention, rows), {}) for attention, rows in zip(ex.attention, ex.rows)]
