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
from dataclasses import dataclass

import torch

from interp.checkpoints import checkpoint

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
    scores: ScoreRule | None = None,
) -> torch.Tensor:
    """G for M sequences at once: [M, n, d] embeddings, [M, n] mask of real tokens -> [M, L, n, n].

    layers: only these layers (0-based, in this order; default all): [M, len(layers), n, n]. A layer's
    backward passes walk only the graph of the layers below it, so layer 0 is the cheapest.
    on_layer(i, count) is called after each layer computed (1-based), e.g. to report progress.
    scores: where each layer's attention is softmax(q·kᵀ) as the rule says, and attentions_of fills its
    `caught` with each layer's q and k: the backward starts at q and k (see ScoreRule).
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
        # The autograd path's cotangents reach [K, M, H, n, n] in the attention; the closed form's stay [K, M, n, d].
        widest = 4 * d if scores is not None else max(4 * d, heads * n)
        chunk = min(n, MAX_BACKWARD_FLOATS // (M * n * widest))
        if embeds.device.type == "cpu":
            chunk = min(chunk, CPU_BACKWARD_ROWS // (M * n))
        chunk = max(1, chunk)
        for number, layer in enumerate(chosen, 1):
            if scores is None:
                outputs: tuple[torch.Tensor, ...] = (received_attention(attentions[layer], mask),)  # [M, n]
            else:
                closed = _ClosedForm(scores, layer, attentions[layer], mask)
                outputs = closed.outputs
            columns = []
            for start in range(0, n, chunk):
                checkpoint()  # a deep layer at 512 tokens takes minutes: a cancelled job stops between chunks
                stop = min(n, start + chunk)
                if scores is None:  # one-hot column k, every sequence
                    cotangents: tuple[torch.Tensor, ...] = (eye[start:stop, None, :].expand(-1, M, -1),)
                else:
                    cotangents = closed.cotangents(start, stop)
                last = number == len(chosen) and stop >= n
                # functorch's vmap, not autograd.grad(is_grads_batched=True): that one uses the legacy
                # vmap, which loops over cotangents in softmax, GELU and layer-norm backward (72% -> 78%).
                grads = torch.vmap(
                    lambda *v, out=outputs, keep=not last: torch.autograd.grad(
                        out, embeds, v, retain_graph=keep
                    )[0]
                )(*cotangents)
                columns.append(grads.norm(dim=-1).permute(1, 2, 0))  # [K, M, n, d] -> [M, n(j), K]
            maps.append(torch.cat(columns, dim=-1))
            if on_layer is not None:
                on_layer(number, len(chosen))
    if not maps:
        return embeds.new_zeros(M, 0, n, n)
    return torch.stack(maps, dim=1)


@dataclass(frozen=True)
class ScoreRule:
    """How every layer's attention comes from its queries and keys (interp.qk_capture.layout's fields):
    A = softmax(masked(T)), T = cap·tanh(S/cap) where the model soft-caps (else T = S), S = scale·q·kᵀ,
    query head h reading key head kv_head_of_query[h]. `caught[l]` holds layer l's q [M, H, n, dh] and
    k [M, H_kv, n, dh] from the forward (interp.qk_capture.capturing), still in the autograd graph.

    The received attention's gradient at q and k then has a closed form (below), so each backward pass
    starts at q and k: no [K, H, n, n] cotangent through the softmax, and the n³-sized work is one large
    matrix product a layer instead of a batched one per head and cotangent.
    """

    scales: Sequence[float]
    softcap: float | None
    kv_head_of_query: Sequence[int]
    caught: Sequence[dict[str, torch.Tensor]]
    # Per layer, (W_q, W_k) where q = x·W_qᵀ + b and k = x·W_kᵀ + b from one input x (`caught` holds it as
    # "q_input", and "k_input" unless fused), else None: see _ClosedForm.
    projections: Sequence[tuple[torch.Tensor, torch.Tensor] | None] = ()


class _ClosedForm:
    """d(received_k)/dq and d(received_k)/dk of one layer, for chunks of columns k.

    With m the real-row mask, B = A∘g (g = 1 - (T/cap)² where soft-capped, else 1) and c the scale:
      dq_i = (c/H)·m_i·(B[i,k]·k_k - A[i,k]·(B·k)_i)
      dk_j = (c/H)·(δ_jk·(Bᵀ·(m∘q))_k - (Bᵀ·(m∘A[:,k]∘q))_j)
    summed over the query heads that share a key head.

    Where q = x·W_qᵀ + b and k = x·W_kᵀ + b read one input x, the backward starts at x instead:
      dx_i = W_qᵀ·dq_i + W_kᵀ·dk_i, and W_qᵀ·dq_i = (c/H)·m_i·Σ_h (B_h[i,k]·U_h,k - A_h[i,k]·V_h,i)
    with U_h,k = W_q,hᵀ·k_h,k and V_h,i = W_q,hᵀ·(B_h·k_h)_i computed once a layer: the query projection's
    backward (a quarter to a half of the work at the layer a backward starts from) becomes a sum over heads.
    """

    def __init__(self, rule: ScoreRule, layer: int, attention: torch.Tensor, mask: torch.Tensor):
        got = rule.caught[layer]
        q, k = got["q"], got["k"]
        self.outputs = (q, k)
        self.kv = torch.as_tensor(list(rule.kv_head_of_query), device=q.device)
        H = q.shape[1]
        self.q = q.detach().float()
        self.k = k.detach().float()[:, self.kv]  # [M, H, n, dh]: each query head's keys
        self.a = attention.detach().float() * mask[:, None, :, None]  # m_i·A[i, k]
        b = attention.detach().float()
        if rule.softcap:
            s = self.q @ self.k.transpose(-1, -2) * rule.scales[layer]
            b = b * (1 - torch.tanh(s / rule.softcap) ** 2)
        self.b, self.coef = b, rule.scales[layer] / H
        self.b_k = b @ self.k  # (B·k)_i
        self.rows = mask[:, None, :, None] * self.coef  # (c/H)·m_i
        self.bt_q = b.transpose(-1, -2) @ (self.q * self.rows)  # (c/H)·(Bᵀ·(m∘q))
        self.kv_heads = k.shape[1]
        weights = rule.projections[layer] if layer < len(rule.projections) else None
        x = got.get("q_input")
        self.u = None
        if weights is not None and x is not None and got.get("k_input", x) is x:
            w_q, self.w_k = (w.detach().float() for w in weights)
            w_q = w_q.view(H, -1, w_q.shape[-1])  # [H, dh, d_in]
            self.outputs, self.x_dtype = (x,), x.dtype
            self.u = torch.einsum("mhkd,hde->mkhe", self.k, w_q)  # U [M, n, H, d_in]
            self.v = torch.einsum("mhid,hde->mihe", self.b_k, w_q)  # V [M, n, H, d_in]

    def cotangents(self, start: int, stop: int) -> tuple[torch.Tensor, ...]:
        """For columns start..stop-1: dq [K, M, H, n, dh] and dk [K, M, H_kv, n, dh], or dx [K, M, n, d_in]."""
        cols = slice(start, stop)
        K = stop - start
        M, H, n, dh = self.q.shape
        # Bᵀ·(m∘A[:,k]∘q) for every k in the chunk at once: [M, H, n, n] @ [M, H, n, K·dh].
        x = (self.a[..., cols, None] * self.q[:, :, :, None, :]).reshape(M, H, n, K * dh)
        dk = (self.b.transpose(-1, -2) @ x).reshape(M, H, n, K, dh).permute(3, 0, 1, 2, 4).mul_(-self.coef)
        rows = torch.arange(K, device=dk.device)
        dk[rows, :, :, rows + start] += self.bt_q[:, :, cols].permute(2, 0, 1, 3)
        if self.kv_heads != H:  # grouped queries: a key head's gradient sums its query heads'
            dk = dk.new_zeros(K, M, self.kv_heads, n, dh).index_add_(2, self.kv, dk)
        if self.u is not None:
            return (self._dx(cols, dk),)
        a = self.a[..., cols].permute(3, 0, 1, 2)[..., None]  # [K, M, H, n, 1]: m_i·A[i, k]
        b = (self.b[..., cols] * self.rows).permute(3, 0, 1, 2)[..., None]  # (c/H)·m_i·B[i, k]
        keys = self.k[:, :, cols].permute(2, 0, 1, 3)[:, :, :, None]  # [K, M, H, 1, dh]: k_k
        dq = torch.addcmul(b * keys, a, self.b_k, value=-self.coef)
        return dq, dk

    def _dx(self, cols: slice, dk: torch.Tensor) -> torch.Tensor:
        """W_qᵀ·dq + W_kᵀ·dk at the projections' input, dq's part as sums over heads (see the class)."""
        K, M, kv, n, dh = dk.shape
        H, d_in = self.u.shape[2], self.u.shape[3]
        b = (self.b[..., cols] * self.rows).permute(3, 0, 2, 1).reshape(K * M, n, H)  # (c/H)·m_i·B[i, k]
        u = self.u[:, cols].transpose(0, 1).reshape(K * M, H, d_in)
        dx = torch.bmm(b, u).view(K, M, n, d_in)
        a = (self.a[..., cols] * self.coef).permute(0, 2, 3, 1).reshape(M * n, K, H)  # (c/H)·m_i·A[i, k]
        dx -= torch.bmm(a, self.v.view(M * n, H, d_in)).view(M, n, K, d_in).permute(2, 0, 1, 3)
        dx += dk.permute(0, 1, 3, 2, 4).reshape(K, M, n, kv * dh) @ self.w_k
        return dx.to(self.x_dtype)


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
