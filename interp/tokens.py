"""Tokenisation: tokens, the words they belong to, truncation, the mask, and padded batches.

Words are defined without reference to any tokenizer (the whitespace-separated chunks of the text,
then of the pair), so word-level views line up across models with different tokenizers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from interp.schema import AnalysisRequest, InputError, replace_mask_marker
from interp.task_specs import task_spec

_WORD = re.compile(r"\S+")


@dataclass
class Tokenized:
    """One request's input: one sequence, or two encoded separately (similarity)."""

    sequences: list[list[int]]  # token ids per sequence
    type_ids: list[list[int]] | None  # token type ids per sequence, where the model takes them
    tokens: list[str]  # over all sequences, concatenated
    token_words: list[int | None]
    words: list[str]
    token_segments: list[int]
    special_tokens: list[bool]
    truncated: bool
    mask_position: int | None = None
    tokens_before_truncation: int | None = None  # how many tokens the input had, when some were dropped

    @property
    def lengths(self) -> list[int]:
        return [len(s) for s in self.sequences]


def _char_words(text: str, first_word: int) -> tuple[list[str], np.ndarray]:
    """The words of `text` and, per character, its word's index (whitespace counts to the next word)."""
    spans = [m.span() for m in _WORD.finditer(text)]
    owner = np.full(len(text) + 1, first_word + max(len(spans) - 1, 0), dtype=np.int64)
    start = 0
    for i, (_, end) in enumerate(spans):
        owner[start:end] = first_word + i
        start = end
    return [text[a:b] for a, b in spans], owner


def _encode(tokenizer: PreTrainedTokenizerBase, text: str, pair: str | None, max_length: int):
    """(the encoding, cut to max_length; how many tokens it had before the cut)"""
    encoding = tokenizer(text, pair, return_offsets_mapping=True)
    length = len(encoding["input_ids"])
    if length > max_length:
        encoding = tokenizer(
            text, pair, return_offsets_mapping=True, truncation="longest_first", max_length=max_length
        )
    return encoding, length


def _describe(encoding, texts: list[str], owners: list[np.ndarray], segment_base: int):
    """token_words, segments and special flags of one encoding of one or two texts."""
    words: list[int | None] = []
    segments: list[int] = []
    specials: list[bool] = []
    current = 0
    for seq, (start, _) in zip(encoding.sequence_ids(), encoding["offset_mapping"]):
        special = seq is None
        if not special:
            current = seq
            words.append(int(owners[seq][min(start, len(texts[seq]))]))
        else:
            words.append(None)
        segments.append(segment_base + current)
        specials.append(special)
    return words, segments, specials


def tokenize(request: AnalysisRequest, tokenizer: PreTrainedTokenizerBase, max_length: int) -> Tokenized:
    spec = task_spec(request.task)
    text = request.text
    if spec.needs_mask:
        if tokenizer.mask_token is None:
            raise InputError(f"model {request.model} has no mask token, so it cannot predict a masked word")
        text = replace_mask_marker(text, tokenizer.mask_token)
    texts = [text] if request.pair is None else [text, request.pair]
    all_words: list[str] = []
    owners: list[np.ndarray] = []
    for t in texts:
        words, owner = _char_words(t, len(all_words))
        all_words += words
        owners.append(owner)

    # Sentence-embedding tasks encode each text on its own; everything else reads text and pair together.
    groups = [[i] for i in range(len(texts))] if spec.separate_sequences else [list(range(len(texts)))]
    sequences, type_ids, token_words, segments, specials = [], [], [], [], []
    before = 0  # tokens of the input before truncation, over all sequences
    for g, group in enumerate(groups):
        chosen = [texts[i] for i in group]
        encoding, length = _encode(tokenizer, chosen[0], chosen[1] if len(chosen) > 1 else None, max_length)
        before += length
        w, s, sp = _describe(encoding, chosen, [owners[i] for i in group], segment_base=g)
        sequences.append(list(encoding["input_ids"]))
        type_ids.append(list(encoding.get("token_type_ids") or [0] * len(w)))
        token_words += w
        segments += s
        specials += sp
    if spec.needs_mask:
        # Word labels keep the user's own mask marker, so models with different mask tokens agree.
        all_words[: len(_WORD.findall(text))] = _WORD.findall(request.text)
    if any(len(s) == 0 for s in sequences):
        raise InputError("the text has no tokens this model can read")

    truncated = before > len(token_words)
    mask_position = (
        _place_mask(request, tokenizer, sequences[0], specials, truncated, max_length)
        if spec.needs_mask
        else None
    )
    tokens = [t for seq in sequences for t in tokenizer.convert_ids_to_tokens(seq)]
    uses_types = "token_type_ids" in tokenizer.model_input_names
    return Tokenized(
        sequences,
        type_ids if uses_types else None,
        tokens,
        token_words,
        all_words,
        segments,
        specials,
        truncated,
        mask_position,
        before if truncated else None,
    )


