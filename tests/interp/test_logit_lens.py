"""Logit lens: every layer's residual stream at the read position through the model's own vocabulary head."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

TEXT = "the quick brown fox jumps over the"
CASES = [
    ("tiny-gpt2", "causal-lm", TEXT),
    ("tiny-llama", "causal-lm", TEXT),
    ("tiny-gemma2", "causal-lm", TEXT),  # final-logit soft-cap
    ("tiny-bert-mlm", "mlm", "the cat sat on the [MASK] while the dog slept"),
    ("tiny-roberta-mlm", "mlm", "the cat sat on the <mask> while the dog slept"),
    ("tiny-distilbert-mlm", "mlm", "the cat sat on the [MASK] while the dog slept"),
]


@pytest.mark.parametrize(("model_id", "task", "text"), CASES)
def test_the_last_layers_lens_is_the_models_own_output(run, loaded, model_id, task, text):
    a = run(model_id, task, text, methods=(), top_k=5)
    layers = loaded(model_id, task).model.config.get_text_config().num_hidden_layers
    assert len(a.logit_lens) == len(a.logit_lens_target) == layers
    last = a.logit_lens[-1]
    assert [p["token_id"] for p in last] == [p["token_id"] for p in a.predictions]
    assert [p["label"] for p in last] == [p["label"] for p in a.predictions]
    np.testing.assert_allclose([p["score"] for p in last], [p["score"] for p in a.predictions], rtol=1e-5)
    assert a.logit_lens_target[-1]["rank"] == 1  # the target is the top prediction
    np.testing.assert_allclose(a.logit_lens_target[-1]["score"], a.predictions[0]["score"], rtol=1e-5)
    for tops, about_target in zip(a.logit_lens, a.logit_lens_target, strict=True):
        scores = [p["score"] for p in tops]
        assert scores == sorted(scores, reverse=True) and len(tops) == 5
        assert about_target["rank"] >= 1 and 0 < about_target["score"] <= scores[0] + 1e-7
        assert (about_target["rank"] == 1) == (tops[0]["token_id"] == a.target["index"])


@pytest.mark.parametrize("model_id", ["tiny-llama", "tiny-gemma2", "tiny-gpt2"])
def test_an_inner_layers_lens_is_its_residual_through_final_norm_and_unembedding(run, registry, model_id):
    """Written out with plain transformers: layer 1's output, final norm, lm_head (Gemma: soft-cap)."""
    a = run(model_id, "causal-lm", TEXT, methods=(), top_k=3, target="the")
    path = registry.get(model_id).load_path()
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager").eval()
    enc = AutoTokenizer.from_pretrained(path)(TEXT, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc, output_hidden_states=True).hidden_states[1][0, -1]
        norm = model.transformer.ln_f if model_id == "tiny-gpt2" else model.model.norm
        logits = model.lm_head(norm(hidden))
        cap = getattr(model.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
    probs = logits.softmax(-1)
    top = probs.topk(3)
    assert [p["token_id"] for p in a.logit_lens[0]] == top.indices.tolist()
    np.testing.assert_allclose([p["score"] for p in a.logit_lens[0]], top.values.numpy(), rtol=1e-4)
    target = a.target["index"]
    assert a.logit_lens_target[0]["rank"] == int((logits > logits[target]).sum()) + 1
    np.testing.assert_allclose(a.logit_lens_target[0]["score"], float(probs[target]), rtol=1e-4)


def test_only_token_tasks_have_a_lens_and_it_survives_storage_and_json(run):
    from interp.schema import Analysis

    assert run("tiny-bert-sst", "sst", "a fine film", methods=()).logit_lens is None
    a = run("tiny-llama", "causal-lm", TEXT, methods=(), top_k=2)
    again = Analysis.from_record(*a.to_record())
    assert again.logit_lens == a.logit_lens and again.logit_lens_target == a.logit_lens_target
    out = a.to_json()
    assert [[set(p) for p in layer] for layer in out["logit_lens"]] == [
        [{"label", "score", "token_id"}] * 2
    ] * 2
    assert [set(t) for t in out["logit_lens_target"]] == [{"rank", "score"}] * 2


@pytest.mark.parametrize(
    ("model_id", "task", "texts"),
    [
        ("tiny-llama", "causal-lm", [TEXT, "paris is the"]),
        ("tiny-bert-mlm", "mlm", ["the cat sat on the [MASK] while the dog slept", "a [MASK] film"]),
    ],
)
def test_a_padded_batch_gives_each_request_its_own_lens(registry, run, model_id, task, texts):
    from interp.engine import analyze_many
    from interp.schema import AnalysisRequest

    batched = analyze_many([AnalysisRequest(model_id, task, t, methods=()) for t in texts], registry=registry)
    for text, b in zip(texts, batched, strict=True):
        one = run(model_id, task, text, methods=())
        assert [[p["token_id"] for p in layer] for layer in b.logit_lens] == [
            [p["token_id"] for p in layer] for layer in one.logit_lens
        ]
        assert [t["rank"] for t in b.logit_lens_target] == [t["rank"] for t in one.logit_lens_target]
        np.testing.assert_allclose(
            [t["score"] for t in b.logit_lens_target], [t["score"] for t in one.logit_lens_target], rtol=1e-4
        )
