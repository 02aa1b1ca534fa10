"""A model too big for the worker is refused before loading, from its config's parameter count."""

from __future__ import annotations

import shutil

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig

from interp.loading import load_model
from interp.model_size import available_ram, count, readable, weight_bytes
from interp.schema import ModelUnavailable
from interp.tasks import engine_for


@pytest.mark.parametrize(
    "model_id,task",
    [
        ("tiny-llama", "causal-lm"),
        ("tiny-gemma2", "causal-lm"),
        ("tiny-qwen2-sst", "sst"),
        ("tiny-bert-mlm", "mlm"),
        ("tiny-gpt2", "causal-lm"),
    ],
)
def test_the_estimate_is_what_loading_takes(registry, loaded, model_id, task):
    """Exact, tied embeddings (Gemma, BERT's MLM head, GPT-2) counted once."""
    config = AutoConfig.from_pretrained(registry.get(model_id).load_path())
    needed, _, dtype = weight_bytes(config, engine_for(task).auto_class)
    assert dtype == torch.float32
    assert needed == loaded(model_id, task).param_bytes


def test_a_real_size_config_without_its_weights():
    """Llama-3-8B's shape, in bfloat16 as it ships: its published 8.03B parameters, 2 bytes each."""
    config = LlamaConfig(
        hidden_size=4096,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        intermediate_size=14336,
        vocab_size=128256,
        dtype="bfloat16",
    )
    needed, parameters, dtype = weight_bytes(config, AutoModelForCausalLM)
    assert (parameters, dtype, needed) == (8_030_261_248, torch.bfloat16, 2 * 8_030_261_248)


def fake_meminfo(tmp_path, monkeypatch, kib: int) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(f"MemTotal:       16000000 kB\nMemFree:          100 kB\nMemAvailable:   {kib} kB\n")
    monkeypatch.setattr("interp.model_size.MEMINFO", meminfo)
    monkeypatch.setenv("INTERPBOARD_DEVICE", "cpu")


def test_too_big_for_the_memory_left_is_refused_before_loading(registry, tmp_path, monkeypatch):
    spec = registry.get("tiny-llama")
    copy = tmp_path / "tiny-llama"
    shutil.copytree(spec.load_path(), copy)
    for weights in copy.glob("*.safetensors"):
        weights.unlink()  # the refusal needs only the config: no weight is ever read
    fake_meminfo(tmp_path, monkeypatch, kib=64)
    with pytest.raises(
        ModelUnavailable,
        match=r"^model tiny-llama needs ≈ 0\.\d\d MiB for its weights "
        r"\([\d,]+ parameters in float32\), this worker allows 0\.06 MiB "
        r"\(available memory\)$",
    ):
        load_model(spec.model_copy(update={"path": str(copy)}), "causal-lm")


def test_a_model_that_fits_loads(registry, tmp_path, monkeypatch):
    fake_meminfo(tmp_path, monkeypatch, kib=10_000)
    assert available_ram() == 10_000 * 1024
    assert load_model(registry.get("tiny-llama"), "causal-lm").param_bytes < 10_000 * 1024


def test_no_figure_no_refusal(registry, tmp_path, monkeypatch):
    monkeypatch.setattr("interp.model_size.MEMINFO", tmp_path / "absent")
    assert available_ram() is None
    load_model(registry.get("tiny-llama"), "causal-lm")


def test_figures_read_as_people_write_them():
    assert [count(n) for n in (34_720, 494_032_768, 8_030_261_248)] == ["34,720", "494M", "8.03B"]
    assert [readable(n) for n in (138_880, 2 * 8_030_261_248)] == ["0.13 MiB", "15.0 GiB"]


def test_warm_models_are_unloaded_to_make_room(registry, tmp_path, monkeypatch):
    """Memory short only because of warm models: the least recently used go, the new model loads."""
    from interp.loading import ModelCache

    cache = ModelCache()
    bert = cache.get(registry.get("tiny-bert-mlm"), "mlm")
    gpt2 = cache.get(registry.get("tiny-gpt2"), "causal-lm")
    llama_bytes = load_model(registry.get("tiny-llama"), "causal-lm").param_bytes
    # Room for llama once the older warm model (bert) is gone, not before.
    fake_meminfo(tmp_path, monkeypatch, kib=(llama_bytes - bert.param_bytes // 2) // 1024)
    llama = cache.get(registry.get("tiny-llama"), "causal-lm")
    assert llama.param_bytes == llama_bytes
    assert len(cache) == 2  # bert unloaded, gpt2 (used more recently) kept
    assert cache.get(registry.get("tiny-gpt2"), "causal-lm") is gpt2


def test_warm_models_stay_when_unloading_them_would_not_make_room(registry, tmp_path, monkeypatch):
    from interp.loading import ModelCache

    cache = ModelCache()
    cache.get(registry.get("tiny-bert-mlm"), "mlm")
    fake_meminfo(tmp_path, monkeypatch, kib=1)
    with pytest.raises(ModelUnavailable, match=r"this worker allows 0\.00 MiB \(available memory\)$"):
        cache.get(registry.get("tiny-llama"), "causal-lm")
    assert len(cache) == 1
