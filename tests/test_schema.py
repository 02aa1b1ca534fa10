"""AnalysisRequest validation and normalisation, Analysis records and content keys (no torch)."""

import subprocess
import sys

import numpy as np
import pytest

from cache.keys import content_key
from interp.schema import METHODS, Analysis, AnalysisRequest, InputError


def req(**kw):
    base = dict(model="m", task="sst", text="a fine film")
    return AnalysisRequest(**{**base, **kw})


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(text=""), "text is empty"),
        (dict(text=" \t\n "), "text is empty"),
        (dict(text="\u200b\u200d\x00"), "text is empty"),
        (dict(task="mlm", text="no mask here"), "needs a mask"),
        (dict(task="mlm", text="[MASK] and <mask>"), "only one mask"),
        (dict(task="mlm", text="a [MASK]", mask_index=1), "only one mask"),
        (dict(task="mnli", text="premise"), "hypothesis"),
        (dict(task="mnli", text="premise", pair="  "), "hypothesis"),
        (dict(task="similarity", text="a"), "second sentence"),
        (dict(task="sst", pair="b"), "takes one text"),
        (dict(task="translate"), "unknown task"),
        (dict(model=" "), "model id is required"),
        (dict(methods=("grad_norm", "lime")), "unknown method"),
        (dict(top_k=0), "top_k"),
        (dict(ig_steps=True), "ig_steps"),
        (dict(task="mlm", text="x", mask_index=-1), "non-negative"),
        (dict(mask_index=2), "only applies to the mlm task"),
        (dict(text="x" * 20_001), "longer than"),
    ],
)
def test_bad_requests_name_the_problem(kw, message):
    with pytest.raises(InputError, match=message):
        req(**kw)


def test_normalisation_nfc_and_outer_whitespace_only():
    r = req(text="  Cafe\u0301  au  lait \n")
    assert r.text == "Café  au  lait"  # NFC; inner spacing kept
    assert req(text="Café  au  lait").key_payload("fp") == r.key_payload("fp")


def test_methods_canonical_order_and_string_form():
    r = req(methods=("integrated_gradients", "grad_norm", "grad_norm"))
    assert r.methods == ("grad_norm", "integrated_gradients")
    assert req(methods="grad_x_input,grad_norm").methods == ("grad_norm", "grad_x_input")
    assert req().methods == METHODS


def test_from_dict_rejects_unknown_and_wrong_types():
    with pytest.raises(InputError, match="unknown field"):
        AnalysisRequest.from_dict({"model": "m", "task": "sst", "text": "x", "evil": 1})
    with pytest.raises(InputError, match="text is required"):
        AnalysisRequest.from_dict({"model": "m", "task": "sst"})
    with pytest.raises(InputError, match="JSON object"):
        AnalysisRequest.from_dict(["m"])
    with pytest.raises(InputError, match="list of method names"):
        AnalysisRequest.from_dict({"model": "m", "task": "sst", "text": "x", "methods": [1]})
    with pytest.raises(InputError, match="text must be a string"):
        AnalysisRequest.from_dict({"model": "m", "task": "sst", "text": 5})
    r = req(task="mnli", pair="h", target="entailment")
    assert AnalysisRequest.from_dict(r.to_dict()) == r


def test_emoji_rtl_and_control_characters_are_valid_text():
    for text in ["great 😀🎬", "مرحبا بالعالم", "a\u200bb", "tab\tand\x07bell", "🇺🇳"]:
        assert req(text=text).text


def test_key_changes_with_everything_that_changes_results():
    base = req(task="mnli", pair="h")
    key = content_key(base.key_payload("fp1"))
    assert content_key(base.key_payload("fp1")) == key  # stable
    variants = [
        base.key_payload("fp2"),
        base.with_(text="a fine film!").key_payload("fp1"),
        base.with_(pair="h2").key_payload("fp1"),
        base.with_(target="neutral").key_payload("fp1"),
        base.with_(methods=("grad_norm",)).key_payload("fp1"),
        base.with_(top_k=5).key_payload("fp1"),
        base.with_(ig_steps=20).key_payload("fp1"),
        base.with_(model="m2").key_payload("fp1"),
    ]
    keys = {content_key(v) for v in variants}
    assert key not in keys and len(keys) == len(variants)
    # ig_steps only matters when IG runs.
    no_ig = base.with_(methods=("grad_norm",))
    assert content_key(no_ig.key_payload("f")) == content_key(no_ig.with_(ig_steps=7).key_payload("f"))


def test_key_is_the_same_in_another_process():
    r = req(text="Über 😀 tokens", task="sst")
    code = (
        "from cache.keys import content_key; from interp.schema import AnalysisRequest as R;"
        "print(content_key(R(model='m', task='sst', text='Über 😀 tokens').key_payload('fp')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == content_key(r.key_payload("fp"))


def test_analysis_record_roundtrip_is_json_and_arrays_only():
    import orjson

    rng = np.random.default_rng(0)
    att = rng.random((2, 3, 4, 4), dtype=np.float32)
    att /= att.sum(-1, keepdims=True)
    a = Analysis(
        request=req(),
        fingerprint="fp",
        tokens=["[CLS]", "a", "film", "[SEP]"],
        token_words=[None, 0, 1, None],
        words=["a", "film"],
        token_segments=[0, 0, 0, 0],
        special_tokens=[True, False, False, True],
        predictions=[
            {"label": "negative", "score": 0.4, "index": 0},
            {"label": "positive", "score": 0.6, "index": 1},
        ],
        target={"label": "positive", "index": 1},
        attention=att,
        saliency={"grad_norm": rng.random(4, dtype=np.float32)},
        attention_sensitivity=rng.random((2, 4, 4), dtype=np.float32),
        head_stats={"entropy": rng.random((2, 3), dtype=np.float32)},
        timings={"forward": 0.1},
    )
    meta, arrays = a.to_record()
    orjson.dumps(meta)  # JSON-able
    assert arrays["attention"].dtype == np.float16 and arrays["saliency.grad_norm"].dtype == np.float32
    back = Analysis.from_record(meta, arrays)
    assert back.tokens == a.tokens and back.request == a.request and back.target == a.target
    np.testing.assert_allclose(back.attention, att, atol=1e-3)
    np.testing.assert_allclose(back.saliency["grad_norm"], a.saliency["grad_norm"])
    full = back.to_json(full=True)
    assert np.array(full["attention"]).shape == (2, 3, 4, 4)
    assert "attention" not in back.to_json()
