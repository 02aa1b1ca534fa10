"""The app as a whole: pages, two apps in one process."""

from __future__ import annotations

import dash

from dashapp import ids
from dashapp.app import create_app, sync_theme
from dashapp.pages import compare, history, permalink
from dashapp.pages.analyze import layout, run
from tests.dashapp.fakes import FakeExecutor


def test_two_apps_in_one_process_each_have_every_page_and_callback(tiny_registry):
    first, second = create_app(executor=FakeExecutor()), create_app(executor=FakeExecutor())
    paths = {page["path"] for page in dash.page_registry.values()}
    assert {"/", "/compare", "/history"} <= paths
    assert any(page["path_template"] == "/analysis/<key>" for page in dash.page_registry.values())
    assert len(first.callback_map) == len(second.callback_map) > 20
    for app in (first, second):
        client = app.server.test_client()
        assert client.get("/").status_code == 200
        assert client.get("/_dash-layout").status_code == 200


def test_layouts_render_from_query_parameters(tiny_registry):
    page = layout.layout(model="tiny-bert-mlm", task="mlm", text="a [MASK] b", layer="2", head="1", token="x")
    stores = {c.id: getattr(c, "data", None) for c in page.children if isinstance(c, dash.dcc.Store)}
    assert stores[ids.AUTORUN] == {
        "request": {
            "model": "tiny-bert-mlm",
            "task": "mlm",
            "text": "a [MASK] b",
            "pair": None,
            "target": None,
            "generate": None,
            "seed": None,
        }
    }
    assert stores[ids.SELECTION] == {
        "layer": 2,
        "head": 1,
        "token": None,
        "method": "integrated_gradients",
        "step": None,
        "kind": None,
        "layers": None,
        "heads": None,
    }
    assert (
        getattr(layout.layout().children[0], "data", None) is None
    )  # no text in the link: nothing runs by itself
    assert permalink.layout_for_key(key="ab" * 32).children[0].data == {"key": "ab" * 32}
    assert compare.layout(models="tiny-bert-mlm,tiny-roberta-mlm") is not None
    assert history.layout() is not None


def test_model_picker_marks_unavailable_models(tmp_path, monkeypatch):
    registry = tmp_path / "models.toml"
    registry.write_text('[[models]]\nid = "gone"\npath = "/nowhere/at/all"\ntask = "mlm"\n')
    monkeypatch.setenv("INTERPBOARD_MODELS", str(registry))
    from dashapp.pages.components import model_options

    [option] = model_options()
    assert option["disabled"] and "unavailable" in option["label"]
    _options, task, info = run.model_changed("gone", "sst")
    assert task == "mlm" and "unavailable" in info


def test_theme_switch_and_store_follow_each_other():
    assert sync_theme(None, False, "dark") == ("dark", True)  # on load, the remembered theme wins
    assert sync_theme(ids.THEME_SWITCH, False, "dark") == ("light", False)
    assert sync_theme(None, None, "bogus") == ("light", False)
