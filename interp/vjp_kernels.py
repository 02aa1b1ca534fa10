"""Backward kernels for many cotangents at once (attention sensitivity's batched vector-Jacobian products).

Attention sensitivity runs each backward pass under torch.vmap over K cotangents (interp.sensitivity).
Autograd's own formulas then run per cotangent on per-head matrices of a few dozen rows: the
attention's backward becomes thousands of tiny batched products (6 GFLOP/s measured, against ~150
for large ones) and each activation's backward recomputes its derivative K times. Inside
`batched_backward(model)`:
- the attention core softmax(scale·q·kᵀ + mask)·v is an autograd.Function whose backward folds the
  K cotangents into the rows of one matrix product per head (its own vmap rule, `_AttentionVJP`);
- each pointwise activation (GELU, SiLU, ...) keeps its derivative from the forward, so its backward
  is one multiply a cotangent.
Both give what autograd gives (tests compare the gradients). Attention that takes more than q, k, v,
a mask, a scale and a soft-cap (attention sinks, dropout in training) keeps the model's own function.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.activations import ACT2CLS
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, eager_mask

NAME = "interpboard_batched_vjp"
POINTWISE = (
    *{cls if isinstance(cls, type) else cls[0] for cls in ACT2CLS.values()},
    nn.GELU,
    nn.SiLU,
    nn.ReLU,
    nn.Tanh,
    nn.Sigmoid,
    nn.Mish,
)


class _Pointwise(torch.autograd.Function):
    """y = f(x), f'(x) computed once in the forward: the backward is grad·f'(x)."""

    @staticmethod
    def forward(
        x: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            leaf = x.detach().requires_grad_()
            y = fn(leaf)
            (slope,) = torch.autograd.grad(y, leaf, torch.ones_like(y))
        return y.detach(), slope

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: tuple) -> None:
        ctx.save_for_backward(output[1])
        ctx.mark_non_differentiable(output[1])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor, _: Any) -> tuple[torch.Tensor, None]:
        (slope,) = ctx.saved_tensors
        return grad * slope, None


class _Attention(torch.autograd.Function):
    """(P·v, P) with P = softmax(T + mask), T = scale·q·kᵀ, soft-capped to cap·tanh(T/cap) where cap is set.

    q, k, v: [B, H, n, dh] (keys and values repeated for grouped queries); mask additive or None.
    """

    @staticmethod
    def forward(q, k, v, mask, scale: float, cap: float | None):
        p = torch.softmax(_scores(q, k, scale, cap, mask), dim=-1, dtype=torch.float32).to(q.dtype)
        return torch.matmul(p, v), p

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: tuple) -> None:
        q, k, v, _mask, scale, cap = inputs
        ctx.save_for_backward(q, k, v, output[1])
        ctx.scale, ctx.cap = scale, cap
        ctx.set_materialize_grads(False)

    @staticmethod
    def backward(ctx: Any, g_out: torch.Tensor | None, g_p: torch.Tensor | None):
        q, k, v, p = ctx.saved_tensors
        if g_out is None and g_p is None:
            return (None,) * 6
        dq, dk, dv = _AttentionVJP.apply(g_out, g_p, q, k, v, p, ctx.scale, ctx.cap)
        return dq, dk, None if g_out is None else dv, None, None, None


def _scores(q, k, scale, cap, mask=None):
    t = torch.matmul(q, k.transpose(-1, -2)) * scale
    if cap:
        t = torch.tanh(t / cap) * cap
    return t if mask is None else t + mask


def _vjp(g_out, g_p, q, k, v, p, scale, cap):
    """dq, dk, dv [K, B, H, n, dh] for K cotangents g_out [K, B, H, n, dh] and g_p [K, B, H, n, n] (either
    None where no gradient reaches it): every product runs once per head over K·n rows, the cotangent
    index next to the token index."""
    K = (g_p if g_out is None else g_out).shape[0]
    B, H, n, dh = q.shape
    m = k.shape[-2]
    if g_out is None:  # only P is read (the top layer of a backward through the softmax): dv = 0
        dp, dv = g_p.permute(1, 2, 3, 0, 4).contiguous(), v.new_zeros(()).expand(K, B, H, m, dh)
    else:
        rows = g_out.permute(1, 2, 3, 0, 4).reshape(B, H, n * K, dh)  # [B, H, (i, K), dh]
        dp = (rows @ v.transpose(-1, -2)).view(B, H, n, K, m)  # g·vᵀ
        dv = (p.transpose(-1, -2) @ rows.view(B, H, n, K * dh)).view(B, H, m, K, dh).permute(3, 0, 1, 2, 4)
        if g_p is not None:
            dp += g_p.permute(1, 2, 3, 0, 4)
    pk = p[:, :, :, None, :]
    ds = pk * (dp - (dp * pk).sum(-1, keepdim=True))  # softmax backward
    if cap:
        ds *= 1 - (_scores(q, k, scale, cap) / cap)[:, :, :, None, :] ** 2
    ds = ds.view(B, H, n * K, m)
    # The scale on q and k (n·dh numbers), not on the K-times larger products.
    dq = (ds @ (k * scale)).view(B, H, n, K, dh).permute(3, 0, 1, 2, 4)
    dk = ((q * scale).transpose(-1, -2) @ ds.view(B, H, n, K * m)).view(B, H, dh, K, m).permute(3, 0, 1, 4, 2)
    return dq, dk, dv


class _AttentionVJP(torch.autograd.Function):
    """_Attention's backward as a function of the cotangents, with a vmap rule that folds the vmapped
    dimension into `_vjp`'s K instead of running autograd's formulas per cotangent."""

    @staticmethod
    def forward(g_out, g_p, q, k, v, p, scale, cap):
        one = [None if g is None else g[None] for g in (g_out, g_p)]
        dq, dk, dv = _vjp(*one, q, k, v, p, scale, cap)
        return dq[0], dk[0], dv[0]

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: tuple) -> None:
        pass  # never differentiated: the sensitivity takes first derivatives only

    @staticmethod
    def vmap(info: Any, in_dims: tuple, g_out, g_p, q, k, v, p, scale, cap):
        if any(dim is not None for dim in in_dims[2:6]):
            raise NotImplementedError("batched_backward: vmap over the forward's inputs")
        K = info.batch_size
        g_out, g_p = (
            None if g is None else g.movedim(dim, 0) if dim is not None else g.expand(K, *g.shape)
            for g, dim in zip((g_out, g_p), in_dims)
        )
        return _vjp(g_out, g_p, q, k, v, p, scale, cap), (0, 0, 0)


def _own_eager(module: nn.Module) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    return sys.modules[type(module).__module__].eager_attention_forward


def attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, softcap=None, **kwargs):
    """An AttentionInterface function: the model's eager attention with `_Attention` as its core."""
    if kwargs.get("s_aux") is not None or kwargs.get("sinks") is not None or (dropout and module.training):
        return _own_eager(module)(
            module,
            query,
            key,
            value,
            attention_mask,
            scaling=scaling,
            dropout=dropout,
            softcap=softcap,
            **kwargs,
        )
    if key.shape[1] != query.shape[1]:  # grouped queries: each key head serves a group of query heads
        repeat = query.shape[1] // key.shape[1]
        key, value = key.repeat_interleave(repeat, dim=1), value.repeat_interleave(repeat, dim=1)
    mask = None if attention_mask is None else attention_mask[:, :, :, : key.shape[-2]]
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    out, p = _Attention.apply(query, key, value, mask, scale, softcap)
    return out.transpose(1, 2).contiguous(), p


AttentionInterface.register(NAME, attention)
ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, eager_mask)


@contextmanager
def batched_backward(model: nn.Module) -> Iterator[None]:
    """Run the forwards inside with the kernels above (the model must be using eager attention)."""
    configs = {id(m.config): m.config for m in model.modules() if hasattr(m, "config")}.values()
    eager = [c for c in configs if getattr(c, "_attn_implementation", None) == "eager"]
    # An instance's own forward (accelerate's offload hooks set one) is wrapped, then put back.
    activations = {m: m.__dict__.get("forward") for m in model.modules() if isinstance(m, POINTWISE)}
    for config in eager:
        config._attn_implementation = NAME
    for module in activations:
        module.forward = lambda x, fn=module.forward: _Pointwise.apply(x, fn)[0]
    try:
        yield
    finally:
        for config in eager:
            config._attn_implementation = "eager"
        for module, own in activations.items():
            if own is None:
                del module.forward
            else:
                module.forward = own
