"""Sentence similarity: the cosine similarity of the two mean-pooled sentence embeddings.

The two sentences are encoded apart (the spec's separate_sequences); the task takes no target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from transformers import AutoModel

from interp.schema import InputError
from interp.task_specs import TargetKind
from interp.tasks.base import Prediction, Target, TaskEngine
from interp.tokens import Batch, Tokenized

if TYPE_CHECKING:
    from interp.loading import LoadedModel

SIMILARITY_LABEL = "cosine similarity"


class Similarity(TaskEngine):
    auto_class = AutoModel
    target_kind = TargetKind.NONE

    def reading_rows(self, item: Tokenized, lm: LoadedModel) -> list[list[int]]:
        """Every token of each sentence: the pooled embedding reads them all."""
        na, nb = item.lengths
        return [list(range(na)), list(range(na, na + nb))]

    def target_scores(
        self, outputs: Any, batch: Batch, read_pos: torch.Tensor, target_ids: torch.Tensor
    ) -> torch.Tensor:
        return _cosine(outputs, batch)

    def predictions(
        self, lm: LoadedModel, outputs: Any, batch: Batch, read_pos: torch.Tensor, top_k: int
    ) -> list[list[Prediction]]:
        return [[{"label": SIMILARITY_LABEL, "score": float(c)}] for c in _cosine(outputs, batch)]

    def parse_target(self, wanted: str, lm: LoadedModel) -> Target:
        raise InputError("similarity explains the cosine similarity of the two sentences; it takes no target")

    def default_target(self, preds: list[Prediction]) -> Target:
        return {"label": SIMILARITY_LABEL, "index": 0}


def mean_pooled(outputs: Any, batch: Batch) -> torch.Tensor:
    """Attention-mask weighted mean of the last hidden states: [B, S, hidden]."""
    B, S, n = batch.shape
    hidden = outputs.last_hidden_state.reshape(B, S, n, -1)
    weights = batch.attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(2) / weights.sum(2).clamp(min=1)


def _cosine(outputs: Any, batch: Batch) -> torch.Tensor:
    pooled = mean_pooled(outputs, batch)
    return F.cosine_similarity(pooled[:, 0], pooled[:, 1], dim=-1)
