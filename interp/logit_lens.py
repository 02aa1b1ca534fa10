"""Logit lens: what each layer's residual stream at the read position says about the next (or masked) token.

Layer l's output is read through the model's own vocabulary head, as if the layers after it were skipped
(nostalgebraist, 2020): decoder LLMs through their final norm and unembedding (Llama & co. `model.norm` +
`lm_head`, GPT-2 `transformer.ln_f` + `lm_head`, with Gemma's final-logit soft-cap), masked LMs through
their MLM head (BERT `cls`, RoBERTa `lm_head`, DistilBERT `vocab_transform`/`vocab_layer_norm`/
`vocab_projector`). transformers records the last layer's output after the final norm, so that norm is
applied to the layers before it only, and the last layer's lens is the model's own output distribution.

Only task engines that read the vocabulary (`TaskEngine.has_logit_lens`) get one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from interp.schema import Analysis
from interp.tasks.token import token_label

if TYPE_CHECKING:
    from interp.loading import LoadedModel

Readout = Callable[[torch.Tensor], torch.Tensor]  # [.., d] hidden states -> [.., V] logits
# Where decoders keep their final norm, on the base model (Llama & co., GPT-2, OPT/BART-style, Phi-1/2).
_FINAL_NORMS = ("norm", "ln_f", "final_layer_norm", "final_layernorm", "norm_f")


def vocabulary_head(model: torch.nn.Module) -> tuple[Readout, Readout] | None:
    """(final norm, readout) of a model with a vocabulary head; None where the head is not one we know."""
    if isinstance(getattr(model, "cls", None), torch.nn.Module):  # BERT: transform + decoder
        return torch.nn.Identity(), model.cls
    head = getattr(model, "lm_head", None)
    if isinstance(head, torch.nn.Module) and not isinstance(head, torch.nn.Linear):  # RoBERTa: the same
        return torch.nn.Identity(), head
    if hasattr(model, "vocab_projector"):  # DistilBERT: the head's parts are the model's attributes
        return torch.nn.Identity(), lambda h: model.vocab_projector(
            model.vocab_layer_norm(model.activation(model.vocab_transform(h)))
        )
    unembed = model.get_output_embeddings()
    if not isinstance(unembed, torch.nn.Module):
        return None
    base = model.base_model
    norm = next((getattr(base, name) for name in _FINAL_NORMS if hasattr(base, name)), torch.nn.Identity())
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    cap = getattr(config, "final_logit_softcapping", None)
    if not cap:
        return norm, unembed
    return norm, lambda h: torch.tanh(unembed(h) / cap) * cap


def logit_lens(
    lm: LoadedModel,
    hidden_states: tuple[torch.Tensor, ...],
    read_pos: torch.Tensor,
    target_ids: list[int],
    top_k: int,
) -> list[tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]] | None:
    """Per request: (per layer the top-k {"label", "score", "token_id"}, per layer the target's
    {"rank", "score"} with rank 1 = the top token). None where the model's head is not known.

    hidden_states: the model's (embeddings, layer 1, ..., layer L) outputs, [B, n, d] each.
    """
    head = vocabulary_head(lm.model)
    if head is None:
        return None
    norm, readout = head
    rows = torch.arange(hidden_states[0].shape[0], device=read_pos.device)
    layers = [h[rows, read_pos] for h in hidden_states[1:]]  # L x [B, d]
    stacked = torch.stack(layers)
    logits = readout(torch.cat([norm(stacked[:-1]), stacked[-1:]])).float()  # [L, B, V]
    probs = logits.softmax(-1)
    top = probs.topk(min(top_k, probs.shape[-1]), dim=-1)
    results = []
    for b, target in enumerate(target_ids):
        wanted = logits[:, b, target]
        ranks = (logits[:, b] > wanted[:, None]).sum(-1) + 1
        tops = [
            [
                {"label": token_label(lm, int(i)), "score": float(p), "token_id": int(i)}
                for p, i in zip(ps, ids, strict=True)
            ]
            for ps, ids in zip(top.values[:, b], top.indices[:, b], strict=True)
        ]
        about_target = [
            {"rank": int(r), "score": float(p)} for r, p in zip(ranks, probs[:, b, target], strict=True)
        ]
        results.append((tops, about_target))
    return results


def add_logit_lens(
    lm: LoadedModel, analyses: list[Analysis], hidden_states: tuple[torch.Tensor, ...], read_pos: torch.Tensor
) -> None:
    """Each analysis's logit lens at its read position, for its target (set after the predictions)."""
    with torch.inference_mode():
        found = logit_lens(
            lm, hidden_states, read_pos, [a.target["index"] for a in analyses], analyses[0].request.top_k
        )
    for analysis, (tops, about_target) in zip(analyses, found or [], strict=False):
        analysis.logit_lens, analysis.logit_lens_target = tops, about_target
