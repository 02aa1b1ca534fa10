"""Every layer's queries and keys, as the attention softmaxes them: the compact alternative to dense attention.

Per layer, q [H, N, d_head] and k [H_kv, N, d_head] (after the projections, after rotary where the
model has it, k before grouped-query sharing) are 2·L·N·d numbers where the attention is L·H·N²;
`interp.attention_rebuild` (numpy, torch-free) makes any head's map from them. The hooks are the neuron
view's (interp.neurons); one forward of the base model serves every layer.

Where plain softmax(q·kᵀ·scale) with the causal mask, sliding windows and soft-caps does not give the
model's attention (T5's position bias, ALiBi, seq2seq stacks), `layout` returns None: keep it dense.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import numpy as np
import torch

from interp.architecture import describe
from interp.neurons import _capture, _Site, _site
from interp.parts import Subject
from interp.schema import InputError
from interp.tasks import engine_for

# Model types whose attention is not softmax(q·kᵀ·scale) with masks: they keep dense attention.
DENSE_ONLY = ("t5", "mt5", "bloom", "mpt", "falcon")


def layout(subject: Subject) -> dict[str, Any] | None:
    """What the rebuild needs besides q and k (JSON), or None where this model's attention must stay dense."""
    config = subject.lm.model.config
    if config.is_encoder_decoder or config.model_type in DENSE_ONLY:
        return None
    try:
        sites = _sites(subject)
    except InputError:
        return None
    arch = describe(config)
    return {
        "lengths": subject.item.lengths,
        "scales": [site.scale for site in sites],
        "causal": sites[0].causal,
        "windows": [layer["window"] for layer in arch["layers"]],
        "softcap": arch["attention_softcap"],
        "kv_head_of_query": arch["kv_head_of_query"],
    }


def capture_qk(subject: Subject) -> tuple[np.ndarray, np.ndarray]:
    """q [L, H, N, d_head] and k [L, H_kv, N, d_head], float32, the sequences' real tokens concatenated."""
    s = subject
    sites = _sites(s)
    with ExitStack() as stack, torch.no_grad(), s.lm.lock:
        caught = [stack.enter_context(_capture(site)) for site in sites]
        engine_for(s.lm.task).run(s.lm, s.embeds, s.batch, encoder_only=True)
    q = np.stack([_concat(got["q"], s.item.lengths) for got in caught])
    k = np.stack([_concat(got["k"], s.item.lengths) for got in caught])
    return q, k


def _sites(subject: Subject) -> list[_Site]:
    model = subject.lm.model
    return [_site(model, "self", layer) for layer in range(subject.layers)]


def _concat(x: torch.Tensor, lengths: list[int]) -> np.ndarray:
    """[S, heads, n, d] padded per sequence -> [heads, N, d] of the real tokens."""
    return np.concatenate(
        [x[s, :, :length].float().cpu().numpy() for s, length in enumerate(lengths)], axis=1
    )
