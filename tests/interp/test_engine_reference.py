"""The engine against independent, naive references written here with plain transformers + autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
)

from interp.sensitivity import naive_attention_sensitivity

AUTO = {
    "mlm": AutoModelForMaskedLM,
    "sst": AutoModelForSequenceClassification,
    "mnli": AutoModelForSequenceClassification,
    "causal-lm": AutoModelForCausalLM,
    "similarity": AutoModel,
}
CASES = [
    ("tiny-bert-mnli", "mnli", "a man is playing a guitar", "a person plays music"),
    ("tiny-distilbert-sst", "sst", "what a boring story", None),
    ("tiny-roberta-mlm", "mlm", "the cat sat on the <mask> .", None),
    ("tiny-gpt2", "causal-lm", "the quick brown fox", None),
    ("tiny-bert-sim", "similarity", "a man is playing", "a woman reads a book"),
]
IDS = [c[0] for c in CASES]


@pytest.fixture(scope="module")
def direct(registry):
    """A model and tokenizer loaded here, independently of interp.loading."""
    cache = {}

    def load(model_id: str, task: str):
        if model_id not in cache:
            path = registry.get(model_id).load_path()
            model = AUTO[task].from_pretrained(path, attn_implementation="eager").eval()
            cache[model_id] = model, AutoTokenizer.from_pretrained(path)
        return cache[model_id]

    return load


def encodings(tokenizer, task, text, pair):
    """The model inputs of each sequence the analysis shows (two for similarity, encoded separately)."""
    text = text.replace("<mask>", tokenizer.mask_token) if task == "mlm" else text
    if task == "similarity":
        return [tokenizer(text, return_tensors="pt"), tokenizer(pair, return_tensors="pt")]
    return [tokenizer(text, pair, return_tensors="pt")]


def embedded_forward(model, encoding, embeds, **kw):
    inputs = {k: v for k, v in encoding.items() if k != "input_ids"}
    return model(inputs_embeds=embeds, **inputs, **kw)


def scalar(model, tokenizer, task, encs, embeds, target_index):
    """The scalar the saliency explains, computed from scratch."""
    if task == "similarity":
        pooled = [embedded_forward(model, e, x).last_hidden_state.mean(1)[0] for e, x in zip(encs, embeds)]
        return torch.nn.functional.cosine_similarity(pooled[0], pooled[1], dim=0)
    logits = embedded_forward(model, encs[0], embeds[0]).logits
    if task in ("sst", "mnli"):
        return logits[0, target_index]
    ids = encs[0]["input_ids"][0]
    position = int((ids == tokenizer.mask_token_id).nonzero()[0]) if task == "mlm" else len(ids) - 1
    return logits[0, position, target_index]


@pytest.mark.parametrize("model_id,task,text,pair", CASES, ids=IDS)
def test_attention_equals_a_plain_eager_forward(run, direct, model_id, task, text, pair):
    a = run(model_id, task, text, pair, methods=())
    model, tokenizer = direct(model_id, task)
    blocks = []
    with torch.no_grad():
        for enc in encodings(tokenizer, task, text, pair):
            blocks.append(torch.stack(model(**enc, output_attentions=True).attentions)[:, 0].numpy())
    start = 0
    for block in blocks:
        n = block.shape[-1]
        np.testing.assert_allclose(a.attention[..., start : start + n, start : start + n], block, atol=1e-5)
        start += n
    assert start == a.n_tokens


@pytest.mark.parametrize("model_id,task,text,pair", CASES, ids=IDS)
def test_gradient_saliency_equals_hand_written_autograd(run, direct, model_id, task, text, pair):
    a = run(model_id, task, text, pair, methods=("grad_norm", "grad_x_input"))
    model, tokenizer = direct(model_id, task)
    encs = encodings(tokenizer, task, text, pair)
    embeds = [model.get_input_embeddings()(e["input_ids"]).detach().requires_grad_() for e in encs]
    value = scalar(model, tokenizer, task, encs, embeds, a.target["index"])
    grads = torch.autograd.grad(value, embeds)
    norm = torch.cat([g[0].norm(dim=-1) for g in grads]).numpy()
    x_input = torch.cat([(g * e)[0].sum(-1) for g, e in zip(grads, embeds)]).detach().numpy()
    np.testing.assert_allclose(a.saliency["grad_norm"], norm, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(a.saliency["grad_x_input"], x_input, rtol=1e-4, atol=1e-7)


IG_CASES = [
    *CASES,
    ("minilm", "similarity", "A man is playing a guitar.", "The stock market fell sharply today."),
]


@pytest.mark.parametrize("model_id,task,text,pair", IG_CASES, ids=[c[0] for c in IG_CASES])
def test_integrated_gradients_is_complete(run, direct, model_id, task, text, pair):
    a = run(model_id, task, text, pair, methods=("integrated_gradients",), ig_steps=50)
    info = a.saliency_info["integrated_gradients"]
    model, tokenizer = direct(model_id, task)
    encs = encodings(tokenizer, task, text, pair)
    with torch.no_grad():
        embeds = [model.get_input_embeddings()(e["input_ids"]) for e in encs]
        difference = float(
            scalar(model, tokenizer, task, encs, embeds, a.target["index"])
            - scalar(model, tokenizer, task, encs, [torch.zeros_like(e) for e in embeds], a.target["index"])
        )
    assert info["score_difference"] == pytest.approx(difference, rel=1e-4, abs=1e-6)
    # Random tiny models move their scores very little; below 1e-4 float32 rounding is all there is.
    total = float(a.saliency["integrated_gradients"].sum())
    assert total == pytest.approx(difference, rel=0.03, abs=1e-4)
    assert abs(info["delta"]) <= 0.03 * abs(difference) + 1e-4


@pytest.mark.parametrize("model_id,task,text,pair", CASES, ids=IDS)
def test_attention_sensitivity_equals_the_naive_loop(run, direct, model_id, task, text, pair):
    a = run(model_id, task, text, pair, methods=("attention_sensitivity",))
    model, tokenizer = direct(model_id, task)
    start = 0
    for enc in encodings(tokenizer, task, text, pair):
        n = enc["input_ids"].shape[1]
        embeds = model.get_input_embeddings()(enc["input_ids"]).detach()
        reference = naive_attention_sensitivity(
            lambda x, enc=enc: embedded_forward(model, enc, x, output_attentions=True).attentions,
            embeds,
            enc["attention_mask"],
        )[0]
        np.testing.assert_allclose(
            a.attention_sensitivity[:, start : start + n, start : start + n],
            reference.numpy(),
            rtol=1e-4,
            atol=1e-7,
        )
        start += n


def test_sensitivity_of_a_layer_ignores_later_layers(run):
    """Layer 0's attention depends on the embeddings only through layer 0 itself: never all zero."""
    a = run("tiny-bert-sst", "sst", "the movie was great", methods=("attention_sensitivity",))
    assert (a.attention_sensitivity.reshape(a.num_layers, -1).max(-1) > 0).all()


