"""Every INTERPBOARD_* setting, in sections, read once per process: `settings().engine.device`.

Torch-free, so every room reads it (interp may not import the job layer). Each section reads its
own variables (the names are the documented ones, no section prefix); `settings.cache_clear()`
makes the next call read the environment again (tests that change it).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# hide_input_in_errors: a rejected broker URL may carry a password.
_ENV = SettingsConfigDict(env_prefix="INTERPBOARD_", extra="ignore", hide_input_in_errors=True)
BROKER_SCHEMES = ("redis", "rediss", "unix")


class JobSettings(BaseSettings):
    """The job layer: broker, result store, queues and time limits."""

    model_config = _ENV

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
    # Liveness: a running job's worker beats every heartbeat_interval; one silent for lost_after is lost
    # (requeued, or ended with error_kind "lost"). Each worker looks for lost jobs every reap_interval.
    heartbeat_interval: float = Field(3.0, gt=0)
    lost_after: float = Field(30.0, gt=0)
    reap_interval: float = Field(10.0, gt=0)
    cancel_grace: float = Field(10.0, gt=0)  # a cancelled job still running then is terminated (Celery)
    # Fair use: queued jobs per client (user or address) and in all; over either, 429 with Retry-After.
    max_queued_per_client: int = Field(20, ge=1)
    max_queued: int = Field(500, ge=1)

    @field_validator("broker")
    @classmethod
    def _redis_broker(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        if value is not None and urlsplit(value).scheme.lower() not in BROKER_SCHEMES:
            # The scheme only: the rest of the URL may hold a password.
            raise ValueError(
                f"INTERPBOARD_BROKER must be a redis:// URL, not a {urlsplit(value).scheme or 'plain'}:// one"
            )
        return value

    @model_validator(mode="after")
    def _visibility_above_longest_job(self) -> JobSettings:
        # A job still running when its message becomes visible again would run twice at once.
        if self.visibility_timeout <= self.hard_time_limit:
            raise ValueError(
                f"INTERPBOARD_VISIBILITY_TIMEOUT ({self.visibility_timeout} s) must be above the longest job "
                f"(INTERPBOARD_JOB_TIME_LIMIT {self.job_time_limit} s + grace = {self.hard_time_limit} s)"
            )
        if self.lost_after < 2 * self.heartbeat_interval:
            raise ValueError(
                f"INTERPBOARD_LOST_AFTER ({self.lost_after} s) must be at least twice "
                f"INTERPBOARD_HEARTBEAT_INTERVAL ({self.heartbeat_interval} s)"
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


class EngineSettings(BaseSettings):
    """Where models run and how many stay loaded in a worker process."""

    model_config = _ENV

    device: str = ""  # cpu, cuda, cuda:N; empty = cuda when available (checked where torch is)
    max_models: int = 3  # loaded models kept per process (at least 1)
    max_model_memory_mb: float | None = Field(None, gt=0)  # their total parameter memory
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"  # weights, unless a registry entry says
    # Parts of an analysis estimated (interp.cost) to take longer are computed only when asked for.
    part_budget_s: float = Field(30.0, gt=0)

    @field_validator("max_models")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        return max(1, value)  # the newest model always stays


class RegistrySettings(BaseSettings):
    model_config = _ENV

    models: str | None = None  # the registry TOML; None = the built-in registry


class WebSettings(BaseSettings):
    """Team access to the web server (off when token and users are empty)."""

    model_config = _ENV

    token: str | None = None
    users: str = ""  # "alice:pw,bob:pw"
    users_file: str | None = None  # one user:password a line
    bind: str | None = None  # the address the web listens on, for the open-without-auth warning
    proxy_hops: int = Field(0, ge=0)  # reverse proxies in front (X-Forwarded-For trusted that deep)


class AllSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    jobs: JobSettings
    engine: EngineSettings
    registry: RegistrySettings
    web: WebSettings


@lru_cache(maxsize=1)
def settings() -> AllSettings:
    """This process's settings (pydantic.ValidationError naming the variable when one is bad)."""
    return AllSettings(
        jobs=JobSettings(), engine=EngineSettings(), registry=RegistrySettings(), web=WebSettings()
    )
