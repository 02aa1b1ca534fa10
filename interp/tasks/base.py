"""What every task engine does, and the model call they share.

A task engine is the model side of one `TaskSpec`: which Auto class loads the model, which token
position the prediction reads, the target scalar every saliency method explains, the predictions,
and what a request's `target` names. The engine (interp.engine) asks it; it never asks for a task name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from interp.schema import Analysis, AnalysisRequest
from interp.stages import Progress
from interp.task_specs import TargetKind, TaskSpec
from interp.tokens import Batch, Tokenized

if TYPE_CHECKING:  # interp.loading asks the engines for their Auto class
    from interp.loading import LoadedModel

Prediction = dict[str, Any]
Target = dict[str, Any]  # {"label", "index"}: index is what target_scores reads (class index, vocabulary id)
Report = Callable[[Progress, float, Analysis | None], None]
# The whole computation of a request that is not one forward pass over one input (seq2seq, generation).
Pipeline = Callable[["LoadedModel", AnalysisRequest, Report], Analysis]


class TaskEngine(ABC):
    """The shared behaviour; a subclass per kind of task fills in the rest."""

    auto_class: ClassVar[type]  # the transformers Auto class that loads a model for this task
    target_kind: ClassVar[TargetKind]  # the kind of target this engine parses; its spec must agree
    has_logit_lens: ClassVar[bool] = False  # its head reads the vocabulary (interp.logit_lens)
    takes_chat_prompts: ClassVar[bool] = False  # a registry entry's chat_template applies (interp.chat)

    def __init__(self, spec: TaskSpec) -> None:
        if spec.target is not self.target_kind:
            raise ValueError(
                f"task {spec.name}: its spec's target is {spec.target}, {type(self).__name__} "
                f"explains a {self.target_kind} target"
            )
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

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
        """Forward [B, S, n, d] word embeddings (the model adds positions and types itself).

        encoder_only runs the base model without its task head: enough for attention, and it spares a
        vocabulary-sized projection.
        """
        B, S, n, d = embeds.shape
        kwargs: dict[str, Any] = dict(
            inputs_embeds=embeds.reshape(B * S, n, d).to(lm.model.dtype),  # float32 in: interp.saliency
            attention_mask=batch.attention_mask.reshape(B * S, n),
            output_attentions=attentions,
            output_hidden_states=hidden_states,
        )
        if batch.token_type_ids is not None:
            kwargs["token_type_ids"] = batch.token_type_ids.reshape(B * S, n)
        return (lm.model.base_model if encoder_only else lm.model)(**kwargs)

    def own_pipeline(self, request: AnalysisRequest) -> Pipeline | None:
        """The function computing this request where the shared stages of interp.engine do not fit it."""
        return None

    def read_position(self, item: Tokenized, lm: LoadedModel) -> int:
        """The token position whose output the prediction reads."""
        return 0

    def reading_rows(self, item: Tokenized, lm: LoadedModel) -> list[list[int]]:
        """Groups of (concatenated) token rows whose attention rollout explains the prediction."""
        return [[self.read_position(item, lm)]]

    @abstractmethod
    def target_scores(
        self, outputs: Any, batch: Batch, read_pos: torch.Tensor, target_ids: torch.Tensor
    ) -> torch.Tensor:
        """The scalar each request's saliency explains: [B]."""

    @abstractmethod
    def predictions(
        self, lm: LoadedModel, outputs: Any, batch: Batch, read_pos: torch.Tensor, top_k: int
    ) -> list[list[Prediction]]:
        """Per request, what the model predicts (shown, and the default target's source)."""

    def word_scores(
        self, lm: LoadedModel, outputs: Any, read_pos: torch.Tensor, words: list[tuple[str, ...] | None]
    ) -> list[list[dict[str, Any]] | None]:
        """Per request, its candidate words' probabilities (TaskSpec.predicts_word engines only)."""
        raise NotImplementedError(f"task {self.name} does not score candidate words")

    def requested_target(self, request: AnalysisRequest, lm: LoadedModel) -> Target | None:
        """The request's own target, None to explain the top prediction.

        Checked before any computation, so a bad target costs nothing.
        """
        return None if request.target is None else self.parse_target(request.target, lm)

    @abstractmethod
    def parse_target(self, wanted: str, lm: LoadedModel) -> Target:
        """What a written target names; InputError where this model has no such target."""

    @abstractmethod
    def default_target(self, preds: list[Prediction]) -> Target:
        """The top prediction as a target."""
