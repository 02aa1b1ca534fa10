"""What callbacks need from the outside world: the executor, and decoded Analyses kept warm.

The browser only ever holds a cache key; every view asks here for the Analysis behind it.
Finished analyses are immutable, so an in-process LRU of decoded ones saves re-reading and
re-decoding the arrays on every click.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable

from interp.schema import Analysis

ANALYSIS_LRU_SIZE = 16
ANALYSIS_LRU_BYTES = 512 * 2**20  # one 512-token 12 × 12 analysis holds about 150 MB of attention


def analysis_bytes(analysis: Analysis) -> int:
    arrays = [analysis.attention, analysis.attention_sensitivity, *analysis.saliency.values(), *analysis.head_stats.values()]
    return sum(a.nbytes for a in arrays if a is not None)


class Services:
    def __init__(self, executor: Any = None, executor_factory: Callable[[], Any] | None = None,
                 lru_size: int = ANALYSIS_LRU_SIZE, lru_bytes: int = ANALYSIS_LRU_BYTES) -> None:
        self._executor = executor
        self._factory = executor_factory
        self._lru: OrderedDict[str, Analysis] = OrderedDict()
        self._lru_size = lru_size
        self._lru_bytes = lru_bytes
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}  # one reader per key; the other callbacks wait for it

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

    def _cached(self, key: str) -> Analysis | None:
        with self._lock:
            if key in self._lru:
                self._lru.move_to_end(key)
                return self._lru[key]
            return None

    def analysis(self, key: str | None) -> Analysis | None:
        """The final Analysis for `key`, else what a running job has produced so far, else None.

        The page's views ask for the same key at the same moment; one of them reads and decodes it
        (a second or more at 512 tokens), the others wait and take it from the LRU.
        """
        if not key:
            return None
        if (found := self._cached(key)) is not None:
            return found
        with self._lock:
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            try:
                if (found := self._cached(key)) is not None:
                    return found
                final = self.executor.result(key)
                if final is None:
                    return self.executor.partial(key)
                with self._lock:
                    self._lru[key] = final
                    # Oldest out first, until both limits hold; the newest always stays.
                    while len(self._lru) > 1 and (len(self._lru) > self._lru_size
                                                  or sum(map(analysis_bytes, self._lru.values())) > self._lru_bytes):
                        self._lru.popitem(last=False)
                return final
            finally:
                with self._lock:  # running jobs' keys too: the table of locks must not grow with every key seen
                    self._loading.pop(key, None)

    def forget(self, key: str) -> None:
        with self._lock:
            self._lru.pop(key, None)
