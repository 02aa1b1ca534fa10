"""The same behaviour from both executors: embedded (threads) and Celery (a real worker process)."""

from __future__ import annotations

import threading
import time

import pytest

from interp.schema import AnalysisRequest, InputError
from tests.workers.support import QUICK, SLOW, TIMEOUT, wait_for
from workers import get_executor
from workers.executor import CeleryExecutor, EmbeddedExecutor, QueueFull

pytestmark = pytest.mark.slow


def test_submit_computes_once_then_serves_from_cache(executor):
    sub = executor.submit(QUICK)
    assert not sub.cached and sub.job_id and sub.status.state == "queued"
    status = executor.wait(sub.job_id, timeout=TIMEOUT)
    assert status.state == "done", status.error
    assert status.deliveries == 1 and status.progress == 1.0 and status.worker

    analysis = executor.result(sub.key)
    assert analysis.request == QUICK
    assert analysis.attention.shape[-1] == analysis.n_tokens
    assert set(analysis.saliency) == {"grad_norm"}
    meta = executor.store.get_meta(sub.key)
    assert meta["key"] == sub.key and meta["worker"] == status.worker and meta["compute_seconds"] >= 0

    again = executor.submit(QUICK)
    assert (again.key, again.cached, again.job_id) == (sub.key, True, None)


def test_identical_concurrent_submissions_share_one_job(executor):
    barrier = threading.Barrier(5)
    subs = []

    def submit() -> None:
        barrier.wait()
        subs.append(executor.submit(SLOW))

    threads = [threading.Thread(target=submit) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({s.key for s in subs}) == 1
    job_ids = {s.job_id for s in subs if not s.cached}
    assert len(job_ids) == 1, subs
    status = executor.wait(job_ids.pop(), timeout=TIMEOUT)
    assert status.state == "done", status.error
    assert status.deliveries == 1  # taken up by a worker exactly once: computed once
    assert executor.submit(SLOW).cached


@pytest.mark.parametrize(
    "request_",
    [
        AnalysisRequest(model="tiny-bert-mlm", task="mlm", text="the cat sat on the mat", mask_index=40),
        AnalysisRequest(model="tiny-bert-sst", task="sst", text="the movie was great", target="banana"),
    ],
    ids=["mask-index-beyond-text", "unknown-target-label"],
)
def test_request_failing_in_the_engine_is_an_error_status_and_never_cached(executor, request_):
    sub = executor.submit(request_)
    status = executor.wait(sub.job_id, timeout=TIMEOUT)
    assert status.state == "error" and status.error_kind == "input"
    assert status.error and "internal error" not in status.error
    assert executor.store.get_meta(sub.key) is None and executor.result(sub.key) is None
    # The key is free again: a new attempt is a new job, not the failed one.
    retry = executor.submit(request_)
    assert not retry.cached and retry.job_id != sub.job_id
    executor.wait(retry.job_id, timeout=TIMEOUT)


@pytest.mark.parametrize(
    "request_",
    [
        AnalysisRequest(model="no-such-model", task="sst", text="hi"),
        AnalysisRequest(model="tiny-bert-sst", task="mlm", text="the [MASK] sat"),
    ],
    ids=["unknown-model", "task-not-served"],
)
def test_invalid_request_is_refused_before_queueing(request_, embedded_env):
    executor = get_executor(reset=True)
    with pytest.raises(InputError):
        executor.submit(request_)
    executor.close()


def test_job_for_finds_the_job_computing_a_key(executor):
    sub = executor.submit(SLOW)
    assert executor.job_for(sub.key).job_id == sub.job_id
    assert executor.wait(sub.job_id, timeout=TIMEOUT).state == "done"
    assert executor.job_for(sub.key) is None


def test_cancel_running_job_stops_it_within_seconds_and_stores_nothing(executor):
    sub = executor.submit(SLOW)
    # Past the forward pass (its partial stored), before integrated gradients: the longest part, computed
    # last (the parts come cheapest first after the selected layer's sensitivity).
    running = wait_for(executor, sub.job_id, lambda s: s.finished or s.stage in ("forward", "sensitivity"))
    assert not running.finished, "the slow job ended before it could be cancelled"
    assert executor.partial(sub.key) is not None
    asked = time.monotonic()
    assert executor.cancel(sub.job_id)
    assert executor.status(sub.job_id).stage_text == "cancelling…"
    status = executor.wait(sub.job_id, timeout=TIMEOUT, poll=0.05)
    assert status.state == "cancelled" and time.monotonic() - asked < 5
    assert executor.store.get_meta(sub.key) is None and executor.partial(sub.key) is None
    assert not executor.cancel(sub.job_id)  # already over


def test_cancel_queued_job_never_runs(executor):
    busy = executor.submit(SLOW)
    wait_for(executor, busy.job_id, lambda s: s.state == "running")
    waiting = executor.submit(QUICK)
    assert executor.status(waiting.job_id).queue_position == 1
    assert executor.cancel(waiting.job_id)
    assert executor.status(waiting.job_id).state == "cancelled"

    assert executor.wait(busy.job_id, timeout=TIMEOUT).state == "done"
    # Give the worker a moment to take up (and skip) the cancelled job's message.
    time.sleep(1)
    cancelled = executor.status(waiting.job_id)
    assert cancelled.state == "cancelled" and cancelled.started_at is None
    assert executor.store.get_meta(waiting.key) is None


def test_partial_results_are_readable_while_running(executor):
    sub = executor.submit(SLOW)
    # Integrated gradients take a while, after the cheap parts: time enough to look.
    running = wait_for(executor, sub.job_id, lambda s: s.finished or s.stage in ("forward", "sensitivity"))
    assert not running.finished, "the slow job ended before it could be observed"
    partial = executor.partial(sub.key)
    assert partial.attention is not None and partial.predictions and partial.stages_done[0] == "forward"
    assert executor.result(sub.key) is None
    assert executor.wait(sub.job_id, timeout=TIMEOUT).state == "done"


def test_get_executor_follows_the_settings(embedded_env, redis_url, monkeypatch):
    first = get_executor(reset=True)
    assert isinstance(first, EmbeddedExecutor) and get_executor() is first
    monkeypatch.setenv("INTERPBOARD_BROKER", redis_url)
    celery = get_executor(reset=True)
    assert isinstance(celery, CeleryExecutor) and celery is not first
    monkeypatch.delenv("INTERPBOARD_BROKER")
    get_executor(reset=True).close()


def test_a_flooding_client_is_capped_and_does_not_starve_another(executor):
    """Client a fills its cap (the next is refused); client b's one job runs next, not behind a's."""
    executor.settings = executor.settings.model_copy(update={"max_queued_per_client": 3})
    first = executor.submit(SLOW, client="a")
    wait_for(executor, first.job_id, lambda s: s.state == "running")
    flood = [executor.submit(_quick(f"flood {i}"), client="a") for i in range(2)]
    with pytest.raises(QueueFull, match="3 jobs waiting or running"):
        executor.submit(_quick("one too many"), client="a")
    assert executor.submit(SLOW, client="a").job_id == first.job_id  # following a job is no new job
    other = executor.submit(_quick("another user's"), client="b")
    assert executor.status(other.job_id).queue_position == 1

    statuses = executor.wait_all([first.job_id, other.job_id] + [s.job_id for s in flood], timeout=TIMEOUT)
    assert all(s.state == "done" for s in statuses.values())
    started = sorted(statuses.values(), key=lambda s: s.started_at)
    assert [s.job_id for s in started[:2]] == [first.job_id, other.job_id]


def _quick(text: str) -> AnalysisRequest:
    return QUICK.model_copy(update={"text": text})