def test_rollout_and_head_stats_equal_plain_loops(run):
    a = run(
        "tiny-bert-mnli",
        "mnli",
        "a man is playing a guitar",
        "a person plays music",
        methods=("attention_rollout",),
    )
    L, H, n, _ = a.attention.shape
    joint = np.eye(n)
    for layer in range(L):
        mixed = np.zeros((n, n))
        for i in range(n):
            for k in range(n):
                mixed[i, k] = a.attention[layer, :, i, k].mean() + (i == k)
            mixed[i] /= mixed[i].sum()
        joint = mixed @ joint
    np.testing.assert_allclose(a.saliency["attention_rollout"], joint[0], rtol=1e-4)  # [CLS] reads the class

    for layer in range(L):
        for head in range(H):
            p = a.attention[layer, head].astype(np.float64)
            entropy = np.mean([-sum(x * np.log(x) for x in row if x > 0) for row in p])
            special = np.mean([sum(row[k] for k in range(n) if a.special_tokens[k]) for row in p])
            distance = np.mean([sum(row[k] * abs(i - k) for k in range(n)) for i, row in enumerate(p)])
            assert a.head_stats["entropy"][layer, head] == pytest.approx(entropy, rel=1e-4)
            assert a.head_stats["special_share"][layer, head] == pytest.approx(special, rel=1e-4)
            assert a.head_stats["mean_distance"][layer, head] == pytest.approx(distance, rel=1e-4)


def test_similarity_rollout_averages_each_sentences_rows(run):
    a = run(
        "tiny-bert-sim", "similarity", "a man is playing", "a woman reads", methods=("attention_rollout",)
    )
    seg = np.array(a.token_segments)
    for s in (0, 1):
        part = a.saliency["attention_rollout"][seg == s]
        assert part.sum() == pytest.approx(1.0, rel=1e-4)  # rollout rows sum to 1; the mean of rows too
