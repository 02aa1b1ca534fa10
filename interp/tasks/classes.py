"""Tasks that classify the text (sst) or the text pair (mnli) with the model's own class head.

The target is a class label; its logit is what saliency explains.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from transformers import AutoModelForSequenceClassification
from transformers.modeling_outputs import SequenceClassifierOutput

from interp.schema import InputError
from interp.task_specs import TargetKind
from interp.tasks.base import Prediction, Target, TaskEngine
from interp.tokens import Batch, Tokenized

if TYPE_CHECKING:
    from interp.loading import LoadedModel


class ClassEngine(TaskEngine):
    """Every class's probability (model order); a target is a label name or a class index."""

    auto_class = AutoModelForSequenceClassification
    target_kind = TargetKind.CLASS

    def run(
        self,
        lm: LoadedModel,
        embeds: torch.Tensor,
        batch: Batch,
        *,
        attentions: bool = False,
        encoder_only: bool = False,
        hidden_states: bool = False,
    ) -> Any:
        head = last_token_head(lm.model)
        if head is None or encoder_only:
            return super().run(
                lm,
                embeds,
                batch,
                attentions=attentions,
                encoder_only=encoder_only,
                hidden_states=hidden_states,
            )
        # Given embeddings, transformers' decoder classifiers cannot see padding and read the last
        # position, padding included; read each sequence's last real token here instead.
        outputs = super().run(lm, embeds, batch, attentions=attentions, encoder_only=True)
        hidden = outputs.last_hidden_state  # [B*S, n, d]
        last = batch.attention_mask.reshape(hidden.shape[0], -1).sum(-1) - 1
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        return SequenceClassifierOutput(logits=head(hidden[rows, last]), attentions=outputs.attentions)

    def read_position(self, item: Tokenized, lm: LoadedModel) -> int:
        """A decoder's class head reads the last token; an encoder's the first ([CLS], <s>)."""
        return item.lengths[0] - 1 if last_token_head(lm.model) is not None else 0

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


def last_token_head(model: torch.nn.Module) -> torch.nn.Module | None:
    """The class head of a decoder classifier (Llama, Qwen, Gemma, GPT-2...: a `score` layer on the last
    token's hidden state), None for encoders (their head reads the first token, through a pooler)."""
    score = getattr(model, "score", None)
    return score if isinstance(score, torch.nn.Linear) else None
