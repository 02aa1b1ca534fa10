"""Every layer's queries and keys, as the attention softmaxes them: the compact alternative to dense attention.

Per layer, q [H, N, d_head] and k [H_kv, N, d_head] (after the projections, after rotary where the
model has it, k before grouped-query sharing) are 2·L·N·d numbers where the attention is L·H·N²;
`interp.attention_rebuild` (numpy, torch-free) makes any head's map from them. The hooks are the neuron
view's (interp.neurons); the engine's own forward fills them (`capturing`), no second pass.

Where plain softmax(q·kᵀ·scale) with the causal mask, sliding windows and soft-caps does not give the
model's attention (T5's position bias, ALiBi, seq2seq stacks), `layout` returns None: keep it dense.

Precision, chosen by measurement (`compact`): q and k are stored as float16 with the low mantissa bits
of each layer rounded away as far as the rebuilt attention stays within TOLERANCE of the float32
attention the model computed; a layer where even full float16 misses it keeps full float16, and its
measured error is stored in the layout (`max_error`). Random-weight models take 4-6 bits off; real
MiniLM keeps most layers whole (worst error 2.9e-3 on its sharpest heads, float16's own).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from interp.architecture import describe, softmax_of_qk
from interp.attention_rebuild import layer_scores, softmax
from interp.neurons import Site, capture, site_of
from interp.schema import Analysis, InputError
from interp.sensitivity import ScoreRule
from interp.tasks import engine_for
from interp.thumbnails import thumbnails

if TYPE_CHECKING:
    from interp.parts import Subject

TOLERANCE = 1e-3  # max abs error of rebuilt attention (probabilities) against the model's float32
DROP_BITS = (6, 4, 2, 0)  # float16 mantissa bits rounded away, most first; 0 is plain float16
FLOAT16_MAX = 6e4
SAMPLE = 8  # query rows screened per candidate precision: every 8th


def layout(model: torch.nn.Module, lengths: list[int]) -> dict[str, Any] | None:
    """What the rebuild needs besides q and k (JSON), or None where this model's attention must stay dense."""
    config = model.config
    if not softmax_of_qk(config):
        return None
    try:
        found = sites(model)
    except InputError:
        return None
    arch = describe(config)
    return {
        "lengths": list(lengths),
        "scales": [site.scale for site in found],
        "causal": found[0].causal,
        "windows": [layer["window"] for layer in arch["layers"]],
        "softcap": arch["attention_softcap"],
        "kv_head_of_query": arch["kv_head_of_query"],
    }


def score_rule(
    model: torch.nn.Module, shape: dict[str, Any], caught: list[dict[str, torch.Tensor]]
) -> ScoreRule:
    """Attention sensitivity's closed-form rule for a model with a `layout` (shape), on the q and k `capturing`
    fills; with each layer's projection weights where q and k are plain projections of one input."""
    found = sites(model)
    return ScoreRule(
        shape["scales"], shape["softcap"], shape["kv_head_of_query"], caught, [_projections(s) for s in found]
    )


