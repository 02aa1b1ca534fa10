"""The job layer's settings section (see interp/settings.py for all of them) and log-safe URLs."""

from __future__ import annotations

from cache.urls import mask_password
from interp.settings import JobSettings, settings

# The name the job layer (and its tests) construct: `Settings(broker=..., cache=...)`.
Settings = JobSettings

__all__ = ["Settings", "job_settings", "safe_url"]


def job_settings() -> JobSettings:
    """This process's job settings, read once."""
    return settings().jobs


def safe_url(url: str | None) -> str:
    """A URL fit for logs: any password masked."""
    return mask_password(url) if url else "(none)"
