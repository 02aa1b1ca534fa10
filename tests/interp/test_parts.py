"""Parts of an analysis: each equal to what the full computation gives, on the tiny model of every architecture."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interp.part_names import (
    CORE,
    Part,
    PartKind,
    first_parts,
    parts_of,
    saliency_part,
    sensitivity_part,
)
from interp.schema import METHODS, AnalysisRequest
from interp.sensitivity import attention_sensitivity, naive_attention_sensitivity

# One request per architecture and one-pass task: (model, task, text, pair).
CASES = [
    ("tiny-bert-mnli", "mnli", "a man is playing a guitar", "a person plays music"),
    ("tiny-bert-mlm", "mlm", "the cat sat on the [MASK] .", None),
    ("tiny-distilbert-sst", "sst", "what a boring story", None),
    ("tiny-roberta-mlm", "mlm", "the cat sat on the <mask> .", None),
    ("tiny-gpt2", "causal-lm", "the quick brown fox", None),
    ("tiny-bert-sim", "similarity", "a man is playing", "a woman reads a book"),
    *[
        (f"tiny-{family}", "causal-lm", "the quick brown fox jumps over the lazy dog", None)
        for family in ("llama", "qwen2", "qwen3", "gemma2", "gemma3", "mistral", "phi3")
    ],
    ("tiny-qwen2-sst", "sst", "the movie was great", None),
]


def test_part_names_round_trip():
    for part in (CORE, saliency_part("integrated_gradients"), sensitivity_part(0), sensitivity_part(11)):
        assert Part.parse(str(part)) == part
    assert str(sensitivity_part(3)) == "sensitivity.3"
    for bad in ("saliency.grad_norm", "sensitivity.-1", "sensitivity.03", "sensitivity", "core.1", "ig"):
        with pytest.raises(ValueError):
            Part.parse(bad)


def test_parts_of_a_request():
    assert parts_of(METHODS, 2) == [
        CORE,
        saliency_part("integrated_gradients"),
        sensitivity_part(0),
        sensitivity_part(1),
    ]
    assert parts_of(("grad_norm",), 12) == [CORE]
    assert first_parts(METHODS, 12) == [CORE, sensitivity_part(0)]
    assert first_parts(METHODS, 12, layer=11, method="integrated_gradients") == [
        CORE,
        saliency_part("integrated_gradients"),
        sensitivity_part(11),
    ]
    assert first_parts(("grad_norm",), 12, layer=5) == [CORE]


@pytest.mark.parametrize("model_id", ["tiny-bert-sst", "tiny-gpt2", "tiny-llama"])
def test_sensitivity_of_chosen_layers_equals_the_naive_loop(loaded, model_id):
    task = "causal-lm" if model_id != "tiny-bert-sst" else "sst"
    model = loaded(model_id, task).model.base_model
    torch.manual_seed(0)
    ids = torch.randint(5, 100, (2, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0  # a padded second sequence

    def attentions_of(x):
        return model(inputs_embeds=x, attention_mask=mask, output_attentions=True).attentions

    embeds = model.get_input_embeddings()(ids).detach()
    naive = naive_attention_sensitivity(attentions_of, embeds, mask)
    layers = naive.shape[1]
    for layer in range(layers):
        one = attention_sensitivity(attentions_of, embeds, mask, layers=[layer])
        assert one.shape == (2, 1, 9, 9)
        torch.testing.assert_close(one[:, 0], naive[:, layer], rtol=1e-4, atol=1e-6)
    reordered = attention_sensitivity(attentions_of, embeds, mask, layers=[layers - 1, 0])
    torch.testing.assert_close(reordered, naive[:, [layers - 1, 0]], rtol=1e-4, atol=1e-6)


def test_a_cancelled_sensitivity_stops_between_chunks_of_one_layer(loaded, monkeypatch):
    """A deep layer at 512 tokens takes minutes: the check runs before each chunk of cotangents, not only
    between layers, so a cancelled job stops within a chunk."""
    from interp import sensitivity
    from interp.checkpoints import checking

    model = loaded("tiny-bert-sst", "sst").model.base_model
    ids = torch.randint(5, 100, (1, 9))
    mask = torch.ones_like(ids)
    embeds = model.get_input_embeddings()(ids).detach()
    monkeypatch.setattr(sensitivity, "CPU_BACKWARD_ROWS", 2 * 9)  # two cotangents a chunk: five chunks

    class Cancelled(Exception):
        pass

    checks, layers_done = [], []

    def check() -> None:
        checks.append(True)
        if len(checks) == 3:
            raise Cancelled

    def attentions_of(x):
        return model(inputs_embeds=x, attention_mask=mask, output_attentions=True).attentions

    with checking(check), pytest.raises(Cancelled):
        attention_sensitivity(
            attentions_of, embeds, mask, layers=[1], on_layer=lambda *a: layers_done.append(a)
        )
    assert len(checks) == 3 and not layers_done  # stopped at its third chunk, inside the layer


@pytest.mark.parametrize(
    "model_id",
    ["tiny-bert-sst", "tiny-gpt2", "tiny-llama", "tiny-gemma2", "tiny-qwen3", "tiny-distilbert-sst"],
)
@pytest.mark.parametrize("start", ["q and k", "the projections' input"])
@pytest.mark.parametrize("kernels", [False, True], ids=["autograd", "vjp kernels"])
def test_the_closed_form_at_q_and_k_equals_the_naive_loop(loaded, model_id, start, kernels):
    """The backward started at q and k (ScoreRule), or at the input both are projections of (BERT, GPT-2's
    fused q/k, DistilBERT): grouped queries and rotary (Llama, Qwen3's q/k norms), soft-capped and sliding
    layers (Gemma 2), on a padded batch; with autograd's own backward formulas and interp.vjp_kernels'."""
    from contextlib import nullcontext

    from interp import qk_capture
    from interp.sensitivity import ScoreRule
    from interp.vjp_kernels import batched_backward

    lm = loaded(model_id, "sst" if model_id.endswith("-sst") else "causal-lm")
    attentions_of, embeds, mask = _padded_pair(lm)
    naive = naive_attention_sensitivity(attentions_of, embeds, mask)
    layout = qk_capture.layout(lm.model, [9])
    assert layout is not None
    with qk_capture.capturing(lm.model) as caught, batched_backward(lm.model) if kernels else nullcontext():
        rule = qk_capture.score_rule(lm.model, layout, caught)
        if start == "q and k":
            rule = ScoreRule(rule.scales, rule.softcap, rule.kv_head_of_query, caught)
        elif model_id in ("tiny-llama", "tiny-gemma2", "tiny-qwen3"):
            assert not any(rule.projections), "rotary q and k are not projections of the layer's input"
        else:
            assert all(rule.projections)
        closed = attention_sensitivity(attentions_of, embeds, mask, scores=rule)
    torch.testing.assert_close(closed, naive, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("model_id,task,text,pair", CASES, ids=[c[0] for c in CASES])
def test_parts_assembled_equal_the_full_analysis(registry, model_id, task, text, pair):
    from interp.engine import analyze
    from interp.parts import assemble, compute_core, compute_part, prepare

    request = AnalysisRequest(model_id, task, text, pair, methods=METHODS, ig_steps=8)
    full = analyze(request, registry=registry)
    subject = prepare(request, registry=registry)
    core = compute_core(subject)
    assert core.attention_sensitivity is None and "integrated_gradients" not in core.saliency
    # Layers in the order a user might ask for them: the last first.
    results = [compute_part(subject, p, core) for p in reversed(parts_of(METHODS, subject.layers)[1:])]
    assert {r.part.kind for r in results} == {PartKind.SALIENCY, PartKind.SENSITIVITY}
    whole = assemble(core, results)

    assert whole.tokens == full.tokens and whole.target == full.target
    assert whole.predictions == full.predictions  # the same forward pass
    np.testing.assert_allclose(whole.attention, full.attention, atol=1e-6)
    for name, stats in full.head_stats.items():
        np.testing.assert_allclose(whole.head_stats[name], stats, rtol=1e-5, atol=1e-6)
    assert whole.saliency.keys() == full.saliency.keys()
    for name, values in full.saliency.items():
        np.testing.assert_allclose(whole.saliency[name], values, rtol=1e-4, atol=1e-6, err_msg=name)
    assert whole.saliency_info["integrated_gradients"] == pytest.approx(
        full.saliency_info["integrated_gradients"], rel=1e-4, abs=1e-6
    )
    np.testing.assert_allclose(whole.attention_sensitivity, full.attention_sensitivity, rtol=1e-4, atol=1e-6)
    assert whole.stages_done == full.stages_done


def test_a_missing_layer_leaves_sensitivity_unassembled(registry):
    from interp.parts import assemble, compute_core, compute_part, prepare

    subject = prepare(AnalysisRequest("tiny-bert-sst", "sst", "a fine film"), registry=registry)
    core = compute_core(subject)
    one = compute_part(subject, sensitivity_part(1), core)
    assert one.values.shape == (core.n_tokens, core.n_tokens)
    assert assemble(core, [one]).attention_sensitivity is None
    with pytest.raises(ValueError, match="layers"):
        compute_part(subject, sensitivity_part(subject.layers), core)


def test_sequence_pipelines_have_no_parts(registry):
    from interp.parts import prepare

    with pytest.raises(ValueError, match="whole"):
        prepare(AnalysisRequest("tiny-gpt2", "causal-lm", "the quick", generate=2), registry=registry)


@pytest.mark.parametrize("model_id", ["tiny-bert-sst", "tiny-gpt2", "tiny-llama"])
def test_first_layers_runs_the_layers_below_and_puts_the_stack_back(loaded, model_id):
    from interp.neurons import first_layers

    lm = loaded(model_id, "sst" if model_id.endswith("-sst") else "causal-lm")
    ids = torch.randint(5, 100, (1, 7))
    with torch.no_grad():
        full = lm.model.base_model(input_ids=ids, output_attentions=True).attentions
        with first_layers(lm.model, 1):
            first = lm.model.base_model(input_ids=ids, output_attentions=True).attentions
        with pytest.raises(RuntimeError), first_layers(lm.model, 1):
            raise RuntimeError("the stack comes back whatever happens inside")
        again = lm.model.base_model(input_ids=ids, output_attentions=True).attentions
    assert len(first) == 1 and len(full) == len(again) == lm.model.config.num_hidden_layers > 1
    torch.testing.assert_close(first[0], full[0])


@pytest.mark.parametrize("model_id", ["tiny-bert-sst", "tiny-gemma2", "tiny-llama", "tiny-phi3"])
def test_the_vjp_kernels_through_the_softmax_equal_the_naive_loop(loaded, model_id):
    """Without the closed form (Phi-3's path): cotangents reach each layer's attention probabilities, and
    the kernels' attention backward takes them with the ones from the layers above (soft-cap: Gemma 2)."""
    from interp.vjp_kernels import batched_backward

    lm = loaded(model_id, "sst" if model_id.endswith("-sst") else "causal-lm")
    attentions_of, embeds, mask = _padded_pair(lm)
    naive = naive_attention_sensitivity(attentions_of, embeds, mask)
    with batched_backward(lm.model):
        batched = attention_sensitivity(attentions_of, embeds, mask)
    assert lm.model.config._attn_implementation == "eager"  # put back
    torch.testing.assert_close(batched, naive, rtol=1e-4, atol=1e-6)


# Encoders, decoders, a decoder classifier and a pair of sentences.
GRADIENT_MODELS = ("tiny-bert-mlm", "tiny-gpt2", "tiny-llama", "tiny-bert-sim", "tiny-qwen2-sst")
GRADIENT_CASES = [c for c in CASES if c[0] in GRADIENT_MODELS]


@pytest.mark.parametrize("model_id,task,text,pair", GRADIENT_CASES, ids=[c[0] for c in GRADIENT_CASES])
def test_the_core_takes_its_gradient_from_its_own_forward(registry, model_id, task, text, pair):
    """One model pass gives predictions, attention and the gradient; its gradient equals Captum's own pass."""
    from dataclasses import replace

    from interp.engine import saliency_stage
    from interp.parts import compute_core, prepare

    cheap = ("grad_norm", "grad_x_input", "attention_rollout")
    subject = prepare(AnalysisRequest(model_id, task, text, pair, methods=cheap), registry=registry)
    passes = []
    hook = subject.lm.model.base_model.register_forward_hook(lambda *_: passes.append(1))
    try:
        core = compute_core(subject)
    finally:
        hook.remove()
    assert len(passes) == 1

    s = subject
    alone = replace(core, saliency={})  # Captum's Saliency: a forward and a backward of its own
    saliency_stage(s.lm, [alone], [s.item], s.batch, s.embeds, list(cheap[:2]), lambda _: None)
    for name in cheap[:2]:
        np.testing.assert_allclose(core.saliency[name], alone.saliency[name], rtol=1e-5, atol=1e-7)

    plain = compute_core(
        prepare(AnalysisRequest(model_id, task, text, pair, methods=cheap[2:]), registry=registry)
    )
    assert core.predictions == plain.predictions  # the forward with gradients on predicts as inference does
    np.testing.assert_allclose(np.asarray(core.attention), np.asarray(plain.attention), atol=1e-7)
    np.testing.assert_allclose(
        core.saliency["attention_rollout"], plain.saliency["attention_rollout"], rtol=1e-6
    )


def _padded_pair(lm):
    """(attentions_of, embeddings, mask) of two random sequences of 9 tokens, the second padded after 6."""
    torch.manual_seed(0)
    ids = torch.randint(5, 100, (2, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0

    def attentions_of(x):
        return lm.model.base_model(inputs_embeds=x, attention_mask=mask, output_attentions=True).attentions

    return attentions_of, lm.model.get_input_embeddings()(ids).detach(), mask
