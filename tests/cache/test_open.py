"""Choosing a backend from a URL, masking passwords, failing clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from cache import CacheUnavailable, DiskStore, RedisStore, mask_password, open_store
from cache.urls import default_directory


@pytest.mark.parametrize(
    "url",
    [
        "redis://:secret@host:6379/0",
        "redis://user:secret@host:6379/0",
        "rediss://default:secret@cache.example.com:6380/2",
        "redis://host:6379/0?password=secret",
        "unix:///run/redis.sock?db=1&password=secret",
    ],
)
def test_password_is_masked(url):
    masked = mask_password(url)
    assert "secret" not in masked
    assert "***" in masked


def test_urls_without_password_are_unchanged():
    assert mask_password("redis://127.0.0.1:6379/8") == "redis://127.0.0.1:6379/8"


def test_redis_store_never_shows_its_password():
    store = open_store("redis://:secret@127.0.0.1:1/0")  # nothing listens on port 1
    assert "secret" not in store.url_for_logs and "secret" not in repr(store)
    assert store.ping() is False
    with pytest.raises(CacheUnavailable) as failure:
        store.get("k")
    assert "secret" not in str(failure.value) and "127.0.0.1" in str(failure.value)
    with pytest.raises(CacheUnavailable):
        store.put("k", {}, {})


def test_invalid_redis_url_error_hides_password():
    with pytest.raises(ValueError) as failure:
        open_store("redis://:secret@host:notaport/0")
    assert "secret" not in str(failure.value)


def test_backend_choice(tmp_path, redis_url):
    assert isinstance(open_store(redis_url), RedisStore)
    assert isinstance(open_store(str(tmp_path / "a")), DiskStore)
    by_file_url = open_store((tmp_path / "b").as_uri())
    assert isinstance(by_file_url, DiskStore) and Path(by_file_url.url_for_logs) == tmp_path / "b"
    assert open_store(str(tmp_path / "a")).ping()


def test_unusable_directory_fails_clearly(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(CacheUnavailable, match="a-file"):
        open_store(str(blocker))


def test_default_directory_is_the_user_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_directory() == tmp_path / "interpboard" / "results"
    for url in (None, ""):
        store = open_store(url)
        assert Path(store.url_for_logs) == tmp_path / "interpboard" / "results"
        assert store.ping()


@pytest.mark.parametrize("url", ["http://example.com/cache", "s3://bucket/x", "file://otherhost/x"])
def test_unsupported_urls_are_refused(url):
    with pytest.raises(ValueError, match="URL"):
        open_store(url)
