"""Analysis.architecture: what the config says about GQA, sliding windows and soft-caps, checked
against what the models' attention actually does."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from interp.architecture import describe
from interp.schema import Analysis

TEXT = "the quick brown fox jumps over the lazy dog"  # longer than the fixture's sliding window of 4


def test_llama_query_heads_share_key_value_heads(run):
    arch = run("tiny-llama", "causal-lm", TEXT, methods=()).architecture
    assert arch["model_type"] == "llama"
    assert (arch["query_heads"], arch["kv_heads"]) == (4, 2)
    assert arch["kv_head_of_query"] == [0, 0, 1, 1]
    assert [layer["kind"] for layer in arch["layers"]] == ["global", "global"]
    assert arch["attention_softcap"] is None and arch["final_logit_softcap"] is None


def test_gemma2_alternates_sliding_and_global_layers_and_caps_its_logits(run):
    arch = run("tiny-gemma2", "causal-lm", TEXT, methods=()).architecture
    assert arch["layers"] == [{"kind": "sliding", "window": 4}, {"kind": "global", "window": None}]
    assert (arch["attention_softcap"], arch["final_logit_softcap"]) == (5.0, 2.0)


def test_encoders_have_one_key_value_head_per_query_head(run):
    arch = run("tiny-bert-sst", "sst", TEXT, methods=()).architecture
    assert arch["kv_head_of_query"] == [0, 1, 2, 3]
    assert {layer["kind"] for layer in arch["layers"]} == {"global"}


@pytest.mark.parametrize(
    "model_id", ["tiny-gemma2", "tiny-gemma3", "tiny-qwen2", "tiny-mistral", "tiny-llama"]
)
def test_sliding_layers_see_only_their_window(run, model_id):
    """On a sliding layer a query sees itself and the window - 1 tokens before; on a global layer, all."""
    a = run(model_id, "causal-lm", TEXT, methods=())
    n = a.n_tokens
    distance = np.arange(n)[:, None] - np.arange(n)[None, :]
    for attention, layer in zip(a.attention, a.architecture["layers"], strict=True):
        if layer["kind"] == "sliding":
            assert np.all(attention[:, distance >= layer["window"]] == 0)
            assert np.all(attention[:, (distance >= 0) & (distance < layer["window"])] > 0)
        else:
            assert np.all(attention[:, distance >= 0] > 0)


@pytest.mark.parametrize("model_id", ["tiny-llama", "tiny-qwen3", "tiny-gemma3"])
def test_a_key_value_head_moves_only_the_query_heads_said_to_share_it(registry, model_id):
    """Perturb key/value head 0's key projection: in the first layer, exactly its query heads change.

    (Added noise, not a scale: Qwen3 and Gemma 3 normalise each key head.)"""
    path = registry.get(model_id).load_path()
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager").eval()
    arch = describe(model.config)
    enc = AutoTokenizer.from_pretrained(path)(TEXT, return_tensors="pt")
    with torch.no_grad():
        before = model(**enc, output_attentions=True).attentions[0][0]
        keys = model.model.layers[0].self_attn.k_proj.weight[: model.config.head_dim]
        keys += torch.randn(keys.shape, generator=torch.Generator().manual_seed(0))
        after = model(**enc, output_attentions=True).attentions[0][0]
    changed = [bool((b - a).abs().max() > 1e-6) for b, a in zip(before, after, strict=True)]
    assert changed == [kv == 0 for kv in arch["kv_head_of_query"]]


def test_architecture_survives_the_store_and_the_json(run):
    a = run("tiny-gemma2", "causal-lm", TEXT, methods=())
    back = Analysis.from_record(*a.to_record())
    assert back.architecture == a.architecture
    assert back.to_json()["architecture"]["layers"][0] == {"kind": "sliding", "window": 4}
