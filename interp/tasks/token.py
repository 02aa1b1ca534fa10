"""Tasks that predict one vocabulary token: the masked word (mlm) and the next token (causal-lm).

The target is a vocabulary token; its logit at the read position is what saliency explains.
"""

from __future__ import annotations

from collections.abc import Sequence
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

    def word_scores(
        self, lm: LoadedModel, outputs: Any, read_pos: torch.Tensor, words: list[tuple[str, ...] | None]
    ) -> list[list[dict[str, Any]] | None]:
        """Per request, its candidate words scored at its read position (None where it asks for none)."""
        rows = torch.arange(outputs.logits.shape[0], device=outputs.logits.device)
        return [
            None if asked is None else word_scores(lm, logits, asked)
            for logits, asked in zip(outputs.logits[rows, read_pos], words, strict=True)
        ]

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


def word_scores(lm: LoadedModel, logits: torch.Tensor, words: Sequence[str]) -> list[dict[str, Any]]:
    """Each word's probability at one position, from the model's full distribution ([vocabulary] logits).

    A word is the same word however this tokenizer spells it as one token: with or without the leading
    space marker (byte-level BPE has both "Paris" and "ĠParis"), and in any case ("Paris", "paris"), as
    Compare reads labels. Its probability is the sum over those distinct tokens. A word with no one-token
    spelling is marked `single_token: False` with its pieces and no probability: the first piece's
    probability would count every word that starts with it ("Par" for "Paris", "Parade", ...), and the
    word's own probability needs the pieces after it, which one masked position does not give.
    """
    probs = logits.float().softmax(-1)
    out = []
    for word in words:
        ids, pieces = word_token_ids(lm, word)
        out.append(
            {
                "word": word,
                "score": float(probs[ids].sum()) if ids else None,
                "single_token": bool(ids),
                "token_ids": ids,
                "pieces": pieces,
            }
        )
    return out


def word_token_ids(lm: LoadedModel, word: str) -> tuple[list[int], list[str]]:
    """(The distinct vocabulary tokens that each spell the word alone, the pieces of its shortest spelling
    when none does); see word_scores."""
    tokenizer, vocab = lm.tokenizer, lm.tokenizer.get_vocab()
    ids: list[int] = []
    shortest: list[int] | None = None
    for cased in dict.fromkeys((word, word.lower(), word[:1].upper() + word[1:].lower())):
        if cased in vocab:  # a raw token as written (a label the engine kept raw, "##ing")
            ids.append(vocab[cased])
        for spelling in (cased, " " + cased):
            encoded = tokenizer.encode(spelling, add_special_tokens=False)
            if len(encoded) == 1 and encoded[0] != tokenizer.unk_token_id:
                ids.append(encoded[0])
            elif encoded and (shortest is None or len(encoded) < len(shortest)):
                shortest = encoded
    ids = list(dict.fromkeys(ids))
    return ids, [] if ids else [token_label(lm, i) for i in shortest or []]


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
