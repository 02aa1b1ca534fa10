"""Each task is one TaskSpec plus one engine: the two lists agree, and an engine fits its spec."""

from __future__ import annotations

import pytest

from interp.task_specs import TASK_SPECS, TargetKind
from interp.tasks import ENGINES, engine_for
from interp.tasks.classes import ClassEngine
from interp.tasks.token import MaskedLM


def test_every_task_spec_has_an_engine_and_every_engine_a_spec():
    assert set(ENGINES) == set(TASK_SPECS)
    for name, engine in ENGINES.items():
        assert engine.spec is TASK_SPECS[name] and engine_for(name) is engine


def test_an_engine_refuses_a_spec_whose_target_it_cannot_parse():
    with pytest.raises(ValueError, match="mlm"):
        ClassEngine(TASK_SPECS["mlm"])
    with pytest.raises(ValueError, match="sst"):
        MaskedLM(TASK_SPECS["sst"])


@pytest.mark.parametrize(
    "model, task",
    [
        ("tiny-bert-sst", "sst"),
        ("tiny-roberta-mlm", "mlm"),
        ("tiny-gpt2", "causal-lm"),
        ("tiny-bert-sim", "similarity"),
    ],
)
def test_a_model_loads_with_its_task_engines_auto_class(loaded, model, task):
    lm = loaded(model, task)
    assert lm.task == task
    # Only class tasks read class names from the model's head.
    assert (lm.labels is not None) == (TASK_SPECS[task].target is TargetKind.CLASS)
    expected = ENGINES[task].auto_class.from_config(lm.model.config)
    assert type(lm.model) is type(expected)
