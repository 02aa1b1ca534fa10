"""causal-lm generation against independent references on the tiny GPT-2: `generate`, a seeded sampler over
plain full forwards, a plain output_attentions forward, and hand-written gradients on the prefix alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interp.schema import Analysis, AnalysisRequest, InputError

PROMPT = "the cat sat on the"


@pytest.fixture(scope="module")
def gpt2(loaded):
    lm = loaded("tiny-gpt2", "causal-lm")
    return lm, lm.tokenizer(PROMPT)["input_ids"]


def test_greedy_output_equals_generate(run, gpt2):
    lm, prompt = gpt2
    analysis = run("tiny-gpt2", "causal-lm", PROMPT, generate=12, methods="grad_norm")
    with torch.no_grad():
        reference = lm.model.generate(torch.tensor([prompt]), max_new_tokens=12, do_sample=False)[0].tolist()
    assert [step["token_id"] for step in analysis.steps] == reference[len(prompt) :]
    assert analysis.tokens == lm.tokenizer.convert_ids_to_tokens(reference)


def test_sampling_is_seeded_and_samples_the_full_forward_distribution(run, gpt2):
    lm, prompt = gpt2
    first = run("tiny-gpt2", "causal-lm", PROMPT, generate=10, sample_seed=7, methods="grad_norm")
    again = run("tiny-gpt2", "causal-lm", PROMPT, generate=10, sample_seed=7, methods="grad_norm")
    chosen = [step["token_id"] for step in first.steps]
    assert chosen == [step["token_id"] for step in again.steps]
    generator, ids = torch.Generator().manual_seed(7), list(prompt)
    with torch.no_grad():  # no KV cache: the whole sequence again at every step
        for _ in range(10):
            probs = lm.model(torch.tensor([ids])).logits[0, -1].float().softmax(-1)
            ids.append(int(torch.multinomial(probs, 1, generator=generator)))
    assert chosen == ids[len(prompt) :]
    top = first.steps[0]["predictions"][0]
    assert top["score"] == pytest.approx(float(_first_probs(lm, prompt).max()), rel=1e-5)


def _first_probs(lm, prompt) -> torch.Tensor:
    with torch.no_grad():
        return lm.model(torch.tensor([prompt])).logits[0, -1].float().softmax(-1)


def test_attention_rows_equal_a_plain_forward(run, gpt2):
    lm, _ = gpt2
    analysis = Analysis.from_record(
        *run("tiny-gpt2", "causal-lm", PROMPT, generate=6, methods="grad_norm").to_record()
    )
    ids = lm.tokenizer.convert_tokens_to_ids(analysis.tokens)
    with torch.no_grad():
        reference = torch.stack(lm.model(torch.tensor([ids]), output_attentions=True).attentions)[:, 0]
    np.testing.assert_allclose(analysis.attention, reference.numpy(), atol=5e-4)  # float16 storage


def test_step_saliency_equals_a_hand_written_gradient_on_the_prefix(run, gpt2):
    lm, prompt = gpt2
    analysis = run("tiny-gpt2", "causal-lm", PROMPT, generate=6, methods="grad_norm,grad_x_input")
    ids = lm.tokenizer.convert_tokens_to_ids(analysis.tokens)
    for t in (0, 4):
        step = analysis.steps[t]
        position = step["position"]
        assert position == len(prompt) - 1 + t
        embeds = lm.embeddings(torch.tensor([ids[: position + 1]])).detach().requires_grad_()
        lm.model(inputs_embeds=embeds).logits[0, -1].log_softmax(-1)[step["token_id"]].backward()
        grad = embeds.grad[0]
        row = analysis.step_saliency["grad_norm"][t]
        np.testing.assert_allclose(row[: position + 1], grad.norm(dim=-1), rtol=1e-4, atol=1e-6)
        assert not row[position + 1 :].any()
        np.testing.assert_allclose(
            analysis.step_saliency["grad_x_input"][t, : position + 1],
            (grad * embeds.detach()[0]).sum(-1),
            rtol=1e-4,
            atol=1e-6,
        )


def test_json_contract(run):
    analysis = run("tiny-gpt2", "causal-lm", PROMPT, generate=5, methods="grad_norm,integrated_gradients")
    out = Analysis.from_record(*analysis.to_record()).to_json()
    assert out["generated"] == [step["token"] for step in analysis.steps]
    assert len(out["steps"]) == 5
    for step in out["steps"]:
        assert set(step) == {"token", "position", "predictions", "saliency"}
        assert {"label", "score"} <= set(step["predictions"][0])
        assert {m: len(v) for m, v in step["saliency"].items()} == {
            "grad_norm": step["position"] + 1,
            "integrated_gradients": step["position"] + 1,
        }


@pytest.mark.parametrize(
    "fields",
    [dict(generate=65), dict(generate=0), dict(sample_seed=3), dict(generate=4, target="the")],
)
def test_generation_request_rules(fields):
    with pytest.raises(InputError):
        AnalysisRequest("m", "causal-lm", "text", **fields)
    with pytest.raises(InputError):
        AnalysisRequest("m", "mlm", "the [MASK]", generate=4)


def test_too_long_for_the_model_is_an_input_error(run):
    with pytest.raises(InputError, match="maximum length"):
        run("tiny-gpt2", "causal-lm", " ".join(["the cat"] * 20), generate=64, methods="grad_norm")


@pytest.mark.parametrize("model_id", ["tiny-gemma2", "tiny-gemma3", "tiny-qwen2", "tiny-mistral"])
def test_sliding_window_generation_past_the_window_equals_a_plain_forward(run, loaded, model_id):
    """Sliding layers see only the last W keys through the KV cache (their rows are narrower than the full
    layers'): each layer's attention is still over every position, zeros where the window cannot look."""
    from tests.tiny_models import LLM_WINDOW

    lm = loaded(model_id, "causal-lm")
    analysis = run(model_id, "causal-lm", PROMPT, generate=8, methods="grad_norm,attention_rollout")
    ids = lm.tokenizer.convert_tokens_to_ids(analysis.tokens)
    assert len(ids) > 2 * LLM_WINDOW  # generated well past the window
    with torch.no_grad():  # no KV cache: every token's row from one forward, the sliding mask applied
        out = lm.model(torch.tensor([ids]), output_attentions=True)
        reference = torch.stack(out.attentions)[:, 0].numpy()
        prefix = [
            lm.model(torch.tensor([ids[:p]])).logits[0, -1].argmax() for p in range(len(ids) - 8, len(ids))
        ]
    assert [step["token_id"] for step in analysis.steps] == [int(t) for t in prefix]
    n = len(ids)
    blind = ~reference[:, :, n - 1, : n - LLM_WINDOW].any(axis=(1, 2))  # per layer: the first keys unseen
    assert blind.any()  # a sliding layer...
    np.testing.assert_allclose(analysis.attention, reference, atol=1e-5)
    stored = Analysis.from_record(*analysis.to_record())  # ...and the rebuilt attention agrees
    np.testing.assert_allclose(np.asarray(stored.attention), reference, atol=2e-3)
    assert max(analysis.qk_layout["max_error"]) <= 2e-3
