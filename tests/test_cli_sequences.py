"""`interpboard analyze` for seq2seq and generation, and `interpboard neurons`, as real processes."""

from __future__ import annotations

import numpy as np
import orjson

from tests.test_cli import cli  # noqa: F401 (the fixture)


def test_seq2seq_full_json(cli):  # noqa: F811
    result = cli(
        "analyze", "--model", "tiny-t5", "--task", "seq2seq", "--text", "the cat sat on the mat",
        "--pair", "a dog slept", "--methods", "grad_norm,grad_x_input", "--json", "--full",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = orjson.loads(result.stdout)
    ns, nt = len(out["source_tokens"]), len(out["target_tokens"])
    assert np.shape(out["encoder_attention"]) == (2, 4, ns, ns)
    assert np.shape(out["decoder_attention"]) == (2, 4, nt, nt)
    assert np.shape(out["cross_attention"]) == (2, 4, nt, ns)
    assert np.shape(out["saliency"]["grad_norm"]) == (nt, ns + nt)
    assert len(out["predictions"]) == nt and {"key", "cached", "timings"} <= set(out)

    neurons = cli("neurons", "--key", out["key"], "--layer", "1", "--head", "2", "--query", "1",
                  "--kind", "cross", "--json")  # fmt: skip
    assert neurons.returncode == 0, neurons.stderr
    view = orjson.loads(neurons.stdout)
    assert len(view["scores"]) == ns and len(view["query"]) == 8
    np.testing.assert_allclose(view["attention"], out["cross_attention"][1][2][1], atol=5e-4)


def test_generate_json_and_neurons(cli):  # noqa: F811
    args = ["analyze", "--model", "tiny-gpt2", "--task", "causal-lm", "--text", "the cat sat",
            "--generate", "4", "--methods", "grad_norm", "--json"]  # fmt: skip
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    out = orjson.loads(result.stdout)
    assert len(out["generated"]) == len(out["steps"]) == 4
    assert orjson.loads(cli(*args).stdout)["cached"] is True
    assert orjson.loads(cli(*args[:-1], "--sample-seed", "1", "--json").stdout)["key"] != out["key"]
    last = len(out["tokens"]) - 1
    neurons = cli(
        "neurons", "--key", out["key"], "--layer", "0", "--head", "0", "--query", str(last), "--json"
    )
    assert neurons.returncode == 0, neurons.stderr
    assert len(orjson.loads(neurons.stdout)["attention"]) == last + 1
    too_many = cli(*args[:-3], "--generate", "65", "--json")
    assert too_many.returncode == 2 and "generate" in too_many.stderr


def test_neurons_from_stored_queries_and_keys(cli):  # noqa: F811
    """A Llama (GQA, rotary) analysis stores q/k: the neuron view comes from them, equal to --full's row."""
    result = cli("analyze", "--model", "tiny-llama", "--task", "causal-lm", "--text", "the quick brown fox jumps",
                 "--methods", "grad_norm", "--json", "--full")  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = orjson.loads(result.stdout)
    neurons = cli("neurons", "--key", out["key"], "--layer", "1", "--head", "3", "--query", "4", "--json")
    assert neurons.returncode == 0, neurons.stderr
    view = orjson.loads(neurons.stdout)
    assert view["source"] == "stored" and len(view["keys"]) == len(view["scores"]) == 5
    assert np.shape(view["products"]) == np.shape(view["keys"]) == (5, len(view["query"]))
    np.testing.assert_allclose(view["attention"], out["attention"][1][3][4][:5], atol=1e-5)
    bad = cli("neurons", "--key", out["key"], "--layer", "1", "--head", "9", "--query", "4", "--json")
    assert bad.returncode == 2 and "head 9" in bad.stderr
