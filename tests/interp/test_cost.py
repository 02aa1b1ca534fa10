"""The cost model's closed-form FLOPs against torch's own count of the parts as they run."""

from __future__ import annotations

import functools
import time

import pytest
import torch

from interp.cost import ModelShape, components, estimates, on_request, torch_flops, width_of
from interp.part_names import CORE, parts_of, saliency_part, sensitivity_part
from interp.schema import METHODS, AnalysisRequest
from interp.settings import settings

TEXT = " ".join(["the quick brown fox jumps over the lazy dog"] * 4)
CASES = [  # BERT-, GPT-2- (fused q/k/v) and Llama-shaped (GQA, gated MLP), a pair, fused-qkv LLMs (Falcon: GQA)
    ("tiny-bert-mlm", "mlm", TEXT.replace("fox", "[MASK]", 1), None),
    ("tiny-gpt2", "causal-lm", TEXT, None),
    ("tiny-llama", "causal-lm", TEXT, None),
    ("tiny-bert-sim", "similarity", TEXT, "a man is playing"),
    ("tiny-phi3", "causal-lm", TEXT, None),
    ("tiny-falcon", "causal-lm", TEXT, None),
]


@pytest.mark.parametrize("model_id,task,text,pair", CASES, ids=[c[0] for c in CASES])
def test_flops_of_every_part_match_torchs_count(registry, model_id, task, text, pair):
    from interp import qk_capture
    from interp.calibration import counted_flops, shape_of
    from interp.parts import compute_core, compute_part, prepare

    request = AnalysisRequest(model_id, task, text, pair, methods=METHODS, ig_steps=4)
    subject = prepare(request, registry=registry)
    shape = shape_of(
        subject
    )  # as the worker estimates: the closed form where the engine's sensitivity has it
    assert shape.closed_form == (qk_capture.layout(subject.lm.model, subject.item.lengths) is not None)
    assert shape.closed_form == (model_id != "tiny-phi3")  # no hooks catch Phi-3's fused rotary q and k
    lengths = subject.item.lengths
    core, counted = counted_flops(lambda: compute_core(subject))
    assert torch_flops(shape, CORE, lengths, request.methods, 4) == pytest.approx(counted, rel=0.1)
    for part in parts_of(METHODS, subject.layers)[1:]:
        _, counted = counted_flops(lambda part=part: compute_part(subject, part, core))
        assert torch_flops(shape, part, lengths, request.methods, 4) == pytest.approx(counted, rel=0.1), part


@pytest.mark.parametrize(
    "model_id,task,text,pair,steps",
    [
        ("tiny-bert-sst", "sst", TEXT, None, (50, 200)),
        ("minilm", "similarity", "a man is playing a guitar on the street", "a woman reads", (120,)),
    ],
    ids=["tiny-bert", "minilm"],
)
def test_integrated_gradients_flops_scale_with_steps_as_torch_counts_them(
    registry, model_id, task, text, pair, steps
):
    """At many steps (in chunks of MAX_ROWS_TOKENS rows: two or more at the most steps), forward and backward:
    the closed form is what torch counts of the real computation, and it grows with the steps."""
    from interp.calibration import counted_flops, subject_flops
    from interp.part_names import saliency_part
    from interp.parts import compute_core, compute_part, prepare
    from interp.saliency import MAX_ROWS_TOKENS

    part, estimated = saliency_part("integrated_gradients"), {}
    for n_steps in steps:
        request = AnalysisRequest(
            model_id, task, text, pair, methods=("integrated_gradients",), ig_steps=n_steps
        )
        subject = prepare(request, registry=registry)
        S, n = len(subject.item.lengths), max(subject.item.lengths)
        assert n_steps < max(steps) or n_steps * S * n > MAX_ROWS_TOKENS
        core = compute_core(subject)
        _, counted = counted_flops(lambda s=subject, c=core: compute_part(s, part, c))
        estimated[n_steps] = subject_flops(subject, part)
        assert estimated[n_steps] == pytest.approx(counted, rel=0.05)
    if len(steps) > 1:  # 4 forwards for the completeness check besides the steps' forward + backward
        assert estimated[200] / estimated[50] == pytest.approx(200 / 50, rel=0.05)


def test_shape_from_configs_of_each_family():
    from transformers import BertConfig, GPT2Config, LlamaConfig

    bert = ModelShape.from_config(BertConfig(), "mlm")
    assert (bert.layers, bert.hidden, bert.heads, bert.kv_heads, bert.head_dim, bert.intermediate) == (
        12,
        768,
        12,
        12,
        64,
        3072,
    )
    assert not bert.gated and not bert.fused_qkv and bert.head == "mlm"
    gpt2 = ModelShape.from_config(GPT2Config(), "causal-lm")
    assert gpt2.intermediate == 4 * 768 and gpt2.fused_qkv and gpt2.head == "lm"
    llama = ModelShape.from_config(LlamaConfig(num_key_value_heads=8), "similarity")
    assert llama.gated and llama.kv_heads == 8 and llama.head == "none"
    assert bert.closed_form and gpt2.closed_form and llama.closed_form


def test_without_the_model_the_closed_form_is_what_the_config_says():
    """Where no q/k layout can exist (seq2seq stacks, T5's position bias, ALiBi): interp.architecture's rule,
    the one interp.qk_capture.layout reads first."""
    from transformers import BartConfig, BloomConfig, FalconConfig, T5Config

    for config in (T5Config(), BartConfig(), BloomConfig(), FalconConfig(alibi=True)):
        assert not ModelShape.from_config(config, "causal-lm").closed_form, config.model_type


