"""Tasks that predict one vocabulary token: the masked word (mlm) and the next token (causal-lm).

The target is a vocabulary token; its logit at the read position is what saliency explains.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import torch
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

from interp.schema import AnalysisRequest, InputError
from interp.task_specs import TargetKind
from interp.tasks.base import Pipeline, Prediction, Target, TaskEngine
from interp.tokens import Batch, Tokenized

if TYPE_CHECKING:
    from interp.loading import LoadedModel


class TokenEngine(TaskEngine):
    """Top-k tokens at the read position; a target is one token of the model's vocabulary."""

    target_kind = TargetKind.TOKEN
    has_logit_lens = True

    def target_scores(
        self, outputs: Any, batch: Batch, read_pos: torch.Tensor, target_ids: torch.Tensor
    ) -> torch.Tensor:
        logits = outputs.logits
        rows = torch.arange(logits.shape[0], device=logits.device)
        return logits[rows, read_pos, target_ids]

    def predictions(
        self, lm: LoadedModel, outputs: Any, batch: Batch, read_pos: torch.Tensor, top_k: int
    ) -> list[list[Prediction]]:
        """Top-k tokens, best first."""
        rows = torch.arange(outputs.logits.shape[0], device=outputs.logits.device)
        return top_predictions(lm, outputs.logits[rows, read_pos], top_k)

    def parse_target(self, wanted: str, lm: LoadedModel) -> Target:
        token_id = _single_token(lm, wanted)
        return {"label": token_label(lm, token_id), "index": token_id}

    def default_target(self, preds: list[Prediction]) -> Target:
        best = max(preds, key=lambda p: p["score"])
        return {"label": best["label"], "index": best["token_id"]}


class MaskedLM(TokenEngine):
    """The word at the one mask."""

    auto_class = AutoModelForMaskedLM

    def read_position(self, item: Tokenized, lm: LoadedModel) -> int:
        return int(item.mask_position)  # type: ignore[arg-type]


class CausalLM(TokenEngine):
    """The token after the last one; with request.generate, each generated token (interp.generation)."""

    auto_class = AutoModelForCausalLM
    takes_chat_prompts = True

    def own_pipeline(self, request: AnalysisRequest) -> Pipeline | None:
        if request.generate is None:
            return None
        from interp.generation import analyze_generation  # it imports this module's helpers

        return partial(analyze_generation, self)

    def read_position(self, item: Tokenized, lm: LoadedModel) -> int:
        return item.lengths[0] - 1


def top_predictions(lm: LoadedModel, logits: torch.Tensor, top_k: int) -> list[list[Prediction]]:
    """Per row of [B, vocabulary] logits, the top-k tokens with their probabilities, best first."""
    top = logits.float().softmax(-1).topk(min(top_k, logits.shape[-1]), dim=-1)
    return [
        [
            {
                "label": token_label(lm, int(i)),
                "score": float(p),
                "token_id": int(i),
                "token": lm.tokenizer.convert_ids_to_tokens(int(i)),
            }
            for p, i in zip(ps, ids)
        ]
        for ps, ids in zip(top.values, top.indices)
    ]


def token_log_probs(logits: torch.Tensor, positions: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
    """log p(token_ids[b]) at positions[b] of row b of [B, n, vocabulary] logits: [B]."""
    rows = torch.arange(logits.shape[0], device=logits.device)
    return logits[rows, positions].float().log_softmax(-1)[rows, token_ids]


def token_label(lm: LoadedModel, token_id: int) -> str:
    """A readable form of one vocabulary token (BPE space marker dropped); the raw token where that
    would be blank or a broken character (a byte-level piece of a longer character)."""
    raw = lm.tokenizer.convert_ids_to_tokens(token_id)
    readable = lm.tokenizer.convert_tokens_to_string([raw]).strip()
    return raw if not readable or "\ufffd" in readable else readable


def _single_token(lm: LoadedModel, wanted: str) -> int:
    tokenizer = lm.tokenizer
    vocab = tokenizer.get_vocab()
    if wanted in vocab:
        return vocab[wanted]
    pieces: list[str] = []
    for candidate in (wanted, " " + wanted):  # byte-level BPE spells a word after a space differently
        ids = tokenizer.encode(candidate, add_special_tokens=False)
        if len(ids) == 1 and ids[0] != tokenizer.unk_token_id:
            return ids[0]
        pieces = pieces or tokenizer.convert_ids_to_tokens(ids)
    raise InputError(
        f"target {wanted!r} is not a single token of model {lm.spec.id}'s vocabulary "
        f"(it splits into {' '.join(pieces) or 'nothing'})"
    )
