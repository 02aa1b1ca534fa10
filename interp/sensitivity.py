"""Attention sensitivity, BERTGradGraph's "gradient norm map".

For every layer l:  G[l, j, k] = || d(sum_i A_l[i, k]) / d e_j ||_2
with A_l layer l's attention averaged over heads and e_j token j's input word embedding
(row j: the token whose embedding moves; column k: the token whose received attention changes).

Each layer's n outputs (one per column k) need n vector-Jacobian products. One forward builds
the graph; each layer then takes one batched backward for all n one-hot cotangents
(autograd.grad under torch.vmap), which only walks the graph of layers <= l. Sequences in a
batch are independent, so one cotangent batch serves all of them.

The batched and the naive loop do the same arithmetic: the gain is in running it as a few large
matrix products instead of L*n small ones (see benchmarks/attention_sensitivity.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

AttentionsOf = Callable[[torch.Tensor], tuple[torch.Tensor, ...]]  # [M, n, d] embeddings -> L x [M, H, n, n]
# Cotangents per batched backward are capped so that its largest activation stays near this many floats.
MAX_BACKWARD_FLOATS = 2**26
# On a CPU, matrix products run fastest at about this many rows (cotangents x tokens); larger
# batches only add memory traffic (measured: 128 tokens, 8 cotangents a batch beat 128 by 25%).
CPU_BACKWARD_ROWS = 1024


def received_attention(attention: torch.Tensor, row_mask: torch.Tensor) -> torch.Tensor:
    """sum_i A[i, k] over real query rows i, heads averaged: [M, H, n, n] -> [M, n]."""
    return (attention.mean(1) * row_mask[:, :, None]).sum(1)


def attention_sensitivity(
    attentions_of: AttentionsOf,
    embeds: torch.Tensor,
    row_mask: torch.Tensor,
    on_layer: Callable[[int, int], None] | None = None,
    layers: Sequence[int] | None = None,
) -> torch.Tensor:
    """G for M sequences at once: [M, n, d] embeddings, [M, n] mask of real tokens -> [M, L, n, n].

    layers: only these layers (0-based, in this order; default all): [M, len(layers), n, n]. A layer's
    backward passes walk only the graph of the layers below it, so layer 0 is the cheapest.
    on_layer(i, count) is called after each layer computed (1-based), e.g. to report progress.
    """
    embeds = embeds.detach().requires_grad_()
    M, n, d = embeds.shape
    mask = row_mask.to(embeds.dtype)
    eye = torch.eye(n, dtype=embeds.dtype, device=embeds.device)
    maps = []
    with torch.enable_grad():
        attentions = attentions_of(embeds)
        chosen = list(range(len(attentions))) if layers is None else list(layers)
        heads = attentions[0].shape[1]
        chunk = min(n, MAX_BACKWARD_FLOATS // (M * n * max(4 * d, heads * n)))
        if embeds.device.type == "cpu":
            chunk = min(chunk, CPU_BACKWARD_ROWS // (M * n))
        chunk = max(1, chunk)
        for number, layer in enumerate(chosen, 1):
            received = received_attention(attentions[layer], mask)  # [M, n]
            columns = []
            for start in range(0, n, chunk):
                cotangents = eye[start : start + chunk, None, :].expand(
                    -1, M, -1
                )  # one-hot column k, every sequence
                last = number == len(chosen) and start + chunk >= n
                # functorch's vmap, not autograd.grad(is_grads_batched=True): that one uses the legacy
                # vmap, which loops over cotangents in softmax, GELU and layer-norm backward (72% -> 78%).
                grads = torch.vmap(
                    lambda v, keep=not last, out=received: torch.autograd.grad(
                        out, embeds, v, retain_graph=keep
                    )[0]
                )(cotangents)
                columns.append(grads.norm(dim=-1).permute(1, 2, 0))  # [K, M, n, d] -> [M, n(j), K]
            maps.append(torch.cat(columns, dim=-1))
            if on_layer is not None:
                on_layer(number, len(chosen))
    if not maps:
        return embeds.new_zeros(M, 0, n, n)
    return torch.stack(maps, dim=1)


def naive_attention_sensitivity(
    attentions_of: AttentionsOf, embeds: torch.Tensor, row_mask: torch.Tensor
) -> torch.Tensor:
    """The reference: one backward pass per (layer, column k). Same inputs and output as above.

    Slow on purpose; tests check the batched computation against it and the benchmark times both.
    """
    embeds = embeds.detach().requires_grad_()
    M, n, _ = embeds.shape
    with torch.enable_grad():
        attentions = attentions_of(embeds)
        out = embeds.new_zeros(M, len(attentions), n, n)
        for layer, attention in enumerate(attentions):
            received = received_attention(attention, row_mask.to(attention.dtype))
            for k in range(n):
                # Summing over independent sequences still gives each sequence its own gradient.
                (grad,) = torch.autograd.grad(received[:, k].sum(), embeds, retain_graph=True)
                out[:, layer, :, k] = grad.norm(dim=-1)
    return out.detach()
