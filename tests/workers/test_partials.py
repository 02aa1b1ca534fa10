"""A running job's partial results: each stage stores only the arrays it added."""

from __future__ import annotations

from typing import Any

import numpy as np

from cache import DiskStore
from tests.workers.support import QUICK
from workers.compute import JobContext, run_jobs
from workers.jobs import JobStatus
from workers.memory_records import MemoryJobRecords
from workers.settings import Settings


class RecordingStore(DiskStore):
    """A DiskStore that notes which arrays each put_partial call stores."""

    def __init__(self, directory: Any) -> None:
        super().__init__(directory)
        self.stages: list[tuple[list[str], set[str]]] = []

    def put_partial(self, key: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> int:
        self.stages.append((meta["stages_done"], set(arrays)))
        return super().put_partial(key, meta, arrays)


def test_a_later_stage_does_not_store_the_attention_again(tmp_path, tiny_registry):
    store = RecordingStore(tmp_path / "results")
    records = MemoryJobRecords()
    records.create(JobStatus(job_id="j", key="k", request=QUICK.to_dict()))
    run_jobs(["j"], JobContext(records, store, Settings(cache=str(tmp_path / "results")), worker="test:1"))
    assert records.get("j").state == "done", records.get("j").error

    # The core (forward and the cheap saliency) first, then each layer's sensitivity: the stack alone.
    (core_done, core), *layers = store.stages
    # the attention as q/k where the rebuild is exact (interp.qk_capture), else itself
    assert core_done == ["forward", "saliency"] and "saliency.grad_norm" in core
    assert "attention" in core or {"qk.q", "qk.k"} <= core
    final = store.get("k").arrays
    assert [arrays for _, arrays in layers] == [{"attention_sensitivity"}] * len(final["head_entropy"])
    assert core <= set(final) and "attention_sensitivity" in final
