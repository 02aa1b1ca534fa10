"""analyze_many: batched results equal one-by-one analyze calls; bad requests come back as errors."""

from __future__ import annotations

import numpy as np
import pytest

from interp.schema import AnalysisRequest, InputError


def assert_same(batched, single):
    assert batched.tokens == single.tokens and batched.token_words == single.token_words
    assert batched.target == single.target and batched.mask_position == single.mask_position
    for p, q in zip(batched.predictions, single.predictions):
        assert p["label"] == q["label"] and p["score"] == pytest.approx(q["score"], abs=1e-5)
    np.testing.assert_allclose(batched.attention, single.attention, atol=1e-5)
    assert batched.saliency.keys() == single.saliency.keys()
    for name in single.saliency:
        np.testing.assert_allclose(
            batched.saliency[name], single.saliency[name], rtol=1e-3, atol=1e-5, err_msg=name
        )
    if single.attention_sensitivity is not None:
        np.testing.assert_allclose(
            batched.attention_sensitivity, single.attention_sensitivity, rtol=1e-3, atol=1e-6
        )
    for name in single.head_stats:
        np.testing.assert_allclose(batched.head_stats[name], single.head_stats[name], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "model,task,texts",
    [
        (
            "tiny-bert-sim",
            "similarity",
            [
                ("a man is playing", "a woman reads a book today"),
                ("the cat", "the dog slept on the mat"),
                ("children are playing football in the garden", "ok"),
            ],
        ),
        (
            "tiny-roberta-mlm",
            "mlm",
            [
                ("the <mask> sat", None),
                ("paris is the capital of <mask> , said the man", None),
                ("<mask>", None),
            ],
        ),
        (
            "tiny-bert-mnli",
            "mnli",
            [("a man plays", "a person plays music"), ("the weather is cold but sunny today", "it is warm")],
        ),
        (
            "tiny-gpt2",
            "causal-lm",
            [("the quick brown", None), ("we walked along the river and talked", None)],
        ),
    ],
)
def test_batched_equals_one_by_one(run, registry, model, task, texts):
    from interp.engine import analyze_many

    requests = [AnalysisRequest(model, task, text, pair, ig_steps=8) for text, pair in texts]
    batched = analyze_many(requests, registry=registry)
    for request, result in zip(requests, batched):
        assert result.request == request
        assert_same(result, run(request.model, request.task, request.text, request.pair, ig_steps=8))


def test_bad_requests_come_back_as_input_errors(registry):
    from interp.engine import analyze_many

    stages = []
    requests = [
        AnalysisRequest("tiny-bert-sst", "sst", "the movie was great", methods=("grad_norm",)),
        AnalysisRequest("no-such-model", "sst", "hello"),
        AnalysisRequest("tiny-bert-sst", "sst", "the movie", target="nonsense", methods=("grad_norm",)),
        AnalysisRequest(
            "tiny-bert-mlm", "mlm", "the [MASK] sat", methods=("grad_norm",)
        ),  # another model: its own batch
    ]
    results = analyze_many(
        requests,
        registry=registry,
        on_progress=lambda progress, fraction, partial: stages.append((progress.stage, fraction)),
    )
    assert results[0].predictions and results[3].mask_position is not None
    assert isinstance(results[1], InputError) and "unknown model" in str(results[1])
    assert isinstance(results[2], InputError) and "unknown target label" in str(results[2])
    assert stages[-1] == ("done", 1.0) and [s for s, _ in stages].count("done") == 1
    assert [f for _, f in stages] == sorted(f for _, f in stages)
