"""Decoder LLMs (Llama, Qwen2/3, Gemma 2/3, Mistral, Phi-3) against a plain eager forward written here."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from interp.engine import analyze_many
from interp.schema import AnalysisRequest

LLMS = ["tiny-llama", "tiny-qwen2", "tiny-qwen3", "tiny-gemma2", "tiny-gemma3", "tiny-mistral", "tiny-phi3"]
CLASSIFIERS = ["tiny-llama-sst", "tiny-qwen2-sst"]
TEXT = "the quick brown fox jumps over the lazy dog"  # longer than the fixture's sliding window of 4
SHORT = "paris is the capital of"


@pytest.fixture(scope="module")
def plain(registry):
    """(model, tokenizer) loaded here with plain transformers, independently of interp.loading."""
    cache = {}

    def load(model_id: str, auto_class):
        if model_id not in cache:
            path = registry.get(model_id).load_path()
            model = auto_class.from_pretrained(path, attn_implementation="eager").eval()
            cache[model_id] = model, AutoTokenizer.from_pretrained(path)
        return cache[model_id]

    return load


def lookup(model, input_ids: torch.Tensor) -> torch.Tensor:
    """The input embeddings the model expects as inputs_embeds (Gemma's include its sqrt(hidden) scale)."""
    return model.get_input_embeddings()(input_ids).detach().requires_grad_()


@pytest.mark.parametrize("model_id", LLMS)
def test_next_token_equals_a_plain_eager_forward(run, plain, model_id):
    a = run(model_id, "causal-lm", TEXT, methods=("grad_norm",), top_k=5)
    model, tokenizer = plain(model_id, AutoModelForCausalLM)
    enc = tokenizer(TEXT, return_tensors="pt")
    assert a.tokens == tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    attention = torch.stack(out.attentions)[:, 0].numpy()  # [L, H, n, n]
    config = model.config
    assert attention.shape[:2] == (config.num_hidden_layers, config.num_attention_heads)  # query heads
    assert (
        config.num_key_value_heads < config.num_attention_heads
    )  # the fixture's models share key/value heads
    np.testing.assert_allclose(a.attention, attention, atol=1e-5)

    top = out.logits[0, -1].softmax(-1).topk(5)
    assert [p["token_id"] for p in a.predictions] == top.indices.tolist()
    np.testing.assert_allclose([p["score"] for p in a.predictions], top.values.numpy(), rtol=1e-5)

    embeds = lookup(model, enc["input_ids"])
    logits = model(inputs_embeds=embeds, attention_mask=enc["attention_mask"]).logits
    np.testing.assert_allclose(
        logits.detach().numpy(), out.logits.numpy(), atol=1e-5
    )  # the lookup is what it expects
    (grad,) = torch.autograd.grad(logits[0, -1, a.target["index"]], embeds)
    np.testing.assert_allclose(a.saliency["grad_norm"], grad[0].norm(dim=-1).numpy(), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("model_id", LLMS)
def test_attention_rows_sum_to_one_and_look_only_back(run, model_id):
    attention = run(model_id, "causal-lm", TEXT, methods=()).attention
    np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-5)
    assert np.all(np.triu(attention, k=1) == 0)


@pytest.mark.parametrize("model_id", ["tiny-llama", "tiny-gemma2", "tiny-qwen2"])
def test_a_batch_of_different_lengths_equals_one_by_one(registry, run, model_id):
    texts = [TEXT, SHORT]
    batched = analyze_many(
        [AnalysisRequest(model_id, "causal-lm", t, methods=("grad_norm",)) for t in texts], registry=registry
    )
    for text, b in zip(texts, batched, strict=True):
        one = run(model_id, "causal-lm", text, methods=("grad_norm",))
        np.testing.assert_allclose(b.attention, one.attention, atol=1e-5)
        assert [p["token_id"] for p in b.predictions] == [p["token_id"] for p in one.predictions]
        np.testing.assert_allclose(b.saliency["grad_norm"], one.saliency["grad_norm"], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("model_id", CLASSIFIERS)
def test_classifier_equals_a_plain_forward(run, plain, model_id):
    a = run(model_id, "sst", TEXT, methods=("grad_norm",))
    model, tokenizer = plain(model_id, AutoModelForSequenceClassification)
    enc = tokenizer(TEXT, return_tensors="pt")
    embeds = lookup(model, enc["input_ids"])
    logits = model(inputs_embeds=embeds, attention_mask=enc["attention_mask"]).logits[0]
    np.testing.assert_allclose(
        [p["score"] for p in a.predictions], logits.softmax(-1).detach().numpy(), rtol=1e-5
    )
    assert [p["label"] for p in a.predictions] == ["negative", "positive"]
    (grad,) = torch.autograd.grad(logits[a.target["index"]], embeds)
    np.testing.assert_allclose(a.saliency["grad_norm"], grad[0].norm(dim=-1).numpy(), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("model_id", CLASSIFIERS)
def test_classifier_reads_each_texts_last_token_in_a_padded_batch(registry, run, model_id):
    """The head reads the last real token, not the padding after a shorter text."""
    texts = [TEXT, SHORT]
    batched = analyze_many(
        [AnalysisRequest(model_id, "sst", t, methods=("grad_norm",)) for t in texts], registry=registry
    )
    for text, b in zip(texts, batched, strict=True):
        one = run(model_id, "sst", text, methods=("grad_norm",))
        np.testing.assert_allclose(
            [p["score"] for p in b.predictions], [p["score"] for p in one.predictions], rtol=1e-5
        )
        np.testing.assert_allclose(b.saliency["grad_norm"], one.saliency["grad_norm"], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("model_id", CLASSIFIERS)
def test_classifier_rollout_is_read_at_the_last_token(run, model_id):
    from interp.attention import rollout

    a = run(model_id, "sst", TEXT, methods=("attention_rollout",))
    np.testing.assert_allclose(
        a.saliency["attention_rollout"], rollout(a.attention, [[a.n_tokens - 1]]), atol=1e-6
    )
    assert np.count_nonzero(a.saliency["attention_rollout"]) == a.n_tokens  # the last token sees them all


@pytest.mark.parametrize("model_id", ["tiny-gemma2", "tiny-qwen3", "tiny-falcon"])
def test_attention_sensitivity_equals_the_naive_reference(run, plain, model_id):
    """The engine's closed form at q and k (Falcon: caught from its fused projection, then rotated) against
    one backward per (layer, key) through the model's own attention."""
    from interp.sensitivity import naive_attention_sensitivity

    a = run(model_id, "causal-lm", TEXT, methods=("attention_sensitivity",))
    assert a.queries is not None  # stored as q and k: the closed form's model (interp.qk_capture.layout)
    model, tokenizer = plain(model_id, AutoModelForCausalLM)
    enc = tokenizer(TEXT, return_tensors="pt")
    want = naive_attention_sensitivity(
        lambda x: model.base_model(inputs_embeds=x, output_attentions=True).attentions,
        lookup(model, enc["input_ids"]),
        enc["attention_mask"],
    )
    np.testing.assert_allclose(a.attention_sensitivity, want[0].numpy(), rtol=1e-4, atol=1e-6)
