"""Job-layer settings, read from INTERPBOARD_* environment variables."""

from __future__ import annotations

from kombu.utils.url import maybe_sanitize_url
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    # hide_input_in_errors: a rejected broker URL may carry a password.
    model_config = SettingsConfigDict(env_prefix="INTERPBOARD_", extra="ignore", hide_input_in_errors=True)

    cache: str | None = None  # store url or path; None = diskcache in the user cache dir
    broker: str | None = None  # redis://... -> Celery; None -> the embedded executor
    cache_ttl: int | None = Field(None, gt=0)  # seconds a result is kept; None = until evicted
    cache_size_limit: int | None = Field(None, gt=0)  # bytes
    queue: str = "cpu"  # where jobs are sent: one queue per device kind (cpu, gpu)
    job_time_limit: int = Field(600, gt=0)  # seconds; soft limit, the hard kill comes a little later
    visibility_timeout: int = Field(3600, gt=0)  # seconds before an unacked job is redelivered
    max_retries: int = Field(2, ge=0)  # redeliveries after a lost worker
    embedded_workers: int = Field(1, ge=1, le=64)  # threads of the in-process executor
    result_expires: int = Field(86_400, gt=0)  # seconds a finished job's status record is kept

    @field_validator("broker")
    @classmethod
    def _redis_broker(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"INTERPBOARD_BROKER must be a redis:// URL, not {safe_url(value)!r}")
        return value

    @model_validator(mode="after")
    def _visibility_above_longest_job(self) -> "Settings":
        # A job still running when its message becomes visible again would run twice at once.
        if self.visibility_timeout <= self.hard_time_limit:
            raise ValueError(
                f"INTERPBOARD_VISIBILITY_TIMEOUT ({self.visibility_timeout} s) must be above the longest job "
                f"(INTERPBOARD_JOB_TIME_LIMIT {self.job_time_limit} s + grace = {self.hard_time_limit} s)"
            )
        return self

    @property
    def hard_time_limit(self) -> int:
        """When a job that ignores its soft limit is killed."""
        return self.job_time_limit + max(2, self.job_time_limit // 10)

    @property
    def inflight_ttl(self) -> int:
        """How long a job may hold its key against duplicates: every delivery may wait out a visibility timeout."""
        return (self.max_retries + 1) * (self.visibility_timeout + self.hard_time_limit)


def safe_url(url: str | None) -> str:
    """A URL fit for logs: any password masked."""
    return maybe_sanitize_url(url) if url else "(none)"
