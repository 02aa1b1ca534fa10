"""Encoder-decoder translation/summarisation models: every target token is explained, one step each.

The computation (interp.seq2seq) is its own pipeline: a source and a target are two inputs, not one.
The target scalar of step t is the log-probability of target token t at decoder position t.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import torch
from transformers import AutoModelForSeq2SeqLM

from interp.schema import AnalysisRequest
from interp.seq2seq import analyze_seq2seq
from interp.tasks.base import Pipeline, Target
from interp.tasks.token import TokenEngine, token_log_probs
from interp.tokens import Batch

if TYPE_CHECKING:
    from interp.loading import LoadedModel


class Seq2Seq(TokenEngine):
    auto_class = AutoModelForSeq2SeqLM

    def own_pipeline(self, request: AnalysisRequest) -> Pipeline | None:
        return partial(analyze_seq2seq, self)

    def requested_target(self, request: AnalysisRequest, lm: LoadedModel) -> Target | None:
        return None  # every target token is explained (the request refuses a target)

    def target_scores(
        self, outputs: Any, batch: Batch | None, read_pos: torch.Tensor, target_ids: torch.Tensor
    ) -> torch.Tensor:
        return token_log_probs(outputs.logits, read_pos, target_ids)
