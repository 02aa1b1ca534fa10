"""put/get/get_meta/contains/delete and partials, on both backends."""

from __future__ import annotations

import numpy as np
import pytest

from cache import Record, codec
from cache.base import META_HEAD_BYTES
from tests.cache.conftest import assert_same_arrays, make_arrays, make_meta

KEY = "a" * 64


def test_roundtrip_keeps_dtypes_shapes_values_and_meta(store):
    meta, arrays = make_meta(KEY), make_arrays()
    arrays |= {
        "flags": np.array([True, False, True]),
        "ids": np.arange(-3, 3, dtype=np.int64).reshape(2, 3),
        "scalar": np.array(2.5, dtype=np.float64),
        "empty": np.zeros((0, 4), dtype=np.float16),
        "big_endian": np.arange(4, dtype=">f4"),
        "strided": np.arange(12, dtype=np.float32).reshape(3, 4).T,
    }
    stored = store.put(KEY, meta, arrays)
    assert stored > 0
    record = store.get(KEY)
    assert isinstance(record, Record)
    assert record.meta == meta
    want = arrays | {"big_endian": arrays["big_endian"].astype("<f4")}
    assert_same_arrays(record.arrays, want)


def test_special_values_survive(store):
    values = np.array([np.nan, np.inf, -np.inf, -0.0, 6e-8, 65504], dtype=np.float16)
    store.put(KEY, make_meta(KEY), {"v": values})
    got = store.get(KEY).arrays["v"]
    assert got.tobytes() == values.tobytes()


def test_get_meta_contains_and_missing(store):
    assert store.get(KEY) is None
    assert store.get_meta(KEY) is None
    assert not store.contains(KEY)
    meta = make_meta(KEY, text="Ünïcode ✓ text")
    store.put(KEY, meta, make_arrays())
    assert store.contains(KEY)
    assert store.get_meta(KEY) == meta


def test_get_meta_of_a_big_value_reads_only_its_head(store, monkeypatch):
    rng = np.random.default_rng(1)
    arrays = {
        "attention": rng.random((4, 4, 256, 256)).astype(np.float16)
    }  # ~2 MB: no compression shrinks noise
    meta = make_meta(KEY)
    assert store.put(KEY, meta, arrays) > 4 * META_HEAD_BYTES
    monkeypatch.setattr(store, "_read", lambda key: pytest.fail("get_meta read the whole value"))
    assert store.get_meta(KEY) == meta


def test_get_meta_larger_than_the_head_falls_back_to_the_whole_value(store):
    noise = np.random.default_rng(2).integers(0x4E00, 0x9FFF, size=3 * META_HEAD_BYTES)  # incompressible text
    meta = make_meta(KEY, text="".join(map(chr, noise)))
    store.put(KEY, meta, make_arrays())
    assert store.get_meta(KEY) == meta


def test_put_overwrites(store):
    store.put(KEY, make_meta(KEY, text="first"), make_arrays(seed=1))
    store.put(KEY, make_meta(KEY, text="second"), make_arrays(seed=2))
    record = store.get(KEY)
    assert record.meta["request"]["text"] == "second"
    assert_same_arrays(record.arrays, make_arrays(seed=2))
    assert store.count() == 1


def test_delete(store):
    store.put(KEY, make_meta(KEY), make_arrays())
    store.put_partial(KEY, make_meta(KEY), make_arrays())
    assert store.delete(KEY) is True
    assert store.get(KEY) is None
    assert store.get_partial(KEY) is None
    assert store.index() == []
    assert store.delete(KEY) is False


def test_partial_then_final_put_removes_partial(store):
    assert store.get_partial(KEY) is None
    first = {"attention": make_arrays()["attention"]}
    store.put_partial(KEY, make_meta(KEY) | {"stages_done": ["forward"]}, first)
    partial = store.get_partial(KEY)
    assert partial.meta["stages_done"] == ["forward"]
    assert_same_arrays(partial.arrays, first)
    assert store.get(KEY) is None, "a partial is not a result"
    assert store.index() == [], "partials are not listed"

    store.put(KEY, make_meta(KEY), make_arrays())
    assert store.get_partial(KEY) is None
    assert store.get(KEY) is not None


