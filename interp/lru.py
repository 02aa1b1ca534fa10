"""A size-bounded LRU whose misses are loaded by one thread per key while the others wait.

Torch-free and project-free, so the web (decoded analyses) and the engine (loaded models) share it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LoadingLRU(Generic[K, V]):
    """Values by key, least recently used out first while over either limit; the newest always stays.

    `limits()` gives (most items, most total size) and is asked at every eviction, so limits read
    from the environment follow it; `size(value)` measures one value; `on_evict(value)` runs for
    each value dropped (under the lock: keep it short).
    """

    def __init__(
        self,
        limits: Callable[[], tuple[int, float]],
        size: Callable[[V], float] = lambda _: 0,
        on_evict: Callable[[V], None] | None = None,
    ) -> None:
        self._limits = limits
        self._size = size
        self._on_evict = on_evict
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[K, threading.Lock] = {}

    def get(self, key: K) -> V | None:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            return None

    def get_or_load(self, key: K, load: Callable[[], V | None]) -> V | None:
        """The value for key, from `load()` on a miss; a None from load is returned, not kept.

        Concurrent misses on one key run one load and the others take its value; misses on other
        keys do not wait for it. A load that raises lets the next waiter try again.
        """
        if (found := self.get(key)) is not None:
            return found
        with self._lock:
            loading = self._loading.setdefault(key, threading.Lock())
        try:
            with loading:
                if (found := self.get(key)) is not None:
                    return found
                value = load()
                if value is not None:
                    self.put(key, value)
                return value
        finally:
            with self._lock:  # the table of loader locks must not grow with every key ever missed
                self._loading.pop(key, None)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            most, most_size = self._limits()
            while len(self._values) > 1 and (
                len(self._values) > most or sum(map(self._size, self._values.values())) > most_size
            ):
                _, dropped = self._values.popitem(last=False)
                if self._on_evict is not None:
                    self._on_evict(dropped)

    def shed(self, amount: float) -> float:
        """Drop least recently used values until at least `amount` of size has gone, and none when all
        of them would not reach it; returns the size dropped. Makes room for a load the limits allow."""
        dropped_size = 0.0
        with self._lock:
            if sum(map(self._size, self._values.values())) < amount:
                return 0.0
            while dropped_size < amount:
                _, dropped = self._values.popitem(last=False)
                dropped_size += self._size(dropped)
                if self._on_evict is not None:
                    self._on_evict(dropped)
        return dropped_size

    def pop(self, key: K) -> V | None:
        with self._lock:
            return self._values.pop(key, None)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._values

    def __iter__(self) -> Iterator[K]:
        """The keys, least recently used first (a snapshot)."""
        with self._lock:
            return iter(list(self._values))

    def __len__(self) -> int:
        return len(self._values)
