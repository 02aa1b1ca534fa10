"""What is particular to a model's attention, read from its config: shared key/value heads (GQA),
sliding-window layers, soft-capped logits. Recorded on every Analysis (`Analysis.architecture`).

Torch-free (it reads attributes of a transformers config, or of anything shaped like one), so the
views may import it. The description is of what the model computes, checked against the models'
own attention by the tests (tests/interp/test_architecture.py).
"""

from __future__ import annotations

from typing import Any, TypedDict

# Model types whose attention is not softmax(q·kᵀ·scale) with masks, windows and soft-caps (T5's relative
# position bias, ALiBi): interp.qk_capture keeps it dense, and the sensitivity's backward runs through the softmax.
# Falcon is one where its config says `alibi` (Falcon-RW); the others rotate q and k (softmax_of_qk).
DENSE_ONLY = ("t5", "mt5", "bloom", "mpt")
# transformers' names for the kind of attention a layer does (config.layer_types), and ours.
_LAYER_KINDS = {"full_attention": "global", "sliding_attention": "sliding"}


class LayerAttention(TypedDict):
    kind: (
        str  # "global" (every earlier token), "sliding" (the last `window` tokens), or transformers' own name
    )
    window: int | None  # tokens a query sees, itself included, on sliding layers


class Architecture(TypedDict):
    model_type: str
    query_heads: int
    kv_heads: int  # key/value heads: fewer than query heads with grouped-query attention
    kv_head_of_query: list[int]  # per query head, the key/value head it shares
    layers: list[LayerAttention]
    attention_softcap: float | None  # scores s become cap * tanh(s / cap) before the softmax (Gemma 2)
    final_logit_softcap: float | None  # the same on the output logits


def describe(config: Any) -> Architecture:
    """The attention layout of a model with this config (a multimodal config: of its text model)."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    heads = int(text.num_attention_heads)
    kv_heads = kv_heads_of(text, heads)
    per_kv = heads // kv_heads  # transformers' repeat_kv: query head q reads key/value head q // per_kv
    window = getattr(text, "sliding_window", None)
    kinds = getattr(text, "layer_types", None)
    if not kinds:  # one kind for all layers: sliding wherever a window is set (Mistral, Phi-3)
        kinds = ["sliding_attention" if window else "full_attention"] * int(text.num_hidden_layers)
    layers = []
    for kind in kinds:
        ours = _LAYER_KINDS.get(kind, kind)
        layers.append(LayerAttention(kind=ours, window=int(window) if ours == "sliding" and window else None))
    return Architecture(
        model_type=str(text.model_type),
        query_heads=heads,
        kv_heads=kv_heads,
        kv_head_of_query=[q // per_kv for q in range(heads)],
        layers=layers,
        attention_softcap=_cap(getattr(text, "attn_logit_softcapping", None)),
        final_logit_softcap=_cap(getattr(text, "final_logit_softcapping", None)),
    )


def softmax_of_qk(config: Any) -> bool:
    """Whether the config says its attention is softmax(q·kᵀ·scale) under the masks `describe` gives (one stack,
    not an encoder-decoder). interp.qk_capture.layout also needs hooks that catch the model's q and k."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    if str(text.model_type) == "falcon" and getattr(text, "alibi", False):
        return False
    return not getattr(config, "is_encoder_decoder", False) and str(text.model_type) not in DENSE_ONLY


def kv_heads_of(text: Any, heads: int) -> int:
    """A (text) config's key/value heads, `heads` where every query head has its own."""
    # Falcon has its own names: grouped (the 40B layout), one shared, or one per head.
    if str(text.model_type) == "falcon":
        if getattr(text, "new_decoder_architecture", False):
            return int(text.num_kv_heads)
        return 1 if getattr(text, "multi_query", True) else heads
    return int(getattr(text, "num_key_value_heads", None) or heads)


def _cap(value: Any) -> float | None:
    return None if value is None else float(value)
