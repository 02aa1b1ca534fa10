"""The `interpboard` command, run as a real process: embedded executor, a fresh cache dir per test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest

from tests.workers.support import celery_worker, worker_env

REPO_ROOT = Path(__file__).resolve().parent.parent
SST = ["--model", "tiny-bert-sst", "--task", "sst", "--text", "the movie was great"]


@pytest.fixture
def cli(tmp_path, tiny_registry):
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERPBOARD_")}
    env.update(INTERPBOARD_CACHE=str(tmp_path / "cache"), INTERPBOARD_MODELS=str(tiny_registry))

    def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "dashapp.cli", *args],
            env={**env, **extra_env},
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )

    return run


def test_analyze_json_twice_second_is_cached(cli):
    first = cli("analyze", *SST, "--methods", "grad_norm,grad_x_input", "--json")
    assert first.returncode == 0, first.stderr
    one = orjson.loads(first.stdout)
    assert one["cached"] is False and len(one["key"]) == 64
    assert (one["model"], one["task"]) == ("tiny-bert-sst", "sst")
    assert {p["label"] for p in one["predictions"]} == {"negative", "positive"}
    assert set(one["saliency"]) == {"grad_norm", "grad_x_input"}
    assert all(len(v) == len(one["tokens"]) for v in one["saliency"].values())
    assert {"head_stats", "truncated", "timings"} <= set(one) and "attention" not in one

    second = cli("analyze", *SST, "--methods", "grad_x_input,grad_norm", "--json")
    two = orjson.loads(second.stdout)
    assert two["cached"] is True and two["key"] == one["key"]
    assert two["predictions"] == one["predictions"]


def test_analyze_layers_computes_sensitivity_of_those_layers_only(cli):
    only = cli(
        "analyze", *SST, "--methods", "grad_norm,attention_sensitivity", "--layers", "1", "--json", "--full"
    )
    assert only.returncode == 0, only.stderr
    one = orjson.loads(only.stdout)
    states = {name: part["state"] for name, part in one["parts"].items()}
    layers = len(one["attention"])
    assert states == {"core": "done", "sensitivity.1": "done"} | {
        f"sensitivity.{l}": "offered" for l in range(layers) if l != 1
    }
    assert all(part["estimate_s"] > 0 for part in one["parts"].values())
    sensitivity = one["attention_sensitivity"]
    assert sensitivity[1][0][0] is not None and sensitivity[0][0][0] is None  # NaN: not computed
    # The same analysis, cached: another layer is computed on its own and merged in; without --layers, all.
    more = orjson.loads(
        cli("analyze", *SST, "--methods", "grad_norm,attention_sensitivity", "--layers", "0", "--json").stdout
    )
    assert more["cached"] and more["key"] == one["key"]
    assert more["parts"]["sensitivity.0"]["state"] == more["parts"]["sensitivity.1"]["state"] == "done"
    every = orjson.loads(
        cli("analyze", *SST, "--methods", "grad_norm,attention_sensitivity", "--json").stdout
    )
    assert {part["state"] for part in every["parts"].values()} == {"done"}
    bad = cli("analyze", *SST, "--layers", "x,1")
    assert bad.returncode != 0 and "--layers" in bad.stderr


def test_analyze_full_has_attention_of_the_right_shape(cli):
    result = cli(
        "analyze",
        "--model",
        "tiny-bert-mnli",
        "--task",
        "mnli",
        "--text",
        "a man plays guitar",
        "--pair",
        "a person makes music",
        "--methods",
        "attention_sensitivity",
        "--json",
        "--full",
    )
    assert result.returncode == 0, result.stderr
    out = orjson.loads(result.stdout)
    n = len(out["tokens"])
    layers, heads = 3, 4  # tests/tiny_models.py
    attention = out["attention"]
    assert (len(attention), len(attention[0]), len(attention[0][0]), len(attention[0][0][0])) == (
        layers,
        heads,
        n,
        n,
    )
    sensitivity = out["attention_sensitivity"]
    assert (len(sensitivity), len(sensitivity[0]), len(sensitivity[0][0])) == (layers, n, n)


def test_analyze_prints_a_human_summary(cli):
    result = cli(
        "analyze",
        "--model",
        "tiny-gpt2",
        "--task",
        "causal-lm",
        "--text",
        "the cat sat on the",
        "--methods",
        "grad_norm",
    )
    assert result.returncode == 0, result.stderr
    assert "tiny-gpt2" in result.stdout and "Predictions" in result.stdout and "grad_norm" in result.stdout


def test_the_human_summary_shows_the_logit_lens_and_candidate_words(cli):
    args = [
        "--model",
        "tiny-gpt2",
        "--task",
        "causal-lm",
        "--text",
        "the cat sat on the",
        "--methods",
        "grad_norm",
    ]
    args += ["--candidates", "the", "unbelievable"]
    shown = cli("analyze", *args, COLUMNS="200")
    assert shown.returncode == 0, shown.stderr
    same = orjson.loads(cli("analyze", *args, "--json").stdout)  # cached: the same analysis
    assert "Logit lens" in shown.stdout and f"target {same['target']['label']!r}" in shown.stdout
    rows = [line for line in shown.stdout.splitlines() if re.match(r"│ \d+ +│", line)]
    assert len(rows) == len(same["logit_lens"]) == 3  # one row per layer
    for row, tops, about in zip(rows, same["logit_lens"], same["logit_lens_target"], strict=True):
        assert f"{tops[0]['label']!r} {tops[0]['score']:.3f}" in row
        assert f"#{about['rank']} · {about['score']:.4f}" in row
    the, long = same["candidate_scores"]
    assert (
        f"{the['score']:.4f}" in shown.stdout
        and "not one token (" in shown.stdout
        and not long["single_token"]
    )


@pytest.mark.parametrize(
    ("args", "env", "code"),
    [
        (["--model", "nope", "--task", "sst", "--text", "hi"], {}, 2),
        (["--model", "tiny-bert-sst", "--task", "mlm", "--text", "the [MASK] sat"], {}, 2),
        (["--model", "tiny-bert-sst", "--task", "sst", "--text", "   "], {}, 2),
        (["--model", "tiny-bert-sst", "--task", "poetry", "--text", "hi"], {}, 2),
        (["--model", "tiny-bert-sst", "--task", "sst", "--text", "hi", "--methods", "vibes"], {}, 2),
        (["--model", "tiny-bert-sst", "--task", "sst", "--text", "hi", "--top-k", "0"], {}, 2),
        (["--model", "tiny-bert-mlm", "--task", "mlm", "--text", "hi", "--mask-index", "two"], {}, 2),
        (["--model", "tiny-bert-sim", "--task", "similarity", "--text", "hi"], {}, 2),
        (["--model", "tiny-bert-sst", "--task", "sst"], {}, 2),
        (["--model", "tiny-bert-mlm", "--task", "mlm", "--text", "the cat sat", "--mask-index", "40"], {}, 2),
        (["--model", "tiny-bert-sst", "--task", "sst", "--text", "hi", "--target", "banana"], {}, 2),
        (SST, {"INTERPBOARD_VISIBILITY_TIMEOUT": "5"}, 2),
    ],
    ids=[
        "unknown-model",
        "task-not-served",
        "empty-text",
        "unknown-task",
        "unknown-method",
        "top-k-0",
        "mask-index-not-int",
        "missing-pair",
        "missing-text",
        "mask-index-beyond-text",
        "unknown-target",
        "bad-setting",
    ],
)
def test_bad_input_is_one_stderr_line_and_exit_2(cli, args, env, code):
    result = cli("analyze", *args, "--json", **env)
    assert result.returncode == code
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interpboard: error: "), result.stderr


def test_models_lists_the_tiny_models_as_available(cli):
    listed = cli("models", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["id"]: row for row in orjson.loads(listed.stdout)}
    assert {"tiny-bert-mlm", "tiny-gpt2", "tiny-roberta-mnli", "minilm"} <= set(rows)
    assert rows["tiny-gpt2"]["available"] and rows["tiny-gpt2"]["tasks"] == ["causal-lm"]
    table = cli("models")
    assert table.returncode == 0 and "tiny-bert-sst" in table.stdout and "yes" in table.stdout


def test_precompute_reports_bad_lines_and_fills_the_cache(cli, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"text": "the movie was great"}\n{"txt": "typo"}\n{"text": "what a boring story"}\n',
        encoding="utf-8",
    )
    args = [
        "precompute",
        str(path),
        "--model",
        "tiny-bert-sst,tiny-distilbert-sst",
        "--task",
        "sst",
        "--methods",
        "grad_norm",
        "--batch-size",
        "2",
        "--json",
    ]
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    summary = orjson.loads(first.stdout)
    assert (summary["computed"], summary["cached"], summary["skipped"]) == (4, 0, 1)
    assert "line 2" in first.stderr
    again = orjson.loads(cli(*args).stdout)
    assert (again["computed"], again["cached"]) == (0, 4)


@pytest.mark.processes
def test_analyze_through_a_celery_worker(cli, tmp_path, tiny_registry, redis_url):
    queue = {"INTERPBOARD_BROKER": redis_url, "INTERPBOARD_QUEUE": f"test-{uuid.uuid4().hex[:12]}"}
    env = worker_env({**queue, "INTERPBOARD_CACHE": str(tmp_path / "cache")}, tiny_registry)
    with celery_worker(env, tmp_path / "worker.log"):
        first = cli("analyze", *SST, "--methods", "grad_norm", "--json", **queue)
        assert first.returncode == 0, first.stderr
        second = cli("analyze", *SST, "--methods", "grad_norm", "--json", **queue)
    one, two = orjson.loads(first.stdout), orjson.loads(second.stdout)
    assert (one["cached"], two["cached"], two["key"]) == (False, True, one["key"])


def test_worker_needs_a_broker(cli):
    result = cli("worker")
    assert result.returncode == 2 and "INTERPBOARD_BROKER" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