def _place_mask(
    request: AnalysisRequest,
    tokenizer: PreTrainedTokenizerBase,
    ids: list[int],
    specials: list[bool],
    truncated: bool,
    max_length: int,
) -> int:
    """The mask's token position; a mask index replaces that token's id in place."""
    if request.mask_index is not None:
        i = request.mask_index
        if i >= len(ids):
            raise InputError(
                f"mask index {i} is out of range: the input has {len(ids)} tokens (0 to {len(ids) - 1})"
            )
        if specials[i]:
            raise InputError(f"mask index {i} points at a special token, not at a word")
        ids[i] = tokenizer.mask_token_id
        return i
    found = [i for i, t in enumerate(ids) if t == tokenizer.mask_token_id]
    if not found:
        if truncated:
            raise InputError(f"the mask lies beyond the model's maximum length of {max_length} tokens")
        raise InputError(
            "the mask was lost in tokenisation; write it as [MASK] or <mask> with spaces around it"
        )
    if len(found) > 1:
        raise InputError("only one mask per request")
    return found[0]


@dataclass
class Batch:
    """Padded tensors for a batch of B requests of S sequences each: [B, S, n]."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    token_type_ids: torch.Tensor | None
    lengths: list[list[int]]  # real tokens per request and sequence

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.input_ids.shape)  # type: ignore[return-value]

    def select(self, requests: list[int]) -> Batch:
        """Some of the requests, padded only to their own longest sequence."""
        lengths = [self.lengths[b] for b in requests]
        width = max(max(ls) for ls in lengths)
        cut = lambda t: None if t is None else t[requests, :, :width]  # noqa: E731
        return Batch(cut(self.input_ids), cut(self.attention_mask), cut(self.token_type_ids), lengths)


def pad_batch(items: list[Tokenized], device: torch.device) -> Batch:
    B, S = len(items), len(items[0].sequences)
    n = max(max(item.lengths) for item in items)
    ids = torch.zeros(B, S, n, dtype=torch.long)
    mask = torch.zeros(B, S, n, dtype=torch.long)
    types = torch.zeros(B, S, n, dtype=torch.long) if items[0].type_ids is not None else None
    for b, item in enumerate(items):
        for s, seq in enumerate(item.sequences):
            ids[b, s, : len(seq)] = torch.tensor(seq)
            mask[b, s, : len(seq)] = 1
            if types is not None:
                types[b, s, : len(seq)] = torch.tensor(item.type_ids[s])
    return Batch(
        ids.to(device),
        mask.to(device),
        None if types is None else types.to(device),
        [i.lengths for i in items],
    )


def unpad(values: torch.Tensor | np.ndarray, lengths: list[int]) -> np.ndarray:
    """[S, n, ...] per-sequence values → the real tokens of all sequences, concatenated: [N, ...]."""
    values = values.detach().float().cpu().numpy() if isinstance(values, torch.Tensor) else values
    return np.concatenate([values[s, :length] for s, length in enumerate(lengths)])


def block_diagonal(values: torch.Tensor | np.ndarray, lengths: list[int]) -> np.ndarray:
    """[S, ..., n, n] per-sequence square maps → one [..., N, N] map with zeros across sequences."""
    values = values.detach().float().cpu().numpy() if isinstance(values, torch.Tensor) else values
    total = sum(lengths)
    out = np.zeros((*values.shape[1:-2], total, total), dtype=np.float32)
    start = 0
    for s, length in enumerate(lengths):
        out[..., start : start + length, start : start + length] = values[s, ..., :length, :length]
        start += length
    return out


def repeat_batch(batch: Batch, times: int) -> Batch:
    """The batch stacked `times` times along requests (how Captum lays out its IG steps)."""
    if times == 1:
        return batch
    again = lambda t: None if t is None else t.repeat(times, 1, 1)  # noqa: E731
    return Batch(
        again(batch.input_ids),
        again(batch.attention_mask),
        again(batch.token_type_ids),
        batch.lengths * times,
    )
