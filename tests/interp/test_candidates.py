"""Candidate words: each model's own probability for the same words, from its full distribution.

The reference is written out with plain transformers (the model's softmax at the mask / last position),
and the tokens that spell a word are listed from the vocabulary by hand, so the engine's spelling rule is
checked, not repeated. BERT (WordPiece, lower-cased) and RoBERTa (byte-level BPE) spell words differently.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

from cache.keys import content_key
from interp.schema import Analysis, AnalysisRequest, InputError

MLM_TEXT = "the cat sat on the [MASK] while the dog slept"
WORDS = ["the", "dog", "Dog", "unbelievable", "."]  # "Dog" repeats "dog" and is dropped


def _reference(registry, model_id: str, task: str, text: str) -> tuple[torch.Tensor, dict[str, int]]:
    """(Probabilities at the read position, the vocabulary) from a plain forward."""
    path = registry.get(model_id).load_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    auto = AutoModelForMaskedLM if task == "mlm" else AutoModelForCausalLM
    model = auto.from_pretrained(path, attn_implementation="eager").eval()
    enc = tokenizer(text.replace("[MASK]", tokenizer.mask_token or ""), return_tensors="pt")
    position = int((enc["input_ids"][0] == tokenizer.mask_token_id).nonzero()[0]) if task == "mlm" else -1
    with torch.no_grad():
        probs = model(**enc).logits[0, position].softmax(-1)
    return probs, tokenizer.get_vocab()


@pytest.mark.parametrize(
    ("model_id", "task", "text", "spellings"),
    [
        # WordPiece lower-cases: one token per word
        ("tiny-bert-mlm", "mlm", MLM_TEXT, {"the": ["the"], "dog": ["dog"], ".": ["."]}),
        # byte-level BPE: the word with and without its leading space, in either case, where the vocabulary has it
        (
            "tiny-roberta-mlm",
            "mlm",
            MLM_TEXT,
            {
                "the": ["the", "Ġthe", "The", "ĠThe"],
                "dog": ["dog", "Ġdog", "Dog", "ĠDog"],
                ".": [".", "Ġ."],
            },
        ),
        (
            "tiny-gpt2",
            "causal-lm",
            "the cat sat on the",
            {"the": ["the", "Ġthe", "The", "ĠThe"], "dog": ["dog", "Ġdog", "Dog", "ĠDog"], ".": [".", "Ġ."]},
        ),
    ],
)
def test_each_word_is_the_models_own_probability_from_its_full_distribution(
    run, registry, model_id, task, text, spellings
):
    a = run(model_id, task, text, methods=(), top_k=3, candidates=WORDS)
    probs, vocab = _reference(registry, model_id, task, text)
    scored = {s["word"]: s for s in a.candidate_scores}
    assert list(scored) == ["the", "dog", "unbelievable", "."]
    for word, tokens in spellings.items():
        ids = sorted({vocab[t] for t in tokens if t in vocab})
        assert ids and scored[word]["single_token"] and sorted(scored[word]["token_ids"]) == ids
        np.testing.assert_allclose(scored[word]["score"], float(probs[ids].sum()), rtol=1e-4)
    long = scored["unbelievable"]  # no one-token spelling in these small vocabularies
    assert long["single_token"] is False and long["score"] is None and long["token_ids"] == []
    assert len(long["pieces"]) > 1 and "".join(long["pieces"]).replace("##", "") == "unbelievable"
    # the top prediction scored as a candidate is at least its own listed probability (other spellings add)
    top = a.predictions[0]
    again = run(model_id, task, text, methods=(), top_k=3, candidates=[top["label"]])
    assert again.candidate_scores[0]["score"] >= top["score"] - 1e-6
    assert top["token_id"] in again.candidate_scores[0]["token_ids"]


def test_vocabularies_differ_so_a_word_can_be_one_token_for_one_model_only(run):
    """The point of scoring words: BERT's and RoBERTa's lists never share a token, but they share words."""
    words = [p["label"] for p in run("tiny-bert-mlm", "mlm", MLM_TEXT, methods=(), top_k=10).predictions]
    words += [p["label"] for p in run("tiny-roberta-mlm", "mlm", MLM_TEXT, methods=(), top_k=10).predictions]
    bert = run("tiny-bert-mlm", "mlm", MLM_TEXT, methods=(), candidates=words).candidate_scores
    roberta = run("tiny-roberta-mlm", "mlm", MLM_TEXT, methods=(), candidates=words).candidate_scores
    assert [s["word"] for s in bert] == [s["word"] for s in roberta]
    both = [b["word"] for b, r in zip(bert, roberta) if b["single_token"] and r["single_token"]]
    one = [b["word"] for b, r in zip(bert, roberta) if b["single_token"] != r["single_token"]]
    assert both and one  # most words are scored by both; "##st"-style pieces are one model's alone


def test_candidates_survive_storage_and_json_and_batches_score_each_request(run, registry):
    from interp.engine import analyze_many

    a = run("tiny-llama", "causal-lm", "the quick brown fox", methods=(), candidates=["the", "fox"])
    again = Analysis.from_record(*a.to_record())
    assert again.candidate_scores == a.candidate_scores
    assert a.to_json()["candidate_scores"] == a.candidate_scores
    assert "candidate_scores" not in run("tiny-llama", "causal-lm", "the quick", methods=()).to_json()
    requests = [
        AnalysisRequest("tiny-bert-mlm", "mlm", MLM_TEXT, methods=(), candidates=["the"]),
        AnalysisRequest("tiny-bert-mlm", "mlm", "a [MASK] film", methods=()),
        AnalysisRequest("tiny-bert-mlm", "mlm", "a [MASK] film", methods=(), candidates=["film", "a"]),
    ]
    batched = analyze_many(requests, registry=registry)
    assert batched[1].candidate_scores is None
    for request, got in zip(requests, batched, strict=True):
        if request.candidates:
            alone = run(request.model, request.task, request.text, methods=(), candidates=request.candidates)
            assert [s["word"] for s in got.candidate_scores] == list(request.candidates)
            np.testing.assert_allclose(
                [s["score"] for s in got.candidate_scores],
                [s["score"] for s in alone.candidate_scores],
                rtol=1e-4,
            )


def test_candidates_enter_the_key_only_when_set_and_only_where_a_word_is_predicted():
    base = AnalysisRequest("m", "mlm", MLM_TEXT)
    assert "candidates" not in base.key_payload("fp")
    asked = base.with_(candidates=("Paris", "paris ", "Rome"))
    assert asked.candidates == ("Paris", "Rome")  # one word whatever its case, as it is scored
    assert content_key(asked.key_payload("fp")) != content_key(base.key_payload("fp"))
    assert AnalysisRequest.from_dict(asked.to_dict()) == asked
    for task, text, extra in [("sst", "a film", {}), ("causal-lm", "the", {"generate": 3})]:
        with pytest.raises(InputError, match="candidate words only apply"):
            AnalysisRequest("m", task, text, candidates=["x"], **extra)
    for bad in ([], [""], "Paris", ["x" * 101], [str(i) for i in range(201)]):
        with pytest.raises(InputError):
            AnalysisRequest("m", "mlm", MLM_TEXT, candidates=bad)
