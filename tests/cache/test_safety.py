"""No pickle is ever loaded, foreign values are misses, and writes are all-or-nothing."""

from __future__ import annotations

import pickle
import threading

import diskcache
import numpy as np
import pytest
import redis

from cache import codec
from cache.redis_store import partial_name, value_name
from tests.cache.conftest import make_arrays, make_meta

KEY = "f" * 64
UNPICKLED: list[str] = []


def _record_unpickling(payload: str) -> str:
    UNPICKLED.append(payload)
    return payload


class Booby:
    """Unpickling this calls _record_unpickling: proof that a loader ran pickle."""

    def __init__(self, padding: int) -> None:
        self.padding = padding

    def __reduce__(self):
        return _record_unpickling, ("x" * self.padding,)


def plant(store_url: str, name: str | bytes, value: object) -> None:
    """Write straight into the backend, past the store: the way a careless or hostile client would."""
    if store_url.startswith("redis://"):
        redis.Redis.from_url(store_url).set(name, pickle.dumps(value))
    else:
        with diskcache.Cache(store_url) as plain:  # default Disk: pickles the object (MODE_PICKLE)
            plain.set(name, value)


@pytest.fixture(autouse=True)
def no_unpickling():
    UNPICKLED.clear()
    yield
    assert UNPICKLED == [], "a pickle was loaded"


@pytest.mark.parametrize("padding", [10, 100_000], ids=["in-db", "in-file"])
def test_planted_pickle_is_rejected_not_loaded(store, store_url, padding, caplog):
    redis_backend = store_url.startswith("redis://")
    plant(store_url, value_name(KEY) if redis_backend else KEY, Booby(padding))
    if redis_backend:  # a partial's stages are fields of one hash
        redis.Redis.from_url(store_url).hset(partial_name(KEY), "0", pickle.dumps(Booby(padding)))
    else:  # a stage count of one, then stage 0
        plant(store_url, f"partials:{KEY}", b"1")
        plant(store_url, f"partials:{KEY}:0", Booby(padding))
    assert store.get(KEY) is None
    assert store.get_meta(KEY) is None
    assert store.get_partial(KEY) is None
    assert "rejected" in caplog.text
    store.put(KEY, make_meta(KEY), make_arrays())  # a real result replaces it
    assert store.get(KEY) is not None


@pytest.mark.parametrize(
    "blob",
    [b"", b"garbage", codec.MAGIC + b"\x02rest", codec.HEADER + b"not zstd", b"\x80\x04K\x01."],
    ids=["empty", "garbage", "future-version", "damaged", "raw-pickle"],
)
def test_foreign_bytes_are_a_miss(store, store_url, blob):
    if store_url.startswith("redis://"):
        redis.Redis.from_url(store_url).set(value_name(KEY), blob)
    else:
        with diskcache.Cache(store_url) as plain:
            plain.set(KEY, blob)
    assert store.get(KEY) is None
    assert store.get_meta(KEY) is None


def test_truncated_value_is_a_miss(store, store_url):
    store.put(KEY, make_meta(KEY), make_arrays(n=40))
    if store_url.startswith("redis://"):
        client = redis.Redis.from_url(store_url)
        client.set(value_name(KEY), client.get(value_name(KEY))[:-50])
    else:
        with diskcache.Cache(store_url) as plain:
            plain.set(KEY, plain.get(KEY)[:-50])
    assert store.get(KEY) is None


def test_disk_backend_refuses_to_write_non_bytes(tmp_path):
    from cache.disk_store import DiskStore

    store = DiskStore(tmp_path)
    with pytest.raises(TypeError, match="bytes only"):
        store._cache.set(KEY, {"not": "bytes"})


def test_reader_never_sees_a_partial_record(store):
    """Best effort: a reader polling while a writer rewrites sees whole old or whole new records."""
    versions = [make_arrays(n=48, seed=seed) for seed in range(2)]
    store.put(KEY, make_meta(KEY, text="v0"), versions[0])
    stop, seen, problems = threading.Event(), set(), []

    def read() -> None:
        while not stop.is_set():
            record = store.get(KEY)
            if record is None:
                problems.append("missing")
                continue
            version = int(record.meta["request"]["text"][1:])
            seen.add(version)
            for name, array in versions[version].items():
                if not np.array_equal(record.arrays[name], array):
                    problems.append(f"v{version} {name} differs")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(30):
            store.put(KEY, make_meta(KEY, text=f"v{i % 2}"), versions[i % 2])
    finally:
        stop.set()
        reader.join()
    assert problems == []
    assert seen


def test_put_that_fails_midway_leaves_nothing(store):
    arrays = make_arrays() | {"unencodable": np.array([object()])}
    with pytest.raises(ValueError):
        store.put(KEY, make_meta(KEY), arrays)
    assert not store.contains(KEY)
    assert store.get_meta(KEY) is None
    assert store.count() == 0


def test_put_interrupted_inside_the_transaction_leaves_nothing(store, monkeypatch):
    """The backend write fails half-way: Redis after queueing the value, before the index entry;
    diskcache after writing the value's file, before its row. Nothing becomes visible."""
    if type(store).__name__ == "RedisStore":
        import redis.client

        monkeypatch.setattr(redis.client.Pipeline, "zadd", _boom)
    else:
        monkeypatch.setattr(diskcache.Cache, "_row_insert", _boom)
    with pytest.raises(RuntimeError, match="interrupted"):
        store.put(KEY, make_meta(KEY), make_arrays())
    monkeypatch.undo()
    assert not store.contains(KEY)
    assert store.count() == 0


def _boom(*args, **kwargs):
    raise RuntimeError("interrupted")