def _projections(site: Site) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(W_q [H·d, d_in], W_k [H_kv·d, d_in]): q = x·W_qᵀ + b, k = x·W_kᵀ + b, or None where q and k are
    rotated or normed after their projections (or the weights are not in memory: offloaded)."""
    if site.rotary:
        return None
    if site.fused:  # GPT-2's Conv1D: [q | k | v] = x·W + b, W [d_in, 3d]
        weight = getattr(site.module, site.q).weight
        width = weight.shape[1] // 3
        found = weight[:, :width].T, weight[:, width : 2 * width].T
    else:
        q, k = getattr(site.module, site.q), getattr(site.module, site.k)
        if not (isinstance(q, torch.nn.Linear) and isinstance(k, torch.nn.Linear)):
            return None
        found = q.weight, k.weight
    return None if any(w.device.type == "meta" for w in found) else found


def sites(model: torch.nn.Module) -> list[Site]:
    layers = int(getattr(model.config.get_text_config(), "num_hidden_layers", 0))
    return [site_of(model, "self", layer) for layer in range(layers)]


@contextmanager
def capturing(model: torch.nn.Module) -> Iterator[list[dict[str, torch.Tensor]]]:
    """Hooks on every layer for the forwards run inside: per layer, {"q", "k"} [B*S, heads, n, d]."""
    with ExitStack() as stack:
        yield [stack.enter_context(capture(site)) for site in sites(model)]


SEQ2SEQ_KINDS = ("encoder", "decoder", "cross")


@contextmanager
def capturing_kinds(model: torch.nn.Module) -> Iterator[dict[str, list[dict[str, torch.Tensor]]]]:
    """A seq2seq model's hooks, per attention kind and layer, for the neuron view (its attention stays dense).
    Yields {} where the hooks do not know the model."""
    try:
        found = {
            kind: [site_of(model, kind, l) for l in range(_stack_layers(model, kind))]
            for kind in SEQ2SEQ_KINDS
        }
    except InputError:
        yield {}
        return
    with ExitStack() as stack:
        yield {kind: [stack.enter_context(capture(site)) for site in sites] for kind, sites in found.items()}


def kind_qk(
    model: torch.nn.Module, caught: dict[str, list[dict[str, torch.Tensor]]]
) -> dict[str, dict[str, Any]]:
    """Per kind: {"q" [L, H, nq, d], "k" [L, H, nk, d] (float16), "layout"} for interp.attention_rebuild.neuron_row.
    T5's scores exclude its relative position bias (`position_bias` says so)."""
    out: dict[str, dict[str, Any]] = {}
    t5 = model.config.model_type in ("t5", "mt5")
    for kind, layers in caught.items():
        if not layers or any("q" not in got or "k" not in got for got in layers):
            continue
        q = np.stack([got["q"][0].float().cpu().numpy() for got in layers])
        k = np.stack([got["k"][0].float().cpu().numpy() for got in layers])
        if max(np.abs(q).max(initial=0), np.abs(k).max(initial=0)) > FLOAT16_MAX:
            continue
        site = site_of(model, kind, 0)
        out[kind] = {
            "q": q.astype(np.float16),
            "k": k.astype(np.float16),
            "layout": {
                "lengths": [q.shape[2]],
                "key_lengths": [k.shape[2]],
                "scales": [site_of(model, kind, l).scale for l in range(len(layers))],
                "causal": site.causal,
                "windows": [None] * len(layers),
                "softcap": None,
                "kv_head_of_query": list(range(q.shape[1])),
                "position_bias": t5 and kind != "cross",
            },
        }
    return out


def _stack_layers(model: torch.nn.Module, kind: str) -> int:
    config = model.config
    if kind == "encoder":
        return int(getattr(config, "encoder_layers", None) or config.num_layers)
    return int(
        getattr(config, "decoder_layers", None)
        or getattr(config, "num_decoder_layers", None)
        or config.num_layers
    )


