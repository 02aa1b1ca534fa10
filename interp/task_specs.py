"""What each task means to everyone outside the engine: torch-free, read by the schema, UI, API and CLI.

A task is one `TaskSpec` here plus one engine class in `interp.tasks` (which adds the model side:
auto class, read position, target score, predictions). Adding a task = one spec + one engine + tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TargetKind(StrEnum):
    """What a request's `target` names: the thing its saliency explains."""

    TOKEN = "token"  # a vocabulary token (its logit at the read position)
    CLASS = "class"  # a class label of the model's head
    NONE = "none"  # the task explains one fixed scalar and takes no target


@dataclass(frozen=True)
class TaskSpec:
    name: str  # the id in requests and in the registry
    label: str  # for people
    pair_label: str | None  # the second text's name ("Hypothesis"), None when the task reads one text
    needs_mask: bool  # the text holds one mask (written [MASK]/<mask>, or given as a token index)
    separate_sequences: bool  # the two texts are encoded apart (sentence embeddings), not as one pair
    target: TargetKind
    explains: str  # the scalar every saliency method explains
    example_text: str  # what the form opens with
    example_pair: str | None = None
    pair_required: bool = True  # False: the pair may be left out (seq2seq then generates its target)
    # The prediction is one vocabulary word at one position: models line up on the same words (Compare), and a
    # request may ask for its candidate words' probabilities (AnalysisRequest.candidates).
    predicts_word: bool = False

    @property
    def takes_pair(self) -> bool:
        return self.pair_label is not None


TASK_SPECS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            "mlm",
            "masked word",
            None,
            needs_mask=True,
            separate_sequences=False,
            target=TargetKind.TOKEN,
            explains="the target token's logit at the mask",
            example_text="The cat sat on the [MASK] .",
            predicts_word=True,
        ),
        TaskSpec(
            "sst",
            "sentiment (SST-2)",
            None,
            needs_mask=False,
            separate_sequences=False,
            target=TargetKind.CLASS,
            explains="the target class logit",
            example_text="A gripping, beautifully acted film.",
        ),
        TaskSpec(
            "mnli",
            "entailment (MNLI)",
            "Hypothesis",
            needs_mask=False,
            separate_sequences=False,
            target=TargetKind.CLASS,
            explains="the target class logit",
            example_text="A man is playing a guitar on stage.",
            example_pair="A person is making music.",
        ),
        TaskSpec(
            "causal-lm",
            "next token",
            None,
            needs_mask=False,
            separate_sequences=False,
            target=TargetKind.TOKEN,
            explains="the target token's logit after the last token",
            example_text="The capital of France is",
            predicts_word=True,
        ),
        TaskSpec(
            "similarity",
            "sentence similarity",
            "Second sentence",
            needs_mask=False,
            separate_sequences=True,
            target=TargetKind.NONE,
            explains="the cosine similarity of the two mean-pooled sentence embeddings",
            example_text="A man is playing a guitar.",
            example_pair="Someone plays an instrument.",
        ),
        TaskSpec(
            "seq2seq",
            "sequence to sequence",
            "Target text",
            needs_mask=False,
            separate_sequences=True,
            target=TargetKind.TOKEN,
            explains="each target token's log-probability given the source and the preceding target tokens",
            example_text="the cat sat on the mat",
            pair_required=False,
        ),
    )
}
TASKS = tuple(TASK_SPECS)
PAIR_TASKS = tuple(name for name, spec in TASK_SPECS.items() if spec.takes_pair)


def task_spec(name: str) -> TaskSpec:
    """The spec of a known task; KeyError for any other name (requests are validated before this)."""
    return TASK_SPECS[name]
