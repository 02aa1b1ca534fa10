"""Bad input gives a clear InputError; odd characters, long texts, labels and targets behave."""

from __future__ import annotations

import pytest

from interp.registry import Registry
from interp.schema import AnalysisRequest, InputError

FAST = ("grad_norm", "grad_x_input", "attention_rollout")


@pytest.mark.parametrize(
    "fields,message",
    [
        (dict(model="tiny-bert-sst", task="sst", text="   \n\t "), "text is empty"),
        (dict(model="tiny-bert-mlm", task="mlm", text="no mask here"), "needs a mask"),
        (dict(model="tiny-bert-mlm", task="mlm", text="[MASK] and <mask>"), "only one mask"),
        (dict(model="tiny-bert-mnli", task="mnli", text="a premise"), "hypothesis"),
        (dict(model="tiny-bert-sim", task="similarity", text="one sentence", pair="  "), "second sentence"),
    ],
)
def test_bad_requests_are_refused_on_construction(fields, message):
    with pytest.raises(InputError, match=message):
        AnalysisRequest(**fields)


@pytest.mark.parametrize(
    "fields,message",
    [
        (dict(model="no-such-model", task="sst", text="hello"), "unknown model 'no-such-model'"),
        (dict(model="tiny-bert-sst", task="mlm", text="a [MASK]"), "does not serve task mlm"),
        (
            dict(model="tiny-bert-mlm", task="mlm", text="the cat sat", mask_index=40),
            "mask index 40 is out of range",
        ),
        (dict(model="tiny-bert-mlm", task="mlm", text="the cat sat", mask_index=0), "special token"),
        (
            dict(model="tiny-bert-sst", task="sst", text="the movie", target="great"),
            "unknown target label 'great'",
        ),
        (
            dict(model="tiny-bert-mlm", task="mlm", text="the [MASK] sat", target="zebraphone"),
            "not a single token",
        ),
        (
            dict(model="tiny-gpt2", task="causal-lm", text="the cat", target="unbelievablyweird"),
            "not a single token",
        ),
        (dict(model="tiny-bert-sim", task="similarity", text="a", pair="b", target="x"), "takes no target"),
        (
            dict(model="tiny-bert-mlm", task="mlm", text="word " * 100 + "[MASK]"),
            "beyond the model's maximum length of 64",
        ),
    ],
)
def test_bad_requests_are_refused_by_the_engine(run, fields, message):
    with pytest.raises(InputError, match=message):
        run(**fields, methods=FAST)


ODD_TEXTS = {
    "emoji": "the movie was 🙂🎬 great 👍🏽",
    "rtl": "שלום עולם and مرحبا بالعالم",
    "zero-width": "the\u200b movie\u200d was\ufeff great",
    "control": "the movie\x07 was\x1b great\x00",
    "combining-only": "\u0301\u0302",
}


@pytest.mark.parametrize(
    "model,task,pair",
    [
        ("tiny-bert-sst", "sst", None),
        ("tiny-roberta-mnli", "mnli", "a hypothesis 🙂"),
        ("tiny-gpt2", "causal-lm", None),
        ("tiny-bert-sim", "similarity", "ok"),
    ],
)
@pytest.mark.parametrize("kind", list(ODD_TEXTS))
def test_odd_characters_never_crash(run, model, task, pair, kind):
    try:
        a = run(model, task, ODD_TEXTS[kind], pair, methods=FAST)
    except InputError as exc:  # allowed, when the text holds nothing the model can read
        assert str(exc)
        return
    assert len(a.tokens) == a.attention.shape[-1]


def test_odd_characters_with_a_mask(run):
    a = run("tiny-roberta-mlm", "mlm", "שלום 🙂 <mask> \u200b", methods=FAST)
    assert a.tokens[a.mask_position] == "<mask>"


def test_words_are_whitespace_chunks_found_by_offsets(run):
    a = run("tiny-roberta-mnli", "mnli", "playing  guitars, happily", "a reorganization", methods=())
    assert a.words == ["playing", "guitars,", "happily", "a", "reorganization"]
    for token, word, special in zip(a.tokens, a.token_words, a.special_tokens):
        if not special:
            assert token.lstrip("Ġ") in a.words[word]
    assert a.token_words[-2] == 4 and a.token_segments[-2] == 1


