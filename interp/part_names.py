"""The parts an analysis is computed in, by name. Torch-free: the engine, the job layer and the web read it.

An analysis of a one-pass task (mlm, sst, mnli, causal-lm without generation, similarity) is the sum of:

- ``core``: tokens, predictions, attention, head statistics and the cheap saliency methods the request
  asks for (grad-norm, grad x input: one backward pass; rollout: numpy on the attention);
- ``saliency.<method>``: one expensive saliency method (integrated gradients: ig_steps backward passes);
- ``sensitivity.<layer>``: attention sensitivity of one layer (0-based): n backward passes through the
  layers up to it, so layer 0 is the cheapest and the last layer the dearest.

Seq2seq and generation requests have pipelines of their own and stay one part, ``core``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple

from interp.request import METHODS

CHEAP_SALIENCY = ("grad_norm", "grad_x_input", "attention_rollout")  # always computed with the core
EXPENSIVE_SALIENCY = ("integrated_gradients",)  # a part each
SENSITIVITY_METHOD = "attention_sensitivity"  # the request's method name for the sensitivity parts


class PartKind(StrEnum):
    CORE = "core"
    SALIENCY = "saliency"
    SENSITIVITY = "sensitivity"


class Part(NamedTuple):
    kind: PartKind
    method: str | None = None  # saliency parts
    layer: int | None = None  # sensitivity parts, 0-based

    def __str__(self) -> str:
        if self.kind is PartKind.SALIENCY:
            return f"saliency.{self.method}"
        if self.kind is PartKind.SENSITIVITY:
            return f"sensitivity.{self.layer}"
        return str(self.kind)

    @classmethod
    def parse(cls, name: str) -> Part:
        """The part a name says ("core", "saliency.integrated_gradients", "sensitivity.3"); ValueError else."""
        kind, _, detail = name.partition(".")
        if kind == PartKind.CORE and not detail:
            return CORE
        if kind == PartKind.SALIENCY and detail in EXPENSIVE_SALIENCY:
            return saliency_part(detail)
        if kind == PartKind.SENSITIVITY and detail.isdigit() and detail == str(int(detail)):
            return sensitivity_part(int(detail))
        raise ValueError(
            f"unknown part {name!r}: expected core, saliency.<{'|'.join(EXPENSIVE_SALIENCY)}> or sensitivity.<layer>"
        )


CORE = Part(PartKind.CORE)


def saliency_part(method: str) -> Part:
    if method not in EXPENSIVE_SALIENCY:
        raise ValueError(f"{method} is not a part of its own (cheap methods come with the core)")
    return Part(PartKind.SALIENCY, method=method)


def sensitivity_part(layer: int) -> Part:
    if layer < 0:
        raise ValueError(f"layer {layer} is negative")
    return Part(PartKind.SENSITIVITY, layer=layer)


def parts_of(methods: Iterable[str], layers: int) -> list[Part]:
    """Every part of the full analysis of a request asking for `methods` on a model of `layers` layers."""
    methods = set(methods)
    unknown = methods - set(METHODS)
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(sorted(unknown))}")
    parts = [CORE, *(saliency_part(m) for m in EXPENSIVE_SALIENCY if m in methods)]
    if SENSITIVITY_METHOD in methods:
        parts += [sensitivity_part(layer) for layer in range(layers)]
    return parts


def first_parts(methods: Iterable[str], layers: int, layer: int = 0, method: str = "grad_norm") -> list[Part]:
    """What the page's first complete view needs: the core, the selected layer's sensitivity and the
    selected saliency method (a part only when expensive), each where the request asks for it."""
    wanted = set(parts_of(methods, layers))
    chosen = [CORE]
    if method in EXPENSIVE_SALIENCY:
        chosen.append(saliency_part(method))
    chosen.append(sensitivity_part(layer))
    return [p for p in chosen if p in wanted]
