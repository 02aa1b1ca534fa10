"""One engine per task: the model side of each `TaskSpec` (see interp.task_specs).

Adding a task = a TaskSpec in interp.task_specs, an engine here (a subclass of TaskEngine, or an
existing engine class given the new spec), and tests.
"""

from __future__ import annotations

from interp.task_specs import TASK_SPECS
from interp.tasks.base import TaskEngine
from interp.tasks.classes import ClassEngine
from interp.tasks.seq2seq import Seq2Seq
from interp.tasks.similarity import Similarity
from interp.tasks.token import CausalLM, MaskedLM

ENGINES: dict[str, TaskEngine] = {
    engine.name: engine
    for engine in (
        MaskedLM(TASK_SPECS["mlm"]),
        ClassEngine(TASK_SPECS["sst"]),
        ClassEngine(TASK_SPECS["mnli"]),
        CausalLM(TASK_SPECS["causal-lm"]),
        Similarity(TASK_SPECS["similarity"]),
        Seq2Seq(TASK_SPECS["seq2seq"]),
    )
}


def engine_for(task: str) -> TaskEngine:
    """The engine of a known task; KeyError for any other name (requests are validated before this)."""
    return ENGINES[task]


__all__ = ["ENGINES", "TaskEngine", "engine_for"]
