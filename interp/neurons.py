"""BertViz's neuron view for every architecture served: one head's query vector, the key vectors, q∘k,
the scores the model softmaxes, and the attention, for one query token.

No modified model copies: forward hooks catch what the query and key projections give, in one forward
pass of the unmodified model over the request's input; the rest is the architecture's own score rule
(scaling, T5's relative position bias, the causal mask, a sliding layer's window, Gemma 2's soft-cap).
Rotary models (Llama-class): their projections' outputs are caught the same way, then normed and rotated
as the model does, with the rotary angles the attention module was called with.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from interp.architecture import describe
from interp.loading import MODELS, LoadedModel
from interp.registry import Registry, load_registry
from interp.schema import AnalysisRequest, InputError

KINDS = ("self", "encoder", "decoder", "cross")  # self: the one stack of an encoder or decoder-only model


@dataclass
class Site:
    """Where one attention's q and k come from, and how its scores are made."""

    module: torch.nn.Module  # the attention module
    q: str  # names of its query and key projections (one fused name: GPT-2's c_attn)
    k: str
    heads: int
    scale: float
    causal: bool
    fused: bool = False  # GPT-2: one projection gives q, k and v
    rotary: bool = False  # q and k are rotated inside the attention module (caught as it is called)


def neuron_view(
    request: AnalysisRequest,
    layer: int,
    head: int,
    query: int,
    kind: str = "self",
    *,
    registry: Registry | None = None,
    fingerprint: str | None = None,
) -> dict[str, Any]:
    """Query [d_head], keys [n][d_head], products [n][d_head], scores [n], attention [n] (n: the keys the
    query may see) for one head of a request's model and input; kind names the attention of a seq2seq model
    (encoder, decoder, cross). fingerprint: the stored analysis's, refused where the model has changed since.

    key_offset: the analysis token index of keys[0] (similarity's second sentence starts after the first).
    """
    lm = MODELS.get((registry or load_registry()).check(request), request.task)
    seq2seq = lm.model.config.is_encoder_decoder
    if kind not in (("encoder", "decoder", "cross") if seq2seq else ("self",)):
        allowed = "encoder, decoder or cross" if seq2seq else "self"
        raise InputError(f"attention kind {kind!r}: model {lm.spec.id} has {allowed} attention")
    if fingerprint is not None and fingerprint != lm.fingerprint:
        raise InputError(f"model {lm.spec.id} has changed since that analysis; analyse the input again")
    inputs, offset = _inputs(lm, request, kind, query)
    data = neuron_data(lm.model, inputs, kind, layer, head, query - offset)
    return {**data, "kind": kind, "key_offset": data["key_offset"] + (offset if kind != "cross" else 0)}