def test_gpt2_tokens_with_a_leading_space_belong_to_the_next_word(run):
    a = run("tiny-gpt2", "causal-lm", "the cat sat", methods=())
    assert a.words == ["the", "cat", "sat"]
    assert a.token_words == sorted(a.token_words) and a.token_words[-1] == 2


@pytest.mark.parametrize(
    "model,task,pair",
    [
        ("tiny-bert-sst", "sst", None),
        ("tiny-roberta-mnli", "mnli", "the same again " * 100),
        ("tiny-gpt2", "causal-lm", None),
        ("tiny-bert-sim", "similarity", "short"),
    ],
)
def test_long_input_is_truncated_to_the_maximum_length(tiny_registry, run, model, task, pair):
    from transformers import AutoTokenizer

    text = " ".join(["the quick brown fox jumps over the lazy dog"] * 34)[:1600]  # about 300 words
    assert len(text.split()) >= 290
    a = run(model, task, text, pair, methods=FAST)
    assert a.truncated
    # The count before the cut is the tokenizer's own, untruncated (each text alone where encoded apart).
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_registry.parent / model))
    text, pair = a.request.text, a.request.pair  # as the request normalised them
    apart = [[text], [pair]] if task == "similarity" else [[text, pair] if pair else [text]]
    assert a.tokens_before_truncation == sum(len(tokenizer(*texts)["input_ids"]) for texts in apart)
    assert a.tokens_before_truncation > a.n_tokens
    assert (a.token_segments.count(0) if task == "similarity" else a.n_tokens) == 64
    if task == "mnli":  # longest_first keeps some of both
        assert 0 < a.token_segments.count(1) < 64


def test_short_input_is_not_truncated(run):
    a = run("tiny-bert-sst", "sst", "the movie was great", methods=())
    assert not a.truncated and a.tokens_before_truncation is None


def test_label_order_follows_the_config(run):
    a = run("tiny-bert-mnli", "mnli", "a man plays", "a person plays", methods=())
    assert [p["label"] for p in a.predictions] == ["contradiction", "entailment", "neutral"]


def test_registry_labels_override_the_config(registry):
    from interp.engine import analyze

    spec = registry.get("tiny-bert-sst").model_copy(update=dict(labels=("bad", "good")))
    custom = Registry({**registry.models, spec.id: spec}, "test")
    a = analyze(AnalysisRequest(spec.id, "sst", "the movie", target="good", methods=FAST), registry=custom)
    assert [p["label"] for p in a.predictions] == ["bad", "good"]
    assert a.target == {"label": "good", "index": 1}


@pytest.mark.parametrize("target,index", [("positive", 1), ("NEGATIVE", 0), ("1", 1)])
def test_class_target_by_name_or_index(run, target, index):
    a = run("tiny-bert-sst", "sst", "the movie", target=target, methods=FAST)
    assert a.target["index"] == index


def test_token_targets(run, loaded):
    a = run("tiny-bert-mlm", "mlm", "the [MASK] sat on the mat", target="cat", methods=FAST)
    assert a.target == {
        "label": "cat",
        "index": loaded("tiny-bert-mlm", "mlm").tokenizer.convert_tokens_to_ids("cat"),
    }
    g = run("tiny-gpt2", "causal-lm", "the quick brown", target="fox", methods=FAST)
    assert g.target["label"] == "fox"
    assert loaded("tiny-gpt2", "causal-lm").tokenizer.convert_ids_to_tokens(g.target["index"]) in (
        "fox",
        "Ġfox",
    )


def test_mask_index_masks_that_token(run):
    a = run("tiny-bert-mlm", "mlm", "the cat sat on the mat", mask_index=2, methods=FAST)
    assert a.mask_position == 2 and a.tokens[2] == "[MASK]"
    assert a.words[a.token_words[2]] == "cat"


def test_words_keep_the_users_mask_marker_whatever_the_tokenizer_calls_it(run):
    roberta = run("tiny-roberta-mlm", "mlm", "the [MASK] sat.", methods=FAST)
    bert = run("tiny-bert-mlm", "mlm", "the <mask> sat.", methods=FAST)
    assert roberta.tokens[roberta.mask_position] == "<mask>" and roberta.words == ["the", "[MASK]", "sat."]
    assert bert.tokens[bert.mask_position] == "[MASK]" and bert.words == ["the", "<mask>", "sat."]
