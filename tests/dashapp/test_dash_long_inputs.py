"""Long inputs on the page: the truncation notice, windowed graphs, downsampled heatmaps that zoom."""

from __future__ import annotations

from dashapp.pages import components as ui
from tests.dashapp.synthetic import synthetic_analysis


def test_the_truncation_notice_says_how_many_tokens_were_kept_and_dropped():
    assert ui.truncation_text(False, 12, None) is None
    assert ui.truncation_text(True, 512, 740) == "truncated: kept 512 of 740 tokens (228 dropped)"
    assert "kept 64 tokens" in ui.truncation_text(True, 64, None)  # stored before the count was recorded
    badge = ui.result_badge(
        {"truncated": True, "tokens": ["a"] * 64, "tokens_before_truncation": 99}, True, "k"
    )
    assert "kept 64 of 99 tokens (35 dropped)" in str(badge)
    assert "dropped" not in str(ui.result_badge({"tokens": ["a"] * 6}, True, "k"))


def test_a_truncated_analysis_keeps_its_count_through_the_store():
    analysis = synthetic_analysis()
    analysis.truncated, analysis.tokens_before_truncation = True, 700
    again = type(analysis).from_record(*analysis.to_record())
    assert again.truncated and again.tokens_before_truncation == 700
    assert again.to_json()["tokens_before_truncation"] == 700