def test_partial_stages_are_stored_apart_and_read_merged(store):
    """A later stage stores only its new arrays; a reader gets every stage's arrays and the latest meta."""
    arrays = make_arrays()
    forward = {"attention": arrays["attention"]}
    saliency = {name: values for name, values in arrays.items() if name != "attention"}
    store.put_partial(KEY, make_meta(KEY) | {"stages_done": ["forward"]}, forward)
    store.put_partial(KEY, make_meta(KEY) | {"stages_done": ["forward", "saliency"]}, saliency)

    assert store.partial_stages(KEY) == 2
    stored = [codec.decode(blob).arrays for blob in store._read_partials(KEY)]
    assert [set(stage) for stage in stored] == [set(forward), set(saliency)]  # the attention once
    partial = store.get_partial(KEY)
    assert partial.meta["stages_done"] == ["forward", "saliency"]
    assert_same_arrays(partial.arrays, arrays)

    store.put(KEY, make_meta(KEY), arrays)
    assert store.partial_stages(KEY) == 0 and store.get_partial(KEY) is None
    store.put_partial(KEY, make_meta(KEY), forward)  # a new job for the key starts at stage 0 again
    assert store.partial_stages(KEY) == 1 and set(store.get_partial(KEY).arrays) == set(forward)


@pytest.mark.parametrize("bad", ["", "has space", "a/b", "a:b", "x" * 201, None, 42, b"bytes"])
def test_invalid_keys_are_refused(store, bad):
    with pytest.raises(ValueError, match="invalid cache key"):
        store.put(bad, make_meta(), make_arrays())
    with pytest.raises(ValueError, match="invalid cache key"):
        store.get(bad)


@pytest.mark.parametrize(
    ("meta", "arrays", "message"),
    [
        ([1, 2], {}, "meta must be a dict"),
        ({"x": object()}, {}, "not JSON-serialisable"),
        ({}, {"a": np.array(["text"])}, "only numeric and bool"),
        ({}, {"a": np.array([None, 1])}, "only numeric and bool"),
        ({}, {"a": [1.0, 2.0]}, "must be a numpy array"),
        ({}, {"__metadata__": np.zeros(1)}, "not allowed"),
        ({}, {3: np.zeros(1)}, "not allowed"),
        ({"created_at": "yesterday"}, {}, "created_at"),
    ],
)
def test_bad_values_raise_clear_errors_and_store_nothing(store, meta, arrays, message):
    with pytest.raises((TypeError, ValueError), match=message):
        store.put(KEY, meta, arrays)
    assert store.get(KEY) is None
    assert not store.contains(KEY)
    assert store.index() == []


def test_failed_put_keeps_previous_value(store):
    store.put(KEY, make_meta(KEY, text="good"), make_arrays())
    with pytest.raises(ValueError):
        store.put(KEY, make_meta(KEY, text="bad"), make_arrays() | {"broken": np.array(["x"])})
    assert store.get(KEY).meta["request"]["text"] == "good"
    assert [row["text"] for row in store.index()] == ["good"]


def test_ping(store):
    assert store.ping() is True


def test_parts_are_stored_beside_their_analysis_unlisted_and_deleted_with_it(store):
    meta = make_meta(KEY) | {"parts": {"core": {"state": "done"}, "sensitivity.3": {"state": "offered"}}}
    store.put(KEY, meta, make_arrays())
    values = np.arange(9, dtype=np.float32).reshape(3, 3)
    assert store.stored_parts(KEY, ["sensitivity.3", "sensitivity.4"]) == []
    store.put_part(KEY, "sensitivity.3", {"part": "sensitivity.3"}, {"values": values})
    assert store.stored_parts(KEY, ["sensitivity.3", "sensitivity.4"]) == ["sensitivity.3"]
    part = store.get_part(KEY, "sensitivity.3")
    assert part.meta == {"part": "sensitivity.3"} and np.array_equal(part.arrays["values"], values)
    assert [row["key"] for row in store.index()] == [KEY]  # History lists the analysis, not its parts
    assert store.delete(KEY)
    assert store.get_part(KEY, "sensitivity.3") is None and store.stored_parts(KEY, ["sensitivity.3"]) == []
