"""Analyses computed in parts by the job layer: the core stored first, the page's parts next, parts over
the budget offered, parts on request (stored, merged, deduplicated, cancelled, recomputed after eviction)."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from cache import DiskStore
from interp.schema import AnalysisRequest
from tests.workers.support import SLOW_IG, TIMEOUT, wait_for
from workers.compute import JobContext, run_jobs
from workers.executor import EmbeddedExecutor, request_key
from workers.job_status import Focus, JobStatus
from workers.memory_records import MemoryJobRecords
from workers.settings import Settings

ALL = AnalysisRequest(
    model="tiny-bert-sst",
    task="sst",
    text="the movie was great and the actors were good",
    methods=("grad_norm", "integrated_gradients", "attention_sensitivity"),
    ig_steps=8,
)


class RecordingStore(DiskStore):
    """A DiskStore that notes the part states of each partial it stores."""

    def __init__(self, directory: Any) -> None:
        super().__init__(directory)
        self.partials: list[dict[str, str]] = []

    def put_partial(self, key: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> int:
        self.partials.append({name: part["state"] for name, part in meta["parts"].items()})
        return super().put_partial(key, meta, arrays)


def run_one(tmp_path, request, focus=None, budget=1e6, store=None):
    store = store or DiskStore(tmp_path / "results")
    records = MemoryJobRecords()
    key = request_key(request)
    records.create(JobStatus(job_id="j", key=key, request=request.to_dict(), focus=focus))
    ctx = JobContext(
        records, store, Settings(cache=str(tmp_path / "results")), "test:1", part_budget_s=budget
    )
    run_jobs(["j"], ctx)
    assert records.get("j").state == "done", records.get("j").error
    return store, key


def test_core_first_then_the_pages_parts_then_the_rest_cheapest_first(tmp_path, tiny_registry):
    store = RecordingStore(tmp_path / "results")
    run_one(tmp_path, ALL, Focus(layer=1, method="integrated_gradients"), store=store)
    done = [sorted(n for n, s in states.items() if s == "done") for states in store.partials]
    assert done[0] == ["core"]  # the core alone, stored before any part
    assert set(done[1]) - {"core"} == {"saliency.integrated_gradients"}  # the selected method
    assert set(done[2]) - set(done[1]) == {"sensitivity.1"}  # the selected layer
    assert set(done[3]) - set(done[2]) == {"sensitivity.0"}  # then the rest
    assert all(s == "queued" for n, s in store.partials[0].items() if n != "core")


def test_every_part_done_is_the_full_analysis(tmp_path, tiny_registry):
    from interp.engine import analyze

    store, key = run_one(tmp_path, ALL, Focus(layer=1))
    record = store.get(key)
    assert {part["state"] for part in record.meta["parts"].values()} == {"done"}
    full_meta, full = analyze(ALL).to_record()
    assert set(record.arrays) == set(full)
    for name, values in full.items():
        np.testing.assert_allclose(record.arrays[name], values, rtol=1e-3, atol=1e-5, err_msg=name)
    assert record.meta["predictions"] == full_meta["predictions"]


def test_parts_over_the_budget_are_offered_with_their_estimate_not_computed(tmp_path, tiny_registry):
    from workers import part_store

    store, key = run_one(tmp_path, ALL, budget=1e-9)
    record = store.get(key)
    parts = record.meta["parts"]
    assert parts["core"]["state"] == "done"
    offered = {n: p for n, p in parts.items() if n != "core"}
    layers = len(record.arrays["head_entropy"])  # [layers, heads]
    assert set(offered) == {"saliency.integrated_gradients", *(f"sensitivity.{l}" for l in range(layers))}
    assert all(p["state"] == "offered" and p["estimate_s"] > 0 for p in offered.values())
    assert (
        "attention_sensitivity" not in record.arrays and "saliency.integrated_gradients" not in record.arrays
    )
    analysis = part_store.read(store, key)
    assert analysis.sensitivity_of(0) is None and set(analysis.saliency) == {"grad_norm"}


@pytest.fixture
def offered_executor(executor):
    """Each executor (embedded; Celery with a real worker) with an analysis of ALL whose sensitivity is
    computed for layer 0 only (the others offered)."""
    sub = executor.submit(ALL, focus=Focus(layers=[0]))
    assert executor.wait(sub.job_id, timeout=TIMEOUT).state == "done"
    return executor, sub.key


def test_a_part_on_request_is_stored_beside_and_merged_into_its_analysis(offered_executor):
    from interp.engine import analyze

    ex, key = offered_executor
    assert ex.part_states(key)["sensitivity.1"]["state"] == "offered"
    assert ex.result(key).sensitivity_of(1) is None
    later = [f"sensitivity.{l}" for l in range(1, ex.result(key).num_layers)]
    subs = ex.request_parts(ALL, later)
    assert [s.key for s in subs] == [f"{key}.{name}" for name in later] and not any(s.cached for s in subs)
    assert {s.state for s in ex.wait_all([s.job_id for s in subs], timeout=TIMEOUT).values()} == {"done"}
    assert ex.store.stored_parts(key, later) == later
    analysis = ex.result(key)
    full = analyze(ALL).attention_sensitivity
    # Both kept at the store's float16 grid (2**-11 of each layer's largest value).
    np.testing.assert_allclose(analysis.attention_sensitivity, full, atol=2.0**-10 * float(full.max()))
    assert ex.part_states(key)["sensitivity.1"]["state"] == "done"
    assert ex.request_parts(ALL, ["sensitivity.1"])[0].cached  # asked again: there already
    assert [row["key"] for row in ex.store.index()] == [key]  # History lists the analysis once
    assert ex.store.delete(key) and ex.store.stored_parts(key, ["sensitivity.1"]) == []


def test_concurrent_requests_for_a_part_run_one_job(offered_executor):
    ex, _key = offered_executor
    barrier = threading.Barrier(4)
    subs = []

    def ask() -> None:
        barrier.wait()
        subs.extend(ex.request_parts(ALL, ["sensitivity.1"]))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    jobs = {s.job_id for s in subs if not s.cached}
    assert len(jobs) == 1, subs
    status = ex.wait(jobs.pop(), timeout=TIMEOUT)
    assert status.state == "done" and status.deliveries == 1


def test_unknown_parts_are_refused(offered_executor):
    ex, _key = offered_executor
    for bad in (["sensitivity.7"], ["saliency.grad_norm"], ["core"]):
        with pytest.raises(ValueError):
            ex.request_parts(ALL, bad)


def test_a_cancelled_part_stores_nothing(embedded_env, tiny_registry, tiny_budget):
    ex = EmbeddedExecutor(Settings())
    try:
        sub = ex.submit(SLOW_IG)
        assert ex.wait(sub.job_id, timeout=TIMEOUT).state == "done"
        assert ex.part_states(sub.key)["saliency.integrated_gradients"]["state"] == "offered"
        [part] = ex.request_parts(SLOW_IG, ["saliency.integrated_gradients"])
        running = wait_for(ex, part.job_id, lambda s: s.finished or s.state == "running")
        assert not running.finished
        assert ex.part_states(sub.key)["saliency.integrated_gradients"]["state"] == "running"
        assert ex.cancel(part.job_id)
        assert ex.wait(part.job_id, timeout=TIMEOUT).state == "cancelled"
        assert ex.store.stored_parts(sub.key, ["saliency.integrated_gradients"]) == []
        assert "integrated_gradients" not in ex.result(sub.key).saliency
        assert ex.part_states(sub.key)["saliency.integrated_gradients"]["state"] == "offered"
    finally:
        ex.close()


def test_a_part_asked_after_its_analysis_was_evicted_recomputes_it(offered_executor):
    ex, key = offered_executor
    assert ex.store.delete(key)  # as an eviction would
    [sub] = ex.request_parts(ALL, ["sensitivity.1"])
    assert ex.wait(sub.job_id, timeout=TIMEOUT).state == "done"
    analysis = ex.result(key)
    assert analysis is not None and analysis.predictions and analysis.sensitivity_of(1) is not None
    states = ex.part_states(key)
    assert states["core"]["state"] == states["sensitivity.1"]["state"] == "done"
    assert states["sensitivity.0"]["state"] == "offered"


def test_a_lost_part_job_is_requeued_keeps_its_claim_and_completes(tmp_path, tiny_registry):
    from workers.liveness import Reaper

    store, key = run_one(tmp_path, ALL, Focus(layers=[0]))
    records = MemoryJobRecords(lost_after=0.05)
    entry = f"{key}.sensitivity.1"
    status = JobStatus(job_id="p", key=entry, request=ALL.to_dict(), part="sensitivity.1")
    records.create(status)
    assert records.claim(entry, "p") is None
    records.enqueue(status)
    records.start("p", "gone:1")  # its worker dies without a beat
    sent: list[list[str]] = []
    quick = Settings(lost_after=0.05, heartbeat_interval=0.01)
    reaper = Reaper(records, quick, lambda s: sent.append([j.job_id for j in s]))
    time.sleep(0.1)
    assert reaper.look(records.get("p")).state == "queued" and sent == [["p"]]
    assert records.holder(entry) == "p"  # a second ask still follows it
    ctx = JobContext(records, store, Settings(cache=str(tmp_path / "results")), "test:2", part_budget_s=1e6)
    run_jobs(["p"], ctx)
    done = records.get("p")
    assert done.state == "done" and done.deliveries == 2 and records.holder(entry) is None
    assert store.stored_parts(key, ["sensitivity.1"]) == ["sensitivity.1"]


def test_estimates_follow_the_widths_parts_ran_at(tmp_path, tiny_registry, monkeypatch):
    """Before anything ran, each kind of work at the calibration probe's overhead width; once the worker has
    run a part of a model, its kind at the width it ran at there (FLOPs-weighted over its runs): the same
    part's estimate is the time it took, deeper layers add their "below" FLOPs at the width a deep layer ran
    at, and a model that has not run the kind takes the median of the probe's width and the models' that did
    (widths and times injected: no timing is asserted)."""
    from interp import calibration
    from interp.cost import estimates
    from interp.part_names import SENSITIVITY_METHOD, saliency_part, sensitivity_part
    from interp.parts import prepare

    monkeypatch.setattr(calibration, "_observed", {})  # this process's earlier tests ran parts too
    probe = {"core": 500.0, "sensitivity.start": 600.0, "sensitivity.below": 200.0}
    probe["saliency.integrated_gradients"] = 300.0
    monkeypatch.setattr(calibration, "device_widths", lambda device: probe)
    text = "the movie was great and the actors were good"
    ig = AnalysisRequest("tiny-bert-sst", "sst", text, methods=("integrated_gradients",), ig_steps=200)
    later = prepare(ig.with_(ig_steps=400, methods=("integrated_gradients", SENSITIVITY_METHOD)))
    shape, gflops = calibration.shape_of(later), calibration.device_gflops(str(later.lm.device))
    rate = gflops * 1e9
    at_probe = estimates(shape, later.item.lengths, later.request.methods, 400, gflops, probe)
    assert calibration.subject_estimates(later) == pytest.approx(at_probe)
    run_one(tmp_path, ig)  # the worker observes each part it runs
    assert calibration.subject_estimates(later)["saliency.integrated_gradients"] != pytest.approx(
        at_probe["saliency.integrated_gradients"]
    )

    monkeypatch.setattr(calibration, "_observed", {})  # from here, injected times only
    ran = prepare(ig)
    calibration.observe(ran, saliency_part("integrated_gradients"), 3.0)  # as if 200 steps took 3 s
    calibration.observe(ran, sensitivity_part(0), 2.0)
    twice = calibration.subject_flops(
        later, saliency_part("integrated_gradients")
    ) / calibration.subject_flops(ran, saliency_part("integrated_gradients"))
    estimated = calibration.subject_estimates(later)
    assert estimated["saliency.integrated_gradients"] == pytest.approx(3.0 * twice) and 1.9 < twice < 2.1
    assert estimated["sensitivity.0"] == pytest.approx(2.0)  # the same work: the seconds it took
    below = calibration.subject_components(later, sensitivity_part(1))["sensitivity.below"]
    assert estimated["sensitivity.1"] == pytest.approx(2.0 + below / rate * (1 + 200 / shape.hidden))
    calibration.observe(ran, sensitivity_part(1), 5.0)
    estimated = calibration.subject_estimates(later)
    assert estimated["sensitivity.1"] == pytest.approx(5.0)
    assert estimated["sensitivity.2"] == pytest.approx(2.0 + 2 * 3.0)  # twice layer 1's work below

    width = lambda flops, seconds: shape.hidden * (seconds * rate / flops - 1)  # noqa: E731
    other = prepare(
        AnalysisRequest("tiny-bert-mlm", "mlm", "the movie was [MASK]", methods=(SENSITIVITY_METHOD,))
    )
    widths = calibration.widths_for(other)  # run on tiny-bert-sst only: the median of it and the probe
    assert widths["sensitivity.below"] == pytest.approx((200 + width(below, 3.0)) / 2)
    assert widths["core"] == probe["core"]  # no model ran a core
    short = prepare(ig.with_(text="the movie"))  # a shorter run, weighted by its FLOPs
    start_s = calibration.subject_components(short, sensitivity_part(0))["sensitivity.start"]
    start_s *= (1 + width(calibration.subject_flops(ran, sensitivity_part(0)), 2.0) / shape.hidden) / rate
    calibration.observe(short, sensitivity_part(1), start_s + 1.0)  # 1 s below
    below_short = calibration.subject_components(short, sensitivity_part(1))["sensitivity.below"]
    assert below_short < below / 2 and calibration.widths_for(ran)["sensitivity.below"] == pytest.approx(
        (below * width(below, 3.0) + below_short * width(below_short, 1.0)) / (below + below_short)
    )


def test_an_analysis_jobs_offered_parts_are_estimated_at_the_speed_its_parts_ran_at(
    tmp_path, tiny_registry, monkeypatch
):
    """The job computes layer 1 only; the layers it offers carry estimates from the width layer 1 ran at,
    not the ones planned before it ran."""
    from interp import calibration
    from interp.parts import prepare

    monkeypatch.setattr(calibration, "_observed", {})  # nothing of tiny-bert-sst observed yet
    before = calibration.subject_estimates(prepare(ALL))
    store, key = run_one(tmp_path, ALL, Focus(layers=[1]))
    parts = store.get(key).meta["parts"]
    after = calibration.subject_estimates(prepare(ALL))
    assert parts["sensitivity.1"]["state"] == "done" and parts["sensitivity.2"]["state"] == "offered"
    assert parts["sensitivity.2"]["estimate_s"] == pytest.approx(after["sensitivity.2"], rel=1e-2)
    assert after["sensitivity.2"] != pytest.approx(before["sensitivity.2"], rel=0.1)
