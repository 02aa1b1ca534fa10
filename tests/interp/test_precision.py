"""Precision: float32 by default (also for a bfloat16 checkpoint), bfloat16 when the registry or
$INTERPBOARD_DTYPE says so, with predictions and saliency close to float32's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from interp.engine import analyze
from interp.loading import MODELS
from interp.registry import load_registry
from interp.schema import AnalysisRequest

TEXT = "the quick brown fox jumps over the"
CASES = [
    ("tiny-llama", "causal-lm", TEXT),
    ("tiny-gemma2", "causal-lm", TEXT),
    ("tiny-bert-mlm", "mlm", "the cat sat on the [MASK] while the dog slept"),
]


def _registry_file(folder, entries: list[tuple[str, str, str, str]]):
    lines = []
    for model_id, path, task, extra in entries:
        lines += ["[[models]]", f'id = "{model_id}"', f'path = "{path}"', f'task = "{task}"', extra, ""]
    file = folder / "models.toml"
    file.write_text("\n".join(lines), encoding="utf-8")
    return load_registry(file)


@pytest.fixture(scope="module")
def half(registry, tmp_path_factory):
    """The same models as the fixture's, with dtype = "bfloat16" in their registry entries."""
    entries = [(f"{m}-bf16", registry.get(m).path, t, 'dtype = "bfloat16"') for m, t, _ in CASES]
    return _registry_file(tmp_path_factory.mktemp("bf16"), entries)


@pytest.mark.parametrize(("model_id", "task", "text"), CASES)
def test_bfloat16_is_close_to_float32(registry, half, model_id, task, text):
    methods = ("grad_norm", "grad_x_input", "integrated_gradients")
    full = analyze(AnalysisRequest(model_id, task, text, methods=methods, ig_steps=8), registry=registry)
    low = analyze(
        AnalysisRequest(
            f"{model_id}-bf16", task, text, methods=methods, ig_steps=8, target=full.target["label"]
        ),
        registry=half,
    )
    assert MODELS.get(half.get(f"{model_id}-bf16"), task).model.dtype == torch.bfloat16
    assert low.fingerprint == full.fingerprint + "+bfloat16"  # cached apart
    assert low.predictions[0]["token_id"] == full.predictions[0]["token_id"]
    np.testing.assert_allclose(
        [p["score"] for p in low.predictions[:3]], [p["score"] for p in full.predictions[:3]], atol=0.02
    )
    np.testing.assert_allclose(low.attention, full.attention, atol=0.03)
    for name in methods:
        got, want = low.saliency[name], full.saliency[name]
        assert np.isfinite(got).all()
        # Relative to the largest score: bfloat16 keeps about 3 significant digits per gradient.
        assert np.abs(got - want).max() <= 0.1 * np.abs(want).max(), name
        assert np.corrcoef(got, want)[0, 1] > 0.95, name
    np.testing.assert_allclose(low.logit_lens[-1][0]["score"], full.logit_lens[-1][0]["score"], atol=0.02)


def test_a_bfloat16_checkpoint_loads_as_float32_unless_asked(registry, tmp_path, monkeypatch):
    source = registry.get("tiny-llama").load_path()
    AutoModelForCausalLM.from_pretrained(source, dtype=torch.bfloat16).save_pretrained(tmp_path / "bf16")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / "bf16" / name).write_bytes((registry.get("tiny-llama").local_dir() / name).read_bytes())
    assert AutoConfig.from_pretrained(tmp_path / "bf16").dtype == torch.bfloat16  # what it would load in
    reg = _registry_file(tmp_path, [("stored-bf16", (tmp_path / "bf16").as_posix(), "causal-lm", "")])
    spec = reg.get("stored-bf16")
    assert MODELS.get(spec, "causal-lm").model.dtype == torch.float32

    monkeypatch.setenv("INTERPBOARD_DTYPE", "bfloat16")
    assert spec.fingerprint().endswith("+bfloat16")
    assert MODELS.get(spec, "causal-lm").model.dtype == torch.bfloat16
    monkeypatch.setenv("INTERPBOARD_DTYPE", "float17")
    with pytest.raises(ValueError, match="dtype"):
        spec.fingerprint()
