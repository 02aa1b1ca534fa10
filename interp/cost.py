"""What each part of an analysis costs: its matrix-product FLOPs in closed form, and seconds at a calibrated rate.

Torch-free and built from plain numbers (`ModelShape`, token counts), so the web can say "layer 6
sensitivity ≈ 40 s" before anything runs; the worker measures the speeds (interp.calibration): a
matrix-product rate, and per kind of work an overhead width w, seconds = FLOPs/rate · (1 + w/hidden)
(`seconds_of`; why, in interp.calibration). FLOPs are counted as torch's FlopCounterMode counts them (2 per multiply-add, matrix
products only), and the tests hold the formulas to it on BERT-, GPT-2- and Llama-shaped models.

Per layer and token, the linear maps cost lin = 2d(H + 2Hkv)hd + 2·H·hd·d + 2d·I·(3 if gated else 2);
the two attention products 4n·H·hd. A backward pass to the inputs (weights frozen) costs each linear
map once more and each attention product twice (both its operands depend on the input).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from interp.architecture import kv_heads_of, softmax_of_qk
from interp.part_names import Part, PartKind, parts_of

# The head on top of the base model, by task: its FLOPs per token are head_flops().
# Model types whose q, k and v come out of one projection.
FUSED_QKV = ("gpt2", "phi3", "falcon")
# Config attributes of models that rotate q and k (rotary position embeddings).
ROTARY = ("rope_parameters", "rope_theta", "rope_scaling", "rotary_dim", "partial_rotary_factor")
HEADS = {"mlm": "mlm", "causal-lm": "lm", "sst": "class", "mnli": "class", "similarity": "none"}


@dataclass(frozen=True)
class ModelShape:
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    gated: bool  # a gated MLP (Llama-class: gate, up and down projections)
    fused_qkv: bool  # one projection gives q, k and v (GPT-2): a gradient through q or k pays for all three
    # The sensitivity's backward starts at q and k (where interp.qk_capture.layout gives a layout), or at the
    # input q and k are projected from where no rotary embedding sits between (projected_start; _ClosedForm).
    closed_form: bool
    projected_start: bool
    vocab: int
    head: str  # "mlm" (transform + decoder), "lm" (decoder), "class", "none"

    @classmethod
    def from_config(cls, config: Any, task: str, closed_form: bool | None = None) -> ModelShape:
        """From a transformers config (or anything with its attributes), for a model loaded for `task`.

        closed_form: whether interp.qk_capture.layout gives the loaded model a layout (interp.calibration
        passes it); without the model, what the config says (interp.architecture.softmax_of_qk, which that
        layout reads first: it also needs hooks that catch q and k, which Phi-3's fused rotary projection
        does not give)."""
        text = config.get_text_config() if hasattr(config, "get_text_config") else config
        first = lambda *names, default=None: next(  # noqa: E731
            (getattr(text, n) for n in names if getattr(text, n, None) is not None), default
        )
        hidden = int(first("hidden_size", "n_embd", "dim"))
        heads = int(first("num_attention_heads", "n_head", "n_heads"))
        # Llama-class configs name their key/value heads; their MLPs are gated.
        gated = first("num_key_value_heads") is not None
        closed = softmax_of_qk(config) if closed_form is None else closed_form
        return cls(
            layers=int(first("num_hidden_layers", "n_layer", "n_layers")),
            hidden=hidden,
            heads=heads,
            kv_heads=kv_heads_of(text, heads),
            head_dim=int(first("head_dim", default=hidden // heads)),
            intermediate=int(
                first("intermediate_size", "n_inner", "hidden_dim", "ffn_hidden_size", default=4 * hidden)
            ),
            gated=gated,
            fused_qkv=str(getattr(text, "model_type", "")) in FUSED_QKV,
            closed_form=closed,
            projected_start=closed and first(*ROTARY) is None,
            vocab=int(first("vocab_size", default=0)),
            head=HEADS.get(task, "none"),
        )

    @property
    def linear_flops(self) -> int:
        """One layer's linear maps, per token."""
        d, hd = self.hidden, self.head_dim
        qkv = 2 * d * (self.heads + 2 * self.kv_heads) * hd
        return qkv + 2 * self.heads * hd * d + 2 * d * self.intermediate * (3 if self.gated else 2)

    @property
    def head_flops(self) -> int:
        """The task head, per token (classification heads read one token: negligible)."""
        d = self.hidden
        return {"mlm": 2 * d * d + 2 * d * self.vocab, "lm": 2 * d * self.vocab}.get(self.head, 0)


def forward_flops(shape: ModelShape, n: int, *, head: bool = True, layers: int | None = None) -> int:
    """One forward pass over one sequence of n tokens (through the first `layers` layers: all by default)."""
    attention = 4 * n * n * shape.heads * shape.head_dim
    depth = shape.layers if layers is None else layers
    return depth * (n * shape.linear_flops + attention) + (n * shape.head_flops if head else 0)


def backward_flops(shape: ModelShape, n: int) -> int:
    """One backward pass of a scalar read from the head to the input embeddings."""
    attention = 8 * n * n * shape.heads * shape.head_dim
    return shape.layers * (n * shape.linear_flops + attention) + n * shape.head_flops


