"""Model loading: the default registry offline, fast failures, the LRU, threads."""

from __future__ import annotations

import socket
import threading

import huggingface_hub.constants
import numpy as np
import pytest

from interp.loading import ModelCache, pick_device
from interp.registry import load_registry
from interp.schema import AnalysisRequest, ModelUnavailable


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def builtin_registry(monkeypatch, tmp_path, tiny_registry):
    monkeypatch.delenv("INTERPBOARD_MODELS", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))  # an empty Hub cache
    return load_registry()


def test_default_registry_lists_builtins_and_hub_models_are_unavailable_offline(builtin_registry, no_network):
    assert {"bert-mlm", "bert-sst", "roberta-mnli", "distilbert-sst", "gpt2", "minilm"} <= set(
        builtin_registry.models
    )
    bert = builtin_registry.get("bert-sst").availability()
    assert not bert.ok and "HF_HUB_OFFLINE" in bert.detail
    assert builtin_registry.get("minilm").availability().ok


def test_loading_a_missing_hub_model_fails_at_once(builtin_registry, no_network):
    with pytest.raises(ModelUnavailable, match="bert-sst is unavailable"):
        ModelCache().get(builtin_registry.get("bert-sst"), "sst")


def test_analyze_reports_an_unavailable_model(builtin_registry, no_network):
    from interp.engine import analyze

    with pytest.raises(ModelUnavailable):
        analyze(AnalysisRequest("gpt2", "causal-lm", "hello"), registry=builtin_registry)


def test_broken_model_files_are_wrapped(tmp_path, registry):
    (tmp_path / "config.json").write_text("{ not json")
    spec = registry.get("tiny-bert-sst").model_copy(update=dict(id="broken", path=str(tmp_path)))
    with pytest.raises(ModelUnavailable, match="broken could not be loaded"):
        ModelCache().get(spec, "sst")


def test_registry_labels_must_match_the_model(registry):
    spec = registry.get("tiny-bert-mnli").model_copy(update=dict(labels=("yes", "no")))
    with pytest.raises(ModelUnavailable, match="2 labels but the model has 3"):
        ModelCache().get(spec, "mnli")


def test_loaded_models_are_eval_eager_and_need_no_parameter_grads(loaded):
    lm = loaded("tiny-roberta-sst", "sst")
    assert not lm.model.training and lm.model.config._attn_implementation == "eager"
    assert not any(p.requires_grad for p in lm.model.parameters())
    assert lm.max_length == 64 and lm.labels == ("negative", "positive")


def test_lru_limits_count_and_memory(registry, monkeypatch):
    cache = ModelCache()
    monkeypatch.setenv("INTERPBOARD_MAX_MODELS", "2")
    first = cache.get(registry.get("tiny-bert-sst"), "sst")
    cache.get(registry.get("tiny-gpt2"), "causal-lm")
    assert cache.get(registry.get("tiny-bert-sst"), "sst") is first  # a hit, now the most recent
    cache.get(registry.get("tiny-bert-mnli"), "mnli")
    assert len(cache) == 2 and cache.get(registry.get("tiny-bert-sst"), "sst") is first  # gpt2 went
    monkeypatch.setenv("INTERPBOARD_MAX_MODEL_MEMORY_MB", "0.01")
    cache.get(registry.get("tiny-gpt2"), "causal-lm")
    assert len(cache) == 1  # over the memory limit: only the newest stays


def test_device_override(monkeypatch):
    monkeypatch.setenv("INTERPBOARD_DEVICE", "cpu")
    assert str(pick_device()) == "cpu"
    monkeypatch.setenv("INTERPBOARD_DEVICE", "gpu please")
    with pytest.raises(ModelUnavailable, match="not a device"):
        pick_device()


def test_one_load_for_concurrent_threads(registry):
    cache = ModelCache()
    got = []
    threads = [
        threading.Thread(target=lambda: got.append(cache.get(registry.get("tiny-distilbert-sst"), "sst")))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(g is got[0] for g in got)


def test_concurrent_analyses_agree(registry):
    from interp.engine import analyze

    request = AnalysisRequest(
        "tiny-bert-mlm", "mlm", "the cat sat on the [MASK]", methods=("grad_norm", "attention_sensitivity")
    )
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(analyze(request, registry=registry))) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3
    for other in results[1:]:
        np.testing.assert_allclose(other.attention_sensitivity, results[0].attention_sensitivity, rtol=1e-5)
