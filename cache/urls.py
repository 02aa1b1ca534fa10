"""Store URLs: which backend a URL names, and how to show it without its password."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import platformdirs

REDIS_SCHEMES = ("redis", "rediss", "unix")
MASK = "***"


def default_directory() -> Path:
    return Path(platformdirs.user_cache_dir("interpboard")) / "results"


def mask_password(url: str) -> str:
    """The URL with the password (in the user info or a ?password= query) replaced by ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, at, host = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{host}"
    params = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode([(k, MASK if k.lower() == "password" else v) for k, v in params], safe="*")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def is_redis_url(url: str) -> bool:
    return urlsplit(url).scheme.lower() in REDIS_SCHEMES


def directory_of(url: str | None) -> Path:
    """The diskcache directory a URL names: none -> the default; a path or file:// URL -> that path."""
    if not url:
        return default_directory()
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"file URL {mask_password(url)} names a remote host; use a local path")
        return Path(unquote(parts.path))
    if "://" in url:
        raise ValueError(
            f"unsupported cache URL {mask_password(url)}: use a directory path, file://, redis:// or rediss://"
        )
    return Path(url).expanduser()