def neuron_data(
    model: torch.nn.Module, inputs: dict[str, Any], kind: str, layer: int, head: int, i: int
) -> dict[str, Any]:
    """The neuron view of query row i of one head, from one forward of model(**inputs): the keys the layer
    attends to (earlier ones where causal, the last `window` on a sliding layer), from key_offset on."""
    site = site_of(model, kind, layer)
    if not 0 <= head < site.heads:
        raise InputError(
            f"head {head} is out of range: the model has {site.heads} heads (0 to {site.heads - 1})"
        )
    with torch.no_grad(), capture(site) as got:
        model(**inputs)
    if "q" not in got or "k" not in got:
        raise InputError(
            f"the neuron view caught no query and key in layer {layer} of {type(model).__name__}"
        )
    q, k = got["q"][0], got["k"][0]  # [heads, n, d_head] each, after any rotation
    k = k.repeat_interleave(site.heads // k.shape[0], dim=0)  # grouped-query attention shares key heads
    if not 0 <= i < q.shape[1]:
        raise InputError(f"query {i} is out of range for the {kind} attention ({q.shape[1]} tokens)")
    window, softcap = _window_and_softcap(model, kind, layer)
    start = max(0, i - window + 1) if window and site.causal else 0
    stop = i + 1 if site.causal else k.shape[1]
    keys = k[head, start:stop]
    products = q[head, i] * keys
    scores = products.sum(-1) * site.scale + _bias(
        model, kind, head, q.shape[1], k.shape[1], i, start, stop, k.device
    )
    if softcap:  # the model's order: cap the scaled scores, then add the mask
        scores = softcap * torch.tanh(scores / softcap)
    as_list = lambda t: t.float().cpu().numpy().round(7).tolist()  # noqa: E731
    return {
        "layer": layer,
        "head": head,
        "query_index": i,
        "key_offset": start,
        "query": as_list(q[head, i]),
        "keys": as_list(keys),
        "products": as_list(products),
        "scores": as_list(scores),
        "attention": as_list(scores.float().softmax(-1)),
    }


def _inputs(lm: LoadedModel, request: AnalysisRequest, kind: str, query: int) -> tuple[dict[str, Any], int]:
    """The forward's keyword arguments, and the index of the query's sequence's first token in the
    analysis's token list (similarity stores its two sentences one after the other)."""
    from interp.tokens import tokenize

    if lm.model.config.is_encoder_decoder:
        from interp.seq2seq import _decoder_start, _target_ids

        source = tokenize(request.with_(pair=None), lm.tokenizer, lm.max_length).sequences[0]
        targets = _target_ids(lm, request, source)
        decoder = [_decoder_start(lm), *targets[:-1]]
        tensor = lambda ids: torch.tensor([ids], device=lm.device)  # noqa: E731
        return {"input_ids": tensor(source), "decoder_input_ids": tensor(decoder)}, 0
    item = tokenize(request, lm.tokenizer, lm.max_length)
    ids = item.sequences
    if request.generate is not None:
        from interp.generation import decode

        chosen = decode(lm, ids[0], request.generate, request.sample_seed, 1)[0]
        ids = [ids[0] + chosen]
    offset, s = 0, 0
    while s < len(ids) - 1 and query >= offset + len(ids[s]):
        offset, s = offset + len(ids[s]), s + 1
    inputs = {"input_ids": torch.tensor([ids[s]], device=lm.device)}
    if item.type_ids is not None:
        inputs["token_type_ids"] = torch.tensor([item.type_ids[s]], device=lm.device)
    return inputs, offset


def _layers(module: torch.nn.Module, *names: str) -> tuple[torch.nn.Module, str]:
    """(the module holding the layers' ModuleList, its attribute name)."""
    for name in names:
        if isinstance(getattr(module, name, None), torch.nn.ModuleList):
            return module, name
    raise InputError(f"the neuron view does not know the layers of {type(module).__name__}")


def _stack(model: torch.nn.Module, kind: str) -> tuple[torch.nn.Module, str]:
    if model.config.is_encoder_decoder:
        return _layers(model.get_encoder() if kind == "encoder" else model.get_decoder(), "layers", "block")
    base = model.base_model
    stack = getattr(base, "encoder", None) or getattr(base, "transformer", None) or base
    return _layers(stack, "layer", "h", "layers")


@contextmanager
def first_layers(model: torch.nn.Module, count: int) -> Iterator[None]:
    """Forwards inside run only the first `count` layers of a decoder-only or encoder-only model (what a
    lower layer's attention depends on); outputs per layer (attentions, hidden states) stop there."""
    try:
        owner, name = _stack(model, "self")
    except InputError:
        yield
        return
    blocks = getattr(owner, name)
    if model.config.is_encoder_decoder or count >= len(blocks):
        yield
        return
    setattr(owner, name, torch.nn.ModuleList(list(blocks)[:count]))
    try:
        yield
    finally:
        setattr(owner, name, blocks)


def site_of(model: torch.nn.Module, kind: str, layer: int) -> Site:
    config = model.config
    owner, name = _stack(model, kind)
    blocks = getattr(owner, name)
    if not 0 <= layer < len(blocks):
        raise InputError(f"layer {layer} is out of range: the model has {len(blocks)} layers")
    block = blocks[layer]
    kind_type = config.model_type
    if kind_type == "t5":
        attention = block.layer[1].EncDecAttention if kind == "cross" else block.layer[0].SelfAttention
        return Site(attention, "q", "k", attention.n_heads, 1.0, kind == "decoder")
    if model.config.is_encoder_decoder:  # BART, Marian and their kin
        attention = block.encoder_attn if kind == "cross" else block.self_attn
        return Site(attention, "q_proj", "k_proj", attention.num_heads, attention.scaling, kind == "decoder")
    if hasattr(block, "attention") and hasattr(block.attention, "self"):  # BERT, RoBERTa
        attention = block.attention.self
        return Site(attention, "query", "key", attention.num_attention_heads, attention.scaling, False)
    if hasattr(block, "attention") and hasattr(block.attention, "q_lin"):  # DistilBERT
        attention = block.attention
        return Site(
            attention,
            "q_lin",
            "k_lin",
            attention.n_heads,
            (attention.dim // attention.n_heads) ** -0.5,
            False,
        )
    if hasattr(block, "attn") and hasattr(block.attn, "c_attn"):  # GPT-2
        attention = block.attn
        scale = attention.head_dim**-0.5 if attention.scale_attn_weights else 1.0
        if attention.scale_attn_by_inverse_layer_idx:
            scale /= layer + 1
        return Site(attention, "c_attn", "c_attn", attention.num_heads, scale, True, fused=True)
    if hasattr(block, "self_attention") and hasattr(block.self_attention, "query_key_value"):  # Falcon
        attention = block.self_attention
        if getattr(config, "alibi", False):  # Falcon-RW adds ALiBi to the scores: not rotary, not plain q·k
            raise InputError(
                "the neuron view does not know ALiBi attention (this Falcon's config says alibi)"
            )
        return Site(
            attention,
            "query_key_value",
            "query_key_value",
            attention.num_heads,
            attention.head_dim**-0.5,
            True,
            fused=True,
            rotary=True,
        )
    if hasattr(block, "self_attn") and hasattr(block.self_attn, "q_proj"):  # Llama-class, rotary
        attention = block.self_attn
        if "position_embeddings" not in inspect.signature(attention.forward).parameters:
            raise InputError(
                f"the neuron view does not know where {type(attention).__name__} rotates q and k"
            )
        return Site(
            attention, "q_proj", "k_proj", config.num_attention_heads, attention.scaling, True, rotary=True
        )
    raise InputError(f"the neuron view does not know the attention of {type(block).__name__}")


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """[B, n, heads * d] -> [B, heads, n, d]."""
    B, n, width = x.shape
    return x.view(B, n, heads, width // heads).transpose(1, 2)


@contextmanager
def capture(site: Site) -> Iterator[dict[str, torch.Tensor]]:
    got: dict[str, torch.Tensor] = {}
    if site.rotary:
        handles = _rotary_hooks(site, got)
        try:
            yield got
        finally:
            for handle in handles:
                handle.remove()
        return

    def caught(name: str):
        def hook(module, inputs, output):
            if inputs:  # what the projection read (attention sensitivity starts its backward there)
                got[f"{name}_input"] = inputs[0]
            if site.fused:  # [q | k | v] along features
                q, k, _ = output.split(output.shape[-1] // 3, dim=-1)
                got["q"], got["k"] = _heads(q, site.heads), _heads(k, site.heads)
            else:
                got[name] = _heads(output, site.heads)

        return hook

    names = {"q": site.q} if site.fused else {"q": site.q, "k": site.k}
    handles = [getattr(site.module, attr).register_forward_hook(caught(n)) for n, attr in names.items()]
    try:
        yield got
    finally:
        for handle in handles:
            handle.remove()


def _rotary_hooks(site: Site, got: dict[str, torch.Tensor]) -> list[Any]:
    """Catch what the q and k projections give, then, once the attention module has run, norm and rotate
    them as it did (with the rotary angles of its call): the projections are not computed twice. Falcon's
    one projection [q | k | v] is split by the module's own _split_heads (its three layouts)."""
    module = site.module
    rotate = sys.modules[type(module).__module__].apply_rotary_pos_emb
    projected: dict[str, torch.Tensor] = {}

    def caught(name: str):
        def hook(mod, inputs, output):
            projected[name] = output

        return hook

    def rotated(mod, args, kwargs, output):
        cos, sin = kwargs["position_embeddings"]
        if site.fused:
            if "qkv" not in projected:
                return
            q, k, _ = module._split_heads(projected.pop("qkv"))  # [B, n, heads, d] each
            if module.new_decoder_architecture:  # k broadcast to every query head: one per group
                k = k[:, :, :: module.num_heads // module.num_kv_heads]
        else:
            if "q" not in projected or "k" not in projected:  # a layer reusing another's keys: nothing caught
                return
            d = module.head_dim
            q, k = projected.pop("q"), projected.pop("k")
            q, k = q.view(*q.shape[:-1], -1, d), k.view(*k.shape[:-1], -1, d)
            if hasattr(module, "q_norm"):
                q, k = module.q_norm(q), module.k_norm(k)
        got["q"], got["k"] = rotate(q.transpose(1, 2), k.transpose(1, 2), cos, sin)

    projections = {"qkv": site.q} if site.fused else {"q": site.q, "k": site.k}
    return [
        *(getattr(module, attr).register_forward_hook(caught(name)) for name, attr in projections.items()),
        module.register_forward_hook(rotated, with_kwargs=True),
    ]


def _window_and_softcap(model: torch.nn.Module, kind: str, layer: int) -> tuple[int | None, float | None]:
    """The layer's sliding window (None: it sees every key) and the scores' soft-cap (interp.architecture)."""
    if kind != "self":  # seq2seq stacks: neither
        return None, None
    arch = describe(model.config)
    return arch["layers"][layer]["window"], arch["attention_softcap"]


def _bias(
    model: torch.nn.Module,
    kind: str,
    head: int,
    nq: int,
    nk: int,
    i: int,
    start: int,
    stop: int,
    device: torch.device,
) -> torch.Tensor | float:
    """T5's relative position bias of the query row's keys start:stop (computed by each stack's first layer,
    shared by all)."""
    if model.config.model_type != "t5" or kind == "cross":
        return 0.0
    stack = model.get_encoder() if kind == "encoder" else model.get_decoder()
    first = stack.block[0].layer[0].SelfAttention
    bias = first.compute_bias(nq, nk, device=device)  # [1, heads, nq, nk]
    return bias[0, head, i, start:stop]
