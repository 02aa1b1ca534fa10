"""What callbacks need from the outside world: the executor, and decoded Analyses kept warm.

The browser only ever holds a cache key; every view asks here for the Analysis behind it.
A finished analysis changes only when a part is stored beside it (workers/part_store.py), which a
cheap look notices, so an in-process LRU of decoded ones saves re-reading and re-decoding the arrays
on every click.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from interp.lru import LoadingLRU
from interp.schema import Analysis
from workers import part_store

ANALYSIS_LRU_SIZE = 16
ANALYSIS_LRU_BYTES = 512 * 2**20  # one 512-token 12 × 12 analysis holds about 150 MB of attention
PARTIAL_LRU_SIZE = 4  # running jobs being watched at once


def analysis_bytes(analysis: Analysis) -> int:
    arrays = [
        analysis.attention,
        analysis.attention_sensitivity,
        *analysis.saliency.values(),
        *analysis.head_stats.values(),
    ]
    return sum(a.nbytes for a in arrays if a is not None)


class Services:
    def __init__(
        self,
        executor: Any = None,
        executor_factory: Callable[[], Any] | None = None,
        lru_size: int = ANALYSIS_LRU_SIZE,
        lru_bytes: int = ANALYSIS_LRU_BYTES,
    ) -> None:
        self._executor = executor
        self._factory = executor_factory
        self._lock = threading.Lock()
        # Final analyses by key; a running job's partial by (key, stages stored), decoded once each.
        self._lru: LoadingLRU[str, Analysis] = LoadingLRU(lambda: (lru_size, lru_bytes), size=analysis_bytes)
        self._partials: LoadingLRU[tuple[str, int], Analysis] = LoadingLRU(
            lambda: (PARTIAL_LRU_SIZE, lru_bytes), size=analysis_bytes
        )

    @property
    def executor(self) -> Any:
        """The job executor, created on first use (the app can start before Redis answers)."""
        if self._executor is None:
            with self._lock:
                if self._executor is None:
                    if self._factory is None:
                        from workers import get_executor

                        self._factory = get_executor
                    self._executor = self._factory()
        return self._executor

    def analysis(self, key: str | None) -> Analysis | None:
        """The final Analysis for `key`, else what a running job has produced so far, else None.

        The page's views ask for the same key at the same moment; one of them reads and decodes it
        (a second or more at 512 tokens), the others wait and take it from the LRU. The same for a
        partial, once per stage the job has stored.
        """
        if not key:
            return None
        final = self._lru.get_or_load(key, lambda: self.executor.result(key))
        if final is not None and part_store.landed(self.executor.store, key, final):
            self._lru.pop(key)  # a part stored beside it since: read it again, merged
            final = self._lru.get_or_load(key, lambda: self.executor.result(key))
        if final is not None:
            return final
        stages = self.executor.store.partial_stages(key)
        if not stages:
            return None
        return self._partials.get_or_load((key, stages), lambda: self.executor.partial(key))

    def forget(self, key: str) -> None:
        self._lru.pop(key)
