"""A registry entry's device_map: accelerate places the modules (over the GPUs, the CPU, or disk), the inputs
go where the input embeddings run, and every result equals the model loaded whole. On a CPU-only machine a
table that offloads a layer to disk is the real multi-device path: that layer's weights wait on the meta
device and accelerate's hooks bring them in, and move each module's inputs, as between GPUs."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from interp.engine import analyze
from interp.loading import ModelCache, _release
from interp.registry import load_registry
from interp.schema import AnalysisRequest, ModelUnavailable

TEXT = "the quick brown fox jumps over the lazy dog while the cat sat on the"
METHODS = ("grad_norm", "grad_x_input", "integrated_gradients", "attention_sensitivity")
# tiny-llama's second (last) layer on disk, the rest on the CPU
OFFLOADED = (
    'device_map = { "model.embed_tokens" = "cpu", "model.layers.0" = "cpu", "model.layers.1" = "disk", '
    '"model.norm" = "cpu", "model.rotary_emb" = "cpu", "lm_head" = "cpu" }'
)


@pytest.fixture(scope="module")
def mapped(registry, tmp_path_factory):
    """tiny-llama again, as "llama-auto" (device_map = "auto"), "llama-disk" (OFFLOADED) and "llama-disk-embed"
    (its input embeddings on disk too: the inputs go where accelerate runs them)."""
    path = registry.get("tiny-llama").path
    file = tmp_path_factory.mktemp("mapped") / "models.toml"
    embed = OFFLOADED.replace('"model.embed_tokens" = "cpu"', '"model.embed_tokens" = "disk"')
    entries = [("llama-auto", 'device_map = "auto"'), ("llama-disk", OFFLOADED), ("llama-disk-embed", embed)]
    file.write_text(
        "".join(
            f'[[models]]\nid = "{i}"\npath = "{path}"\ntask = "causal-lm"\n{extra}\n\n'
            for i, extra in entries
        )
    )
    return load_registry(file)


@pytest.mark.parametrize("model_id", ["llama-auto", "llama-disk", "llama-disk-embed"])
def test_a_device_mapped_model_gives_what_the_whole_model_gives(registry, mapped, model_id):
    request = dict(task="causal-lm", text=TEXT, methods=METHODS, ig_steps=8)
    whole = analyze(AnalysisRequest("tiny-llama", **request), registry=registry)
    cache = ModelCache()
    lm = cache.get(mapped.get(model_id), "causal-lm")
    got = analyze(AnalysisRequest(model_id, **request), registry=mapped)
    assert lm.device == torch.device("cpu") and got.device == "cpu"
    if model_id.startswith("llama-disk"):
        assert lm.model.hf_device_map["model.layers.1"] == "disk"
        assert lm.model._hf_hook.io_same_device  # outputs come back where the inputs went (GPUs alike)
        assert lm.model.model.layers[1].self_attn.q_proj.weight.device.type == "meta"  # not in memory
        assert lm.param_bytes < cache.get(registry.get("tiny-llama"), "causal-lm").param_bytes
        assert os.path.isdir(lm.offload_folder)  # empty here: safetensors weights are read where they are
    if model_id == "llama-disk-embed":
        assert lm.model.get_input_embeddings().weight.device.type == "meta"
    assert [p["token_id"] for p in got.predictions] == [p["token_id"] for p in whole.predictions]
    np.testing.assert_allclose(
        [p["score"] for p in got.predictions], [p["score"] for p in whole.predictions], atol=1e-6
    )
    np.testing.assert_allclose(np.asarray(got.attention), np.asarray(whole.attention), atol=1e-6)
    np.testing.assert_allclose(got.queries.astype(np.float32), whole.queries.astype(np.float32), atol=1e-3)
    for name in METHODS[:-1]:
        np.testing.assert_allclose(
            got.saliency[name], whole.saliency[name], rtol=1e-4, atol=1e-6, err_msg=name
        )
    np.testing.assert_allclose(got.attention_sensitivity, whole.attention_sensitivity, rtol=1e-4, atol=1e-6)
    assert [l[0]["label"] for l in got.logit_lens] == [l[0]["label"] for l in whole.logit_lens]
    if lm.offload_folder:
        _release(lm)  # what the model cache does when it unloads the model
        assert not os.path.exists(lm.offload_folder)


def test_a_device_map_counts_all_the_memory_and_disk_is_never_refused(mapped, tmp_path, monkeypatch):
    from tests.interp.test_model_size import fake_meminfo

    fake_meminfo(tmp_path, monkeypatch, kib=64)
    with pytest.raises(
        ModelUnavailable,
        match=r"^model llama-auto needs ≈ 0\.\d\d MiB .* this worker allows 0\.06 MiB "
        r"\(available memory, for its device map\)$",
    ):
        ModelCache().get(mapped.get("llama-auto"), "causal-lm")
    assert ModelCache().get(mapped.get("llama-disk"), "causal-lm").model.hf_device_map
