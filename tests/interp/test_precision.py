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
from interp.schema import Analysis, AnalysisRequest

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


def _parts(request: AnalysisRequest, registry):
    """What a worker computes for the request's first view (interp.parts), and the record it stores."""
    from interp.part_names import saliency_part
    from interp.parts import compute_core, compute_part, prepare

    subject = prepare(request, registry=registry)
    core = compute_core(subject)
    return subject, core, compute_part(subject, saliency_part("integrated_gradients"), core)


def test_the_workers_parts_in_bfloat16_from_the_environment(registry, monkeypatch):
    """$INTERPBOARD_DTYPE=bfloat16 through the worker's path (parts, q/k storage, the store's codec, every
    figure of the page): the gradients are taken on float32 embeddings, and every figure is the float32
    model's within bfloat16's rounding."""
    from cache.codec import decode, encode
    from dashapp.selection import clamp
    from dashapp.views import VIEWS
    from interp.attention_rebuild import AttentionStack

    text = " ".join([TEXT] * 12)  # ~100 tokens
    request = AnalysisRequest("tiny-llama", "causal-lm", text, methods=("grad_norm",), ig_steps=8)
    _, full, full_ig = _parts(request, registry)
    monkeypatch.setenv("INTERPBOARD_DTYPE", "bfloat16")
    subject, low, low_ig = _parts(request.with_(target=full.target["label"]), registry)

    assert subject.lm.model.dtype == torch.bfloat16 and low.fingerprint == full.fingerprint + "+bfloat16"
    # Saliency's float32: the leaf the gradient is taken on, and the gradient with it (interp.saliency).
    assert subject.embeds.dtype == torch.float32
    for got, want in (
        (low.saliency["grad_norm"], full.saliency["grad_norm"]),
        (low_ig.values, full_ig.values),
    ):
        assert got.dtype == np.float32 and np.isfinite(got).all()
        assert np.abs(got - want).max() <= 0.1 * np.abs(want).max() and np.corrcoef(got, want)[0, 1] > 0.95
    assert low.predictions[0]["token_id"] == full.predictions[0]["token_id"]

    n = low.n_tokens
    dense = np.asarray(low.attention)
    assert dense.dtype == np.float32 and np.isfinite(dense).all()
    np.testing.assert_allclose(dense.sum(-1), 1.0, atol=1e-2)  # each entry rounded to bfloat16
    np.testing.assert_allclose(dense, np.asarray(full.attention), atol=0.03)
    assert low.queries is not None and low.qk_layout["exact"]  # q/k captured from the bfloat16 model

    meta, arrays = low.to_record()
    assert "attention" not in arrays and all(a.dtype.kind in "fiub" for a in arrays.values())
    record = decode(encode(meta, arrays))
    stored = Analysis.from_record(record.meta, record.arrays)
    assert isinstance(stored.attention, AttentionStack)
    for layer in range(stored.num_layers):
        rebuilt = stored.attention[layer]
        np.testing.assert_allclose(rebuilt.sum(-1), 1.0, atol=1e-5)  # rebuilt in float32
        np.testing.assert_allclose(rebuilt, np.asarray(full.attention[layer]), atol=0.03)
    for name, values in stored.head_stats.items():
        np.testing.assert_allclose(values, full.head_stats[name], rtol=0.05, atol=0.02, err_msg=name)
    assert stored.attention_thumbs.shape[:2] == (stored.num_layers, stored.num_heads)

    selection = clamp({"layer": 1, "head": 0, "token": n - 1, "method": "grad_norm"}, stored)
    drawn = [view.name for view in VIEWS if view.applies(stored) and view.build(stored, selection, "dark")]
    assert {"heatmap", "model-grid", "logit-lens", "saliency"} <= set(drawn)


@pytest.mark.parametrize(
    ("model_id", "task", "text", "fields"),
    [
        ("tiny-llama", "causal-lm", TEXT, {"generate": 4}),
        ("tiny-bart", "seq2seq", "the cat sat on the mat", {"pair": "the dog slept"}),
    ],
)
def test_step_pipelines_in_bfloat16_take_gradients_on_float32_embeddings(
    registry, monkeypatch, model_id, task, text, fields
):
    """Generation and seq2seq run their own pipelines (interp.generation, interp.seq2seq): the same precision
    rule, each step's saliency close to the float32 model's."""
    import interp.steps
    from interp.engine import analyze

    leaves: list[torch.dtype] = []  # what each step's gradients are taken on

    class Seen(interp.steps.Explainer):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            leaves.append(self.embeds.dtype)

    monkeypatch.setattr(interp.steps, "Explainer", Seen)
    request = AnalysisRequest(model_id, task, text, methods=("grad_norm", "grad_x_input"), **fields)
    full = analyze(request, registry=registry)
    monkeypatch.setenv("INTERPBOARD_DTYPE", "bfloat16")
    low = analyze(request, registry=registry)
    assert MODELS.get(registry.get(model_id), task).model.dtype == torch.bfloat16
    assert leaves == [torch.float32, torch.float32]
    assert low.tokens == full.tokens and low.target_tokens == full.target_tokens
    for name in request.methods:
        got, want = low.step_saliency[name], full.step_saliency[name]
        assert got.dtype == np.float32 and np.isfinite(got).all()
        assert np.abs(got - want).max() <= 0.1 * np.abs(want).max(), name
