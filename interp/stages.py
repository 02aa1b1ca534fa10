"""Where a job is: the engine's stages, the job states around them, and the one text for people.

Torch-free: the engine reports `Progress` values, the job layer stores their parts in the job
record (`stage`, `step`, `of`), and the UI, CLI and API read them back without parsing strings.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Stage(StrEnum):
    """A step of a job's life; the engine reports LOADING to DONE, the job layer the others."""

    QUEUED = "queued"
    STARTING = "starting"
    LOADING = "loading"  # the model, into this worker's memory
    FORWARD = "forward"  # predictions, attention, head statistics
    SALIENCY = "saliency"
    SENSITIVITY = "sensitivity"  # one step per layer
    DONE = "done"  # the engine's last report; the job's own end follows storing
    STORING = "storing"
    ERROR = "error"
    CANCELLED = "cancelled"


# What people read for a stage (the others read as their value).
_TEXT = {Stage.LOADING: "loading model"}


class Progress(NamedTuple):
    stage: Stage
    step: int | None = None  # 1-based, for stages done in steps (sensitivity: layer l ...)
    of: int | None = None  # ... of L)

    def __str__(self) -> str:
        return describe(self.stage, self.step, self.of)


def describe(
    stage: str | None, step: int | None = None, of: int | None = None, batch: int | None = None
) -> str:
    """The one human text of a stage: "loading model", "sensitivity 3/12", "forward (batch of 4)"."""
    if stage is None:
        return ""
    text = _TEXT.get(stage, str(stage))  # type: ignore[call-overload]
    if step is not None and of is not None:
        text += f" {step}/{of}"
    if batch is not None and batch > 1:
        text += f" (batch of {batch})"
    return text
