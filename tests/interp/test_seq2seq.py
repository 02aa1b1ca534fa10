"""seq2seq against independent references: a plain output_attentions forward, hand-written gradients,
and the model's own greedy generate (tiny BART, T5 and MarianMT from tests/tiny_seq2seq.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interp.schema import Analysis, AnalysisRequest, InputError

MODELS = ("tiny-bart", "tiny-t5", "tiny-marian")
SOURCE, TARGET = "the cat sat on the mat", "a dog slept in the park"


def _ids(lm, pair: str) -> tuple[list[int], list[int], list[int]]:
    """Source ids, target ids, decoder input ids (start token, then the target shifted right)."""
    source = lm.tokenizer(SOURCE)["input_ids"]
    target = lm.tokenizer(text_target=pair)["input_ids"]
    return source, target, [lm.model.config.decoder_start_token_id, *target[:-1]]


def _stored(analysis: Analysis) -> Analysis:
    return Analysis.from_record(*analysis.to_record())


@pytest.mark.parametrize("model", MODELS)
def test_three_attentions_equal_a_plain_forward(run, loaded, model):
    analysis = _stored(run(model, "seq2seq", SOURCE, TARGET, methods="grad_norm"))
    lm = loaded(model, "seq2seq")
    source, target, decoder = _ids(lm, TARGET)
    with torch.no_grad():
        out = lm.model(
            input_ids=torch.tensor([source]),
            decoder_input_ids=torch.tensor([decoder]),
            output_attentions=True,
        )
    assert analysis.target_tokens == lm.tokenizer.convert_ids_to_tokens(target)
    assert analysis.tokens == lm.tokenizer.convert_ids_to_tokens(source)
    for name, stored in (
        ("encoder_attentions", analysis.attention),
        ("decoder_attentions", analysis.decoder_attention),
        ("cross_attentions", analysis.cross_attention),
    ):
        reference = torch.stack(getattr(out, name))[:, 0].numpy()
        assert stored.shape == reference.shape
        np.testing.assert_allclose(stored, reference, atol=5e-4)  # float16 storage: 2**-11 near 1
    logits = out.logits[0]
    for t, step in enumerate(analysis.steps):
        assert step["predictions"][0]["token_id"] == int(logits[t].argmax())
        assert step["token_id"] == target[t]


def _reference_gradient(lm, source, decoder, t: int, label: int) -> torch.Tensor:
    """d log p(label at decoder position t) / d (embedding lookups), source then decoder: [ns + nt, d]."""
    model = lm.model
    e_src = model.get_encoder().get_input_embeddings()(torch.tensor([source])).detach().requires_grad_()
    e_dec = model.get_decoder().get_input_embeddings()(torch.tensor([decoder])).detach().requires_grad_()
    # Marian scales looked-up source embeddings in its encoder only when given ids; BART's embedding
    # module scales them itself, T5 does not scale.
    scale = getattr(model.get_encoder(), "embed_scale", 1.0) if model.config.model_type == "marian" else 1.0
    logits = model(inputs_embeds=e_src * scale, decoder_inputs_embeds=e_dec).logits
    logits[0, t].log_softmax(-1)[label].backward()
    return torch.cat([e_src.grad[0], e_dec.grad[0]]), torch.cat([e_src[0], e_dec[0]]).detach()


@pytest.mark.parametrize("model", MODELS)
def test_saliency_of_one_target_token_equals_a_hand_written_gradient(run, loaded, model):
    analysis = run(model, "seq2seq", SOURCE, TARGET, methods="grad_norm,grad_x_input")
    lm = loaded(model, "seq2seq")
    source, target, decoder = _ids(lm, TARGET)
    t = 3
    grad, embeds = _reference_gradient(lm, source, decoder, t, target[t])
    np.testing.assert_allclose(
        analysis.step_saliency["grad_norm"][t], grad.norm(dim=-1), rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(
        analysis.step_saliency["grad_x_input"][t], (grad * embeds).sum(-1), rtol=1e-4, atol=1e-6
    )
    # Causal decoder: nothing after position t moves step t.
    assert not analysis.step_saliency["grad_norm"][t, len(source) + t + 1 :].any()


def test_integrated_gradients_per_step_are_complete(run):
    analysis = run("tiny-bart", "seq2seq", SOURCE, TARGET, methods="integrated_gradients", ig_steps=64)
    scores = analysis.step_saliency["integrated_gradients"]
    assert scores.shape == (len(analysis.target_tokens), len(analysis.tokens) + len(analysis.target_tokens))
    assert abs(analysis.saliency_info["integrated_gradients"]["delta"]) < 0.05


@pytest.mark.parametrize("model", MODELS)
def test_without_a_target_the_model_generates_it_greedily(run, loaded, model):
    analysis = run(model, "seq2seq", SOURCE, methods="grad_norm", max_new_tokens=6)
    lm = loaded(model, "seq2seq")
    with torch.no_grad():
        generated = lm.model.generate(
            input_ids=torch.tensor([lm.tokenizer(SOURCE)["input_ids"]]), max_new_tokens=6, do_sample=False
        )[0].tolist()
    assert [step["token_id"] for step in analysis.steps] == generated[1:]
    assert analysis.decoder_tokens == lm.tokenizer.convert_ids_to_tokens(generated[:-1])


def test_json_contract_shapes(run):
    out = _stored(run("tiny-t5", "seq2seq", SOURCE, TARGET, methods="grad_norm,grad_x_input")).to_json(
        full=True
    )
    ns, nt, layers, heads = len(out["source_tokens"]), len(out["target_tokens"]), 2, 4
    assert np.shape(out["encoder_attention"]) == (layers, heads, ns, ns)
    assert np.shape(out["decoder_attention"]) == (layers, heads, nt, nt)
    assert np.shape(out["cross_attention"]) == (layers, heads, nt, ns)
    assert {m: np.shape(v) for m, v in out["saliency"].items()} == {
        "grad_norm": (nt, ns + nt),
        "grad_x_input": (nt, ns + nt),
    }
    assert len(out["predictions"]) == nt and all({"label", "score"} <= set(p[0]) for p in out["predictions"])
    assert "attention" not in out


def test_seq2seq_request_rules():
    AnalysisRequest("m", "seq2seq", "source")  # the target is optional
    for bad in (
        dict(pair="target", max_new_tokens=4),  # nothing to generate
        dict(target="x"),  # every target token is explained
        dict(generate=4),  # causal-lm only
    ):
        with pytest.raises(InputError):
            AnalysisRequest("m", "seq2seq", "source", **bad)


def test_new_fields_leave_existing_cache_keys_alone():
    request = AnalysisRequest("m", "causal-lm", "the cat")
    assert set(request.key_payload("fp")) == {
        "model", "task", "text", "pair", "mask_index", "target", "methods", "fingerprint", "params", "engine"
    }  # fmt: skip
    generating = request.with_(generate=5)
    assert generating.key_payload("fp")["generate"] == 5
    assert AnalysisRequest.from_dict(generating.to_dict()) == generating
