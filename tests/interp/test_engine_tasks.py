"""Every task on every tiny architecture that serves it gives a well-formed Analysis."""

from __future__ import annotations

import numpy as np
import pytest

from interp.schema import METHODS, SALIENCY_METHODS, Analysis

CASES = [
    ("tiny-bert-mlm", "mlm", "the cat sat on the [MASK] .", None),
    ("tiny-distilbert-mlm", "mlm", "paris is the capital of [MASK]", None),
    ("tiny-roberta-mlm", "mlm", "the cat sat on the <mask> .", None),
    ("tiny-bert-sst", "sst", "the movie was great", None),
    ("tiny-distilbert-sst", "sst", "what a boring story", None),
    ("tiny-roberta-sst", "sst", "the film was terrible", None),
    ("tiny-bert-mnli", "mnli", "a man is playing a guitar", "a person plays music"),
    ("tiny-distilbert-mnli", "mnli", "the cat sat on the mat", "a dog slept"),
    ("tiny-roberta-mnli", "mnli", "she went to the store", "she bought bread"),
    ("tiny-gpt2", "causal-lm", "the quick brown fox", None),
    ("tiny-bert-sim", "similarity", "a man is playing a guitar", "a woman is reading"),
    ("minilm", "similarity", "A man is playing a guitar.", "The stock market fell."),
]


def check_well_formed(a: Analysis) -> None:
    n, L, H = a.n_tokens, a.num_layers, a.num_heads
    assert n > 0 and L > 0 and H > 0
    assert len(a.token_words) == len(a.token_segments) == len(a.special_tokens) == n
    assert a.attention.shape == (L, H, n, n) and a.attention.dtype == np.float32
    assert np.isfinite(a.attention).all() and (a.attention >= 0).all()
    np.testing.assert_allclose(a.attention.sum(-1), 1.0, atol=1e-5)
    for word, special in zip(a.token_words, a.special_tokens):
        assert (word is None) == special
        assert word is None or 0 <= word < len(a.words)
    assert [w for w in a.token_words if w is not None] == sorted(w for w in a.token_words if w is not None)
    assert set(a.head_stats) == {"entropy", "special_share", "mean_distance"}
    for values in a.head_stats.values():
        assert values.shape == (L, H) and np.isfinite(values).all() and (values >= -1e-6).all()
    for name in SALIENCY_METHODS:
        if name in a.request.methods:
            assert a.saliency[name].shape == (n,) and np.isfinite(a.saliency[name]).all()
    if "attention_sensitivity" in a.request.methods:
        assert a.attention_sensitivity.shape == (L, n, n)
        assert np.isfinite(a.attention_sensitivity).all() and (a.attention_sensitivity >= 0).all()
    assert a.predictions and all(
        isinstance(p["label"], str) and np.isfinite(p["score"]) for p in a.predictions
    )
    assert a.target is not None and {"label", "index"} <= set(a.target)
    assert a.stages_done == ["forward", "saliency", "sensitivity"][: len(a.stages_done)]
    assert a.fingerprint and a.device


@pytest.mark.parametrize("model,task,text,pair", CASES, ids=[c[0] for c in CASES])
def test_full_analysis_is_well_formed(run, model, task, text, pair):
    a = run(model, task, text, pair)
    check_well_formed(a)
    assert a.stages_done == ["forward", "saliency", "sensitivity"]
    assert set(a.saliency) == set(SALIENCY_METHODS)
    assert {"forward", "saliency", "sensitivity", "loading model"} <= set(a.timings)
    if task in ("mlm", "causal-lm"):
        scores = [p["score"] for p in a.predictions]
        assert len(scores) == a.request.top_k and scores == sorted(scores, reverse=True)
        assert all(isinstance(p["token_id"], int) for p in a.predictions)
        assert a.target["index"] == a.predictions[0]["token_id"]
    if task in ("sst", "mnli"):
        assert [p["index"] for p in a.predictions] == list(range(len(a.predictions)))
        assert sum(p["score"] for p in a.predictions) == pytest.approx(1.0, abs=1e-5)
    if task == "mlm":
        assert a.tokens[a.mask_position] in ("[MASK]", "<mask>")
    if task in ("mnli", "similarity"):
        assert a.token_segments[0] == 0 and a.token_segments[-1] == 1
        assert a.token_segments == sorted(a.token_segments)
    # The record survives the cache's round trip.
    meta, arrays = a.to_record()
    again = Analysis.from_record(meta, arrays)
    assert again.tokens == a.tokens and again.attention.shape == a.attention.shape


def test_similarity_is_block_diagonal(run):
    a = run("tiny-bert-sim", "similarity", "a man is playing", "a woman is reading a book")
    first = np.array(a.token_segments) == 0
    for cross in (np.ix_(first, ~first), np.ix_(~first, first)):
        assert not a.attention[:, :, cross[0], cross[1]].any()
        assert not a.attention_sensitivity[:, cross[0], cross[1]].any()
    assert a.special_tokens[0] and a.special_tokens[first.sum()]  # each sentence has its own [CLS]


def test_only_requested_methods_are_computed(run):
    a = run("tiny-bert-sst", "sst", "the movie was great", methods=("grad_norm",))
    assert set(a.saliency) == {"grad_norm"} and a.attention_sensitivity is None
    assert a.stages_done == ["forward", "saliency"]
    b = run("tiny-bert-sst", "sst", "the movie was great", methods=())
    assert b.saliency == {} and b.stages_done == ["forward"] and b.attention is not None


def test_progress_reports_every_stage_with_partials(registry):
    from interp.engine import analyze
    from interp.schema import AnalysisRequest

    seen = []
    analyze(
        AnalysisRequest("tiny-bert-sst", "sst", "the movie was great"),
        registry=registry,
        on_progress=lambda stage, fraction, partial: seen.append((stage, fraction, partial)),
    )
    stages = [str(s) for s, _, _ in seen]
    assert stages == [
        "loading model",
        "forward",
        "saliency",
        "sensitivity 1/3",
        "sensitivity 2/3",
        "sensitivity 3/3",
        "done",
    ]
    fractions = [f for _, f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    forward = seen[1][2]
    assert (
        forward.predictions and forward.attention is not None and forward.head_stats and not forward.saliency
    )
    assert set(seen[2][2].saliency) == set(m for m in METHODS if m != "attention_sensitivity")


def test_a_raising_callback_stops_the_work(registry):
    from interp.engine import analyze
    from interp.schema import AnalysisRequest

    class Cancelled(Exception):
        pass

    def cancel_at_saliency(stage, fraction, partial):
        if stage.stage == "saliency":
            raise Cancelled

    with pytest.raises(Cancelled):
        analyze(
            AnalysisRequest("tiny-bert-sst", "sst", "the movie was great"),
            registry=registry,
            on_progress=cancel_at_saliency,
        )
