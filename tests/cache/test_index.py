"""The History index: newest first, filters, paging, counts, and entries whose value is gone."""

from __future__ import annotations

import diskcache
import pytest
import redis

from cache.redis_store import value_name
from tests.cache.conftest import make_arrays, make_meta

ENTRIES = [  # key, model, task, text, pair, created_at
    ("k1", "tiny-bert-mlm", "mlm", "The cat sat on the [MASK]", None, 100.0),
    ("k2", "tiny-bert-sst", "sst", "What a WONDERFUL film", None, 300.0),
    ("k3", "tiny-bert-mnli", "mnli", "A man plays guitar", "Someone makes music", 200.0),
    ("k4", "tiny-bert-mlm", "mlm", "Straße in München [MASK]", None, 400.0),
    ("k5", "tiny-gpt2", "causal-lm", "Once upon a time", None, 250.0),
]


@pytest.fixture
def filled(store):
    for key, model, task, text, pair, created_at in ENTRIES:
        store.put(
            key,
            make_meta(key, model=model, task=task, text=text, pair=pair, created_at=created_at),
            make_arrays(n=3),
        )
    return store


def keys(rows):
    return [row["key"] for row in rows]


def test_newest_first_with_row_fields(filled):
    rows = filled.index()
    assert keys(rows) == ["k4", "k2", "k5", "k3", "k1"]
    row = rows[3]
    assert row | {"stored_bytes": 0} == row | {
        "key": "k3",
        "model": "tiny-bert-mnli",
        "task": "mnli",
        "text": "A man plays guitar",
        "pair": "Someone makes music",
        "created_at": 200.0,
        "compute_seconds": 1.25,
        "worker": "host-1",
        "n_tokens": 5,
        "fingerprint": "abc123",
        "top_k": 10,
        "stored_bytes": 0,
    }
    assert row["stored_bytes"] > 0
    assert "tokens" not in row and "methods" not in row, "rows hold scalars only"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"model": "tiny-bert-mlm"}, ["k4", "k1"]),
        ({"task": "mnli"}, ["k3"]),
        ({"model": "tiny-bert-mlm", "task": "sst"}, []),
        ({"q": "wonderful"}, ["k2"]),
        ({"q": "MUSIC"}, ["k3"]),  # matches the pair
        ({"q": "STRASSE"}, ["k4"]),  # unicode case folding: ß == ss
        ({"q": "münchen"}, ["k4"]),
        ({"q": "the"}, ["k1"]),
        ({"q": "zebra"}, []),
        ({"model": "tiny-bert-mlm", "q": "cat"}, ["k1"]),
        ({"model": "no-such-model"}, []),
    ],
)
def test_filters(filled, filters, expected):
    assert keys(filled.index(**filters)) == expected
    assert filled.count(**filters) == len(expected)


def test_limit_offset_and_count(filled):
    assert keys(filled.index(limit=2)) == ["k4", "k2"]
    assert keys(filled.index(limit=2, offset=2)) == ["k5", "k3"]
    assert keys(filled.index(limit=2, offset=4)) == ["k1"]
    assert filled.index(offset=10) == []
    assert filled.index(limit=0) == []
    assert filled.count() == 5


@pytest.mark.parametrize("bad", [{"limit": -1}, {"offset": -2}, {"limit": "10"}, {"offset": True}])
def test_bad_paging_is_refused(filled, bad):
    with pytest.raises(ValueError):
        filled.index(**bad)


def test_deleted_entries_disappear(filled):
    filled.delete("k2")
    assert keys(filled.index()) == ["k4", "k5", "k3", "k1"]
    assert filled.count() == 4


def test_value_dropped_behind_the_index_disappears(filled, store_url):
    """Redis allkeys-lru or a TTL may drop a value and leave its index entry; diskcache drops both."""
    if store_url.startswith("redis://"):
        client = redis.Redis.from_url(store_url)
        client.delete(value_name("k5"))
    else:
        with diskcache.Cache(store_url) as plain:
            plain.delete("k5")
    assert keys(filled.index()) == ["k4", "k2", "k3", "k1"]
    assert filled.count() == 4
    if store_url.startswith("redis://"):
        assert client.zscore("interpboard:index", "k5") is None, "the dead entry was pruned"
        assert not client.hexists("interpboard:rows", "k5")


def test_many_entries_page_correctly(store):
    for i in range(30):
        store.put(
            f"key{i:02d}", make_meta(f"key{i:02d}", created_at=1000.0 + i, text=f"text {i}"), make_arrays(n=2)
        )
    assert keys(store.index(limit=3, offset=5)) == ["key24", "key23", "key22"]
    assert store.count(q="TEXT 1") == 11  # 1, 10..19
