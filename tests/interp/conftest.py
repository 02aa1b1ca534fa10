"""Engine fixtures: the tiny-model registry and a one-call helper."""

from __future__ import annotations

import pytest

from interp.registry import Registry, load_registry
from interp.schema import Analysis, AnalysisRequest

FAST = (
    "grad_norm",
    "grad_x_input",
    "attention_rollout",
)  # cheap methods for tests that need no IG/sensitivity


@pytest.fixture(scope="session")
def registry(tiny_registry) -> Registry:
    return load_registry(tiny_registry)


@pytest.fixture(scope="session")
def run(registry):
    """run(model, task, text, pair=None, **request fields) -> Analysis."""
    from interp.engine import analyze

    def _run(model: str, task: str, text: str, pair: str | None = None, **fields) -> Analysis:
        return analyze(AnalysisRequest(model, task, text, pair, **fields), registry=registry)

    return _run


@pytest.fixture(scope="session")
def loaded(registry):
    """loaded(model id, task) -> the engine's LoadedModel."""
    from interp.loading import MODELS

    return lambda model, task: MODELS.get(registry.get(model), task)
