"""Tasks that classify the text (sst) or the text pair (mnli) with the model's own class head.

The target is a class label; its logit is what saliency explains.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from transformers import AutoModelForSequenceClassification

from interp.schema import InputError
from interp.task_specs import TargetKind
from interp.tasks.base import Prediction, Target, TaskEngine
from interp.tokens import Batch

if TYPE_CHECKING:
    from interp.loading import LoadedModel


class ClassEngine(TaskEngine):
    """Every class's probability (model order); a target is a label name or a class index."""

    auto_class = AutoModelForSequenceClassification
    target_kind = TargetKind.CLASS

    def target_scores(
        self, outputs: Any, batch: Batch, read_pos: torch.Tensor, target_ids: torch.Tensor
    ) -> torch.Tensor:
        return outputs.logits.gather(1, target_ids[:, None])[:, 0]

    def predictions(
        self, lm: LoadedModel, outputs: Any, batch: Batch, read_pos: torch.Tensor, top_k: int
    ) -> list[list[Prediction]]:
        probs = outputs.logits.float().softmax(-1)
        return [
            [
                {"label": name, "score": float(p[i]), "index": i, "logit": float(row[i])}
                for i, name in enumerate(lm.labels)
            ]
            for p, row in zip(probs, outputs.logits.float())
        ]

    def parse_target(self, wanted: str, lm: LoadedModel) -> Target:
        for i, name in enumerate(lm.labels):
            if wanted.lower() == name.lower() or wanted == str(i):
                return {"label": name, "index": i}
        raise InputError(
            f"unknown target label {wanted!r}; model {lm.spec.id} has labels {', '.join(lm.labels)}"
        )

    def default_target(self, preds: list[Prediction]) -> Target:
        best = max(preds, key=lambda p: p["score"])
        return {"label": best["label"], "index": best["index"]}
