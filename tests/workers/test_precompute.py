"""Precompute from JSONL/CSV: bad lines reported by number, cached inputs skipped, batches stored per key."""

from __future__ import annotations

import pytest

from interp.schema import AnalysisRequest, InputError
from workers import get_executor, request_key
from workers.executor import EmbeddedExecutor
from workers.precompute import InputLine, precompute, read_inputs
from workers.settings import Settings

METHODS = ("grad_norm", "attention_rollout", "attention_sensitivity")
PAIRS = [
    ("a man is playing a guitar", "a woman is reading a book"),
    ("the cat sat on the mat", "the dog slept"),
    ("paris is the capital of france", "the weather today is cold"),
    ("we walked along the river", "children are playing football"),
]


def write_jsonl(path, lines: list[str]):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_bad_lines_are_reported_with_their_number(tmp_path):
    path = write_jsonl(
        tmp_path / "in.jsonl",
        [
            '{"text": "one", "pair": "two"}',
            "",
            "{not json",
            '["a list"]',
            '{"text": "  "}',
            '{"text": "x", "colour": "red"}',
            '{"text": "three"}',
        ],
    )
    inputs, problems = read_inputs(path)
    assert inputs == [InputLine(1, "one", "two"), InputLine(7, "three", None)]
    assert [p.split(":")[0] for p in problems] == ["line 3", "line 4", "line 5", "line 6"]
    assert "colour" in problems[3]


def test_csv_rows_with_line_numbers(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text('text,pair\n"a, b",c\nonly text,\n"x",y,extra\n', encoding="utf-8")
    inputs, problems = read_inputs(path)
    assert inputs == [InputLine(2, "a, b", "c"), InputLine(3, "only text", None)]
    assert problems == ["line 4: more cells than columns"]
    (tmp_path / "bad.csv").write_text("sentence\nhello\n", encoding="utf-8")
    assert read_inputs(tmp_path / "bad.csv") == (
        [],
        ["line 1: the CSV header needs a text column (and optionally pair)"],
    )


@pytest.mark.slow
def test_precompute_batches_then_everything_is_cached(tmp_path, executor):
    lines = [f'{{"text": "{a}", "pair": "{b}"}}' for a, b in PAIRS] + ['{"text": "no pair here"}']
    path = write_jsonl(tmp_path / "in.jsonl", lines)
    seen = []

    report = precompute(
        executor,
        path,
        ["tiny-bert-sim"],
        "similarity",
        METHODS,
        batch_size=3,
        on_progress=lambda done, total: seen.append((done, total)),
        poll=0.05,
    )
    assert (report.submitted, report.done, report.cached, report.failed) == (4, 4, 0, [])
    assert report.skipped == ["line 5 (tiny-bert-sim): task similarity needs a second sentence (pair text)"]
    assert seen[-1] == (4, 4)

    # Stored exactly as a single job would store it: a single submit of the same input is a cache hit.
    single = executor.submit(
        AnalysisRequest(
            model="tiny-bert-sim", task="similarity", text=PAIRS[0][0], pair=PAIRS[0][1], methods=METHODS
        )
    )
    assert single.cached
    analysis = executor.result(single.key)
    assert analysis.attention_sensitivity is not None and set(analysis.saliency) == {
        "grad_norm",
        "attention_rollout",
    }
    assert executor.store.get_meta(single.key)["key"] == single.key

    again = precompute(executor, path, ["tiny-bert-sim"], "similarity", METHODS, batch_size=3, poll=0.05)
    assert (again.submitted, again.done, again.cached) == (4, 0, 4)


def test_a_batch_that_cannot_be_queued_frees_its_keys(tmp_path, embedded_env):
    class BrokerDown(EmbeddedExecutor):
        def _dispatch(self, statuses: list) -> None:
            raise ConnectionError("broker down")

    executor = BrokerDown(Settings())
    requests = [AnalysisRequest(model="tiny-bert-sim", task="similarity", text=a, pair=b) for a, b in PAIRS]
    with pytest.raises(ConnectionError):
        executor.submit_many(requests, batch_size=2)
    for request in requests:  # nothing is left claimed: a working executor may compute them
        assert executor.records.claim(request_key(request), "next") is None
    executor.close()


def test_precompute_refuses_a_model_that_does_not_serve_the_task(tmp_path, embedded_env):
    path = write_jsonl(tmp_path / "in.jsonl", ['{"text": "hi"}'])
    with pytest.raises(InputError, match="does not serve task"):
        precompute(get_executor(reset=True), path, ["tiny-bert-sst"], "similarity")
    with pytest.raises(InputError, match="unknown model"):
        precompute(get_executor(), path, ["nope"], "sst")