def sensitivity_flops(shape: ModelShape, n: int, layer: int) -> int:
    """n backward passes from layer `layer`'s q and k (through its q and k maps and the layers below), and
    the closed-form gradient at q and k (interp.sensitivity._ClosedForm): B·k and Bᵀ·q once, Bᵀ·x a column;
    without rotary embeddings they start at the projections' input."""
    below = layer * (n * shape.linear_flops + 8 * n * n * shape.heads * shape.head_dim)
    d, hd = shape.hidden, shape.head_dim
    projected = shape.heads + (2 * shape.kv_heads if shape.fused_qkv else shape.kv_heads)  # q, k (and v)
    if not shape.closed_form:  # through the softmax: two attention products a pass
        return n * (below + 2 * n * d * projected * hd + 4 * n * n * shape.heads * hd)
    once = 4 * n * n * shape.heads * hd  # B·k and Bᵀ·q
    if shape.projected_start:  # W_k·dk, the query side's two sums over heads, and Bᵀ·x a column; U and V once
        start = 2 * n * d * shape.kv_heads * hd + 4 * n * shape.heads * d + 2 * n * n * shape.heads * hd
        return n * (below + start) + once + 4 * n * shape.heads * hd * d
    scores = 2 * n * d * projected * hd + 2 * n * n * shape.heads * hd
    return n * (below + scores) + once


def part_flops(
    shape: ModelShape, part: Part, lengths: Sequence[int], methods: Sequence[str], ig_steps: int
) -> int:
    """A part's matrix-product FLOPs for a request of these sequence lengths (run padded to the longest),
    as it is computed alone: torch's (`torch_flops`) plus the core's numpy rollout over all N tokens."""
    flops = torch_flops(shape, part, lengths, methods, ig_steps)
    if part.kind is PartKind.CORE and "attention_rollout" in methods:  # a row vector times N x N per layer
        flops += 2 * shape.layers * sum(lengths) ** 2
    return flops


def torch_flops(
    shape: ModelShape, part: Part, lengths: Sequence[int], methods: Sequence[str], ig_steps: int
) -> int:
    """What torch's FlopCounterMode counts for the part."""
    S, n = len(lengths), max(lengths)
    forward, backward = forward_flops(shape, n), backward_flops(shape, n)
    if part.kind is PartKind.CORE:
        # One gradient serves both, its backward from the core's own forward (interp.engine.forward).
        gradient = any(m in ("grad_norm", "grad_x_input") for m in methods)
        return S * (forward + (backward if gradient else 0))
    if part.kind is PartKind.SALIENCY:  # integrated gradients: its steps, and 4 plain forwards for the delta
        return S * (ig_steps * (forward + backward) + 4 * forward)
    # One forward of the layers up to this one (no head) builds the graph the layer's backward passes walk.
    layer = part.layer or 0
    return S * (forward_flops(shape, n, head=False, layers=layer + 1) + sensitivity_flops(shape, n, layer))


def components(
    shape: ModelShape, part: Part, lengths: Sequence[int], methods: Sequence[str], ig_steps: int
) -> dict[str, int]:
    """A part's FLOPs split into the kinds of work that run at their own speed (interp.calibration measures
    each): "core", "saliency.<method>", and for a layer's sensitivity "sensitivity.start" (layer 0's work:
    the forward of a layer and the backward's start at q and k, with its norms and closed-form terms) plus
    "sensitivity.below" (a layer's forward and n backward passes through it, once per layer below)."""
    flops = part_flops(shape, part, lengths, methods, ig_steps)
    if part.kind is not PartKind.SENSITIVITY:
        return {str(part) if part.kind is PartKind.SALIENCY else "core": flops}
    start = part_flops(shape, Part(PartKind.SENSITIVITY, layer=0), lengths, methods, ig_steps)
    return {"sensitivity.start": start, **({"sensitivity.below": flops - start} if part.layer else {})}


def seconds_of(flops: dict[str, int], shape: ModelShape, gflops: float, widths: Mapping[str, float]) -> float:
    """Seconds of work split as `components` splits it: each kind's FLOPs at the matrix-product rate, slowed
    by 1 + w/hidden. The work besides matrix products (norms, softmax, elementwise, copies, dispatch) grows
    with the activations, about FLOPs/hidden, so a kind's overhead width w (calibrated) carries over to
    models of other widths; without one, the matrix-product rate alone."""
    return sum(f / (gflops * 1e9) * (1 + widths.get(kind, 0.0) / shape.hidden) for kind, f in flops.items())


def width_of(
    flops: dict[str, int],
    seconds: float,
    shape: ModelShape,
    gflops: float,
    widths: Mapping[str, float],
    floor: float = 0.1,
) -> tuple[str, float]:
    """The overhead width of a part's own kind of work (the last of `components`: a deep layer's is
    "sensitivity.below"), from the seconds it took, the others at `widths`: the inverse of `seconds_of`.
    The slowdown is floored (a timing faster than `floor` x the matrix-product rate is noise)."""
    *others, own = flops
    rest = seconds - seconds_of({k: flops[k] for k in others}, shape, gflops, widths)
    slowdown = max(floor, rest * gflops * 1e9 / flops[own]) if flops[own] > 0 else 1.0
    return own, shape.hidden * (slowdown - 1)


def estimates(
    shape: ModelShape,
    lengths: Sequence[int],
    methods: Sequence[str],
    ig_steps: int,
    gflops: float,
    widths: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Seconds per part name ("core", "sensitivity.3", ...) of a request's full analysis at `gflops` GFLOP/s
    and the kinds' overhead widths (`seconds_of`), each part computed on its own."""
    return {
        str(part): seconds_of(
            components(shape, part, lengths, methods, ig_steps), shape, gflops, widths or {}
        )
        for part in parts_of(methods, shape.layers)
    }


def on_request(estimated: dict[str, float], budget_s: float) -> list[str]:
    """The parts not started by themselves: those over the budget (the core always runs)."""
    return [name for name, seconds in estimated.items() if name != "core" and seconds > budget_s]