def test_estimates_grow_with_the_layer_and_the_budget_sorts_them():
    from transformers import BertConfig

    shape = ModelShape.from_config(BertConfig(), "sst")
    seconds = estimates(shape, [512], METHODS, 50, gflops=100.0)
    layers = [seconds[f"sensitivity.{l}"] for l in range(12)]
    assert layers == sorted(layers) and layers[-1] > 10 * layers[0]
    assert seconds["core"] < seconds["sensitivity.0"] < seconds["saliency.integrated_gradients"]
    late = on_request(seconds, budget_s=settings().engine.part_budget_s)
    assert "core" not in late and "sensitivity.11" in late and "sensitivity.0" not in late


def test_a_layers_seconds_are_its_start_and_its_work_below_each_at_its_width():
    """seconds = FLOPs/rate x (1 + width/hidden) per kind of work; a deep layer's FLOPs are layer 0's (its
    start) plus l times one layer's work below; width_of inverts seconds_of for the part's own kind."""
    from transformers import BertConfig

    shape = ModelShape.from_config(BertConfig(), "sst")
    widths = {"core": 700.0, "sensitivity.start": 600.0, "sensitivity.below": 200.0}
    widths["saliency.integrated_gradients"] = 300.0
    lengths, gflops = [128], 100.0
    seconds = estimates(shape, lengths, METHODS, 50, gflops, widths)
    flops = {l: components(shape, sensitivity_part(l), lengths, METHODS, 50) for l in (0, 1, 5)}
    assert (
        list(flops[0]) == ["sensitivity.start"]
        and flops[5]["sensitivity.start"] == flops[0]["sensitivity.start"]
    )
    assert flops[5]["sensitivity.below"] == 5 * flops[1]["sensitivity.below"]  # linear in the depth
    start = flops[0]["sensitivity.start"] / 1e11 * (1 + 600 / 768)
    assert seconds["sensitivity.0"] == pytest.approx(start)
    assert seconds["sensitivity.5"] == pytest.approx(
        start + 5 * flops[1]["sensitivity.below"] / 1e11 * (1 + 200 / 768)
    )
    core = components(shape, CORE, lengths, METHODS, 50)
    assert seconds["core"] == pytest.approx(core["core"] / 1e11 * (1 + 700 / 768))
    at_rate = estimates(shape, lengths, METHODS, 50, gflops)  # no widths: the matrix-product rate alone
    assert at_rate["core"] == pytest.approx(core["core"] / 1e11)
    for part in (CORE, saliency_part("integrated_gradients"), sensitivity_part(0), sensitivity_part(5)):
        flops = components(shape, part, lengths, METHODS, 50)
        own, width = width_of(flops, seconds[str(part)], shape, gflops, widths)
        assert own == list(flops)[-1] and width == pytest.approx(widths[own]), part
    # Faster than a tenth of the rate is noise: floored (and the start's share leaves nothing below it).
    assert width_of(flops, 1e-9, shape, gflops, widths) == ("sensitivity.below", pytest.approx(-0.9 * 768))


def test_part_budget_setting(monkeypatch):
    monkeypatch.delenv("INTERPBOARD_PART_BUDGET_S", raising=False)
    settings.cache_clear()
    try:
        assert settings().engine.part_budget_s == 30.0
        monkeypatch.setenv("INTERPBOARD_PART_BUDGET_S", "12.5")
        settings.cache_clear()
        assert settings().engine.part_budget_s == 12.5
    finally:
        monkeypatch.undo()
        settings.cache_clear()


def test_device_rate_is_measured_once_per_process():
    from interp.calibration import device_gflops

    first = device_gflops("cpu")
    assert first > 0.1 and device_gflops("cpu") == first  # cached: the same measurement
    assert device_gflops() == device_gflops(torch.device("cpu")) == first  # however the device is named


def test_each_kinds_width_is_measured_once_on_the_probe():
    """The probe's parts run through the engine (a failure there fails this), each kind gets a width."""
    from interp.calibration import device_widths
    from interp.probe import HIDDEN

    widths = device_widths("cpu")
    assert set(widths) == {"core", "saliency.integrated_gradients", "sensitivity.start", "sensitivity.below"}
    assert all(w >= -0.9 * HIDDEN for w in widths.values()) and device_widths("cpu") is widths


def test_a_worker_calibrates_at_its_start_and_a_first_estimate_waits_for_that_probe(monkeypatch):
    from interp import calibration

    probes = []

    def probe(device, repeats, least_s):
        probes.append(device)
        time.sleep(0.3)  # a first job's estimate arrives while the start-up probe runs
        return {"core": 1.0}

    monkeypatch.setattr(calibration, "_probe_widths", probe)
    monkeypatch.setattr(
        calibration, "_device_widths", functools.cache(calibration._device_widths.__wrapped__)
    )
    thread = calibration.calibrate_in_background(torch.device("cpu"))
    time.sleep(0.05)
    assert calibration.device_widths("cpu") == {"core": 1.0}
    thread.join(timeout=10)
    assert probes == ["cpu"]  # one probe, shared


def test_a_probe_that_cannot_run_leaves_the_matrix_product_rate(monkeypatch):
    """No job fails for want of an estimate: without the probe's widths, the rate alone (with a warning)."""
    from interp import calibration

    def broken(device):
        raise RuntimeError("no room for the probe")

    monkeypatch.setattr(calibration, "probe_subject", broken)
    with pytest.warns(RuntimeWarning, match="no room for the probe"):
        assert calibration._device_widths.__wrapped__("cpu", 4, 0.2) == {}