def request_qk(
    caught: list[dict[str, torch.Tensor]], b: int, lengths: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Request b's q [L, H, N, d] and k [L, H_kv, N, d], float32, its sequences' real tokens concatenated."""
    S = len(lengths)
    q = np.stack([_concat(got["q"][b * S : (b + 1) * S], lengths) for got in caught])
    k = np.stack([_concat(got["k"][b * S : (b + 1) * S], lengths) for got in caught])
    return q, k


def capture_qk(subject: Subject) -> tuple[np.ndarray, np.ndarray]:
    """q and k of a prepared request, from a forward of its own (benchmarks, tests)."""
    s = subject
    with capturing(s.lm.model) as caught, torch.no_grad(), s.lm.lock:
        engine_for(s.lm.task).run(s.lm, s.embeds, s.batch, encoder_only=True)
    return request_qk(caught, 0, s.item.lengths)


def store(
    analysis: Analysis, q: np.ndarray, k: np.ndarray, model: torch.nn.Module, lengths: list[int]
) -> None:
    """Queries and keys the web rebuilds the attention from (the analysis stores them instead of it) and the
    neuron view reads, and the overview's thumbnails; dense attention stays where float16 cannot hold q and k."""
    shape = layout(model, lengths)
    found = None if shape is None else compact(q, k, shape, analysis.attention)  # type: ignore[arg-type]
    if found is not None:
        analysis.queries, analysis.keys, analysis.attention_lse, analysis.qk_layout = found
        analysis.attention_thumbs = thumbnails(analysis.attention)  # type: ignore[arg-type]


def compact(
    q: np.ndarray, k: np.ndarray, shape: dict[str, Any], attention: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]] | None:
    """q and k as stored (float16, rounded per layer as far as TOLERANCE allows), the rows' log-normalisers
    [L, H, N] and the layout with each layer's `drop_bits` and `max_error`; None where float16 cannot hold them.
    """
    if max(np.abs(q).max(initial=0), np.abs(k).max(initial=0)) > FLOAT16_MAX:
        return None
    L, H, N, _ = q.shape
    q16, k16 = np.empty(q.shape, np.float16), np.empty(k.shape, np.float16)
    lse = np.empty((L, H, N), np.float32)
    drops, errors = [], []
    q_half, k_half = _half(q), _half(k)
    for layer in range(L):
        # Most bits off first: a candidate is screened on every SAMPLE-th query row, then checked on all of
        # them; the first to pass both is kept (plain float16, the last, is kept whatever its error).
        for drop in DROP_BITS:
            q16[layer], k16[layer] = _round(q_half[layer], drop), _round(k_half[layer], drop)
            if drop and _error(q16, k16, shape, attention, layer, SAMPLE) > TOLERANCE:
                continue
            s = layer_scores(q16, k16, shape, layer)
            top = s.max(axis=-1, keepdims=True)
            s -= top
            np.exp(s, out=s)
            total = s.sum(axis=-1, keepdims=True)
            lse[layer] = (top + np.log(total))[..., 0]  # = log_normalisers(scores), from the same exp
            s /= total  # the attention as the web's softmax rebuilds it
            s -= attention[layer]  # in place: a long input's layer is 64 MB a copy
            error = float(max(s.max(), -s.min()))
            if error <= TOLERANCE or drop == 0:
                break
        drops.append(drop)
        errors.append(error)
    return q16, k16, lse, {**shape, "exact": True, "drop_bits": drops, "max_error": errors}


def _error(
    q16: np.ndarray, k16: np.ndarray, shape: dict[str, Any], attention: np.ndarray, layer: int, every: int
) -> float:
    """Max abs error of the layer's attention rebuilt from its rounded q16/k16, on every `every`-th row."""
    s = layer_scores(q16, k16, shape, layer, every=every)
    return float(np.abs(softmax(s) - attention[layer][:, ::every]).max())


def _half(x: np.ndarray) -> np.ndarray:
    """float16, rounded to nearest even as numpy's cast rounds, by torch's cast (20x faster, once for all)."""
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).half().numpy()


def _round(half: np.ndarray, drop: int) -> np.ndarray:
    """float16 with the low `drop` mantissa bits rounded (half up) away: fewer distinct values, smaller
    after the store's zstd."""
    if not drop:
        return half
    # On the 16 bits: finite float16 is at most 0xFBFF, so adding half a step cannot wrap around.
    bits = half.view(np.uint16) + np.uint16(1 << (drop - 1))
    bits &= np.uint16(0xFFFF ^ ((1 << drop) - 1))
    return bits.view(np.float16)


def _concat(x: torch.Tensor, lengths: list[int]) -> np.ndarray:
    """[S, heads, n, d] padded per sequence -> [heads, N, d] of the real tokens (cut from a graph where the
    forward ran with gradients on: interp.engine.forward)."""
    return np.concatenate(
        [x[s, :, :length].detach().float().cpu().numpy() for s, length in enumerate(lengths)], axis=1
    )
