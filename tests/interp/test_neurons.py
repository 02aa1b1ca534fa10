"""The neuron view against the stored attention: softmax of its scores equals the stored row (float16), for
every architecture served; a tiny Llama (rotary, grouped-query) against its own output_attentions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interp.neurons import neuron_data, neuron_view
from interp.schema import Analysis, AnalysisRequest, InputError

CASES = [
    ("tiny-bert-mnli", "mnli", "a man plays guitar", "a person makes music", {}),
    ("tiny-distilbert-mlm", "mlm", "the cat sat on the [MASK] .", None, {}),
    ("tiny-roberta-sst", "sst", "the movie was great", None, {}),
    ("tiny-gpt2", "causal-lm", "the cat sat on the", None, {"generate": 3}),
    ("tiny-bert-sim", "similarity", "a man plays", "someone plays music", {}),
]


def _stored(run, *args, **fields) -> tuple[AnalysisRequest, Analysis]:
    analysis = run(*args, methods="grad_norm", **fields)
    return analysis.request, Analysis.from_record(*analysis.to_record())


@pytest.mark.parametrize("model,task,text,pair,fields", CASES, ids=[c[0] for c in CASES])
def test_scores_softmax_to_the_stored_attention_row(run, registry, model, task, text, pair, fields):
    request, analysis = _stored(run, model, task, text, pair, **fields)
    for query in range(analysis.n_tokens):
        view = neuron_view(request, 2, 1, query, registry=registry, fingerprint=analysis.fingerprint)
        n, start = len(view["scores"]), view["key_offset"]
        scores = torch.tensor(view["scores"])
        np.testing.assert_allclose(
            scores.softmax(-1), analysis.attention[2, 1, query, start : start + n], atol=5e-4
        )
        assert not analysis.attention[2, 1, query, start + n :].any()  # causal, or the other sentence
        products = np.asarray(view["products"])
        assert products.shape == (n, len(view["query"])) == np.shape(view["keys"])
        np.testing.assert_allclose(products, np.asarray(view["keys"]) * np.asarray(view["query"]), atol=1e-6)


@pytest.mark.parametrize("model", ["tiny-bart", "tiny-t5", "tiny-marian"])
def test_seq2seq_attentions_of_all_three_kinds(run, registry, model):
    request, analysis = _stored(run, model, "seq2seq", "the cat sat on the mat", "a dog slept")
    for kind, stored in (
        ("encoder", analysis.attention),
        ("decoder", analysis.decoder_attention),
        ("cross", analysis.cross_attention),
    ):
        for query in range(stored.shape[2]):
            view = neuron_view(request, 1, 3, query, kind, registry=registry)
            n = len(view["scores"])
            np.testing.assert_allclose(
                torch.tensor(view["scores"]).softmax(-1), stored[1, 3, query, :n], atol=5e-4
            )


def test_a_rotary_grouped_query_model():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=100,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        attn_implementation="eager",
    )
    model = LlamaForCausalLM(config).eval()
    ids = torch.randint(0, 100, (1, 9))
    with torch.no_grad():
        attention = model(ids, output_attentions=True).attentions[1][0]
    for query in range(9):
        view = neuron_data(model, {"input_ids": ids}, "self", 1, 3, query)
        np.testing.assert_allclose(view["attention"], attention[3, query, : query + 1], atol=1e-6)


@pytest.mark.parametrize(
    "layout,kv_heads",
    [
        (dict(new_decoder_architecture=True, num_kv_heads=2), 2),
        (dict(multi_query=True), 1),
        (dict(multi_query=False), 4),
    ],
    ids=["grouped", "multi-query", "per-head"],
)
def test_falcon_s_fused_rotary_layouts(layout, kv_heads):
    """Falcon's one q/k/v projection in each of its three layouts, rotated: its own output_attentions."""
    from transformers import FalconConfig, FalconForCausalLM

    from interp.architecture import describe, softmax_of_qk

    torch.manual_seed(0)
    config = FalconConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        alibi=False,
        max_position_embeddings=64,
        attn_implementation="eager",
        **layout,
    )
    assert softmax_of_qk(config) and not softmax_of_qk(FalconConfig(alibi=True))
    model = FalconForCausalLM(config).eval()
    ids = torch.randint(0, 100, (1, 9))
    with torch.no_grad():
        attentions = model(ids, output_attentions=True).attentions
    assert describe(config)["kv_heads"] == kv_heads
    for layer in range(2):
        for head in range(4):
            for query in range(9):
                view = neuron_data(model, {"input_ids": ids}, "self", layer, head, query)
                np.testing.assert_allclose(
                    view["attention"], attentions[layer][0, head, query, : query + 1], atol=1e-6
                )


def test_bad_coordinates_and_a_changed_model_are_input_errors(registry):
    request = AnalysisRequest("tiny-bert-sst", "sst", "the movie was great")
    for layer, head, query, kind in (
        (9, 0, 0, "self"),
        (0, 9, 0, "self"),
        (0, 0, 99, "self"),
        (0, 0, 0, "cross"),
    ):
        with pytest.raises(InputError):
            neuron_view(request, layer, head, query, kind, registry=registry)
    with pytest.raises(InputError, match="changed"):
        neuron_view(request, 0, 0, 0, registry=registry, fingerprint="not-this-one")


@pytest.mark.parametrize("model_id", ["tiny-gemma2", "tiny-qwen2", "tiny-mistral"])
def test_sliding_layers_show_the_window_the_model_attends_to(registry, loaded, model_id):
    """A window of 4 on 11+ tokens: on a sliding layer the view's keys are the last 4 (key_offset: the first
    one's token index), on a global layer all earlier ones; either way its softmax is the model's own row
    (Gemma 2's soft-capped scores included)."""
    from interp.architecture import describe
    from tests.tiny_models import LLM_WINDOW

    lm = loaded(model_id, "causal-lm")
    request = AnalysisRequest(
        model_id, "causal-lm", "the quick brown fox jumps over the lazy dog", methods=()
    )
    inputs = {"input_ids": torch.tensor([lm.tokenizer(request.text)["input_ids"]])}
    n = inputs["input_ids"].shape[1]
    assert n > 2 * LLM_WINDOW
    with torch.no_grad():
        attentions = lm.model(**inputs, output_attentions=True).attentions
    kinds = [layer["kind"] for layer in describe(lm.model.config)["layers"]]
    assert "sliding" in kinds and (model_id == "tiny-mistral" or "global" in kinds)
    for layer, kind in enumerate(kinds):
        for head in (0, 3):
            row = attentions[layer][0, head]
            for query in range(n):
                start = max(0, query - LLM_WINDOW + 1) if kind == "sliding" else 0
                view = neuron_data(lm.model, inputs, "self", layer, head, query)
                assert view["key_offset"] == start and len(view["keys"]) == query + 1 - start
                np.testing.assert_allclose(view["attention"], row[query, start : query + 1], atol=1e-6)
                assert not row[query, :start].any()  # nothing the view leaves out
        engine = neuron_view(request, layer, 3, n - 1, registry=registry)  # the request's token indices
        assert engine["key_offset"] == (n - LLM_WINDOW if kind == "sliding" else 0)
        np.testing.assert_allclose(
            engine["attention"], attentions[layer][0, 3, n - 1, engine["key_offset"] :], atol=1e-6
        )
