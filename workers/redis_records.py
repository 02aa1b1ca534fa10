"""Job records in Redis, shared by the web server and every worker (the operations live in workers/jobs.py)."""

from __future__ import annotations

from typing import Any

import orjson
import redis
from pydantic import ValidationError

from workers.job_status import JobStatus
from workers.jobs import Change, CorruptRecord, JobRecords


class RedisJobRecords(JobRecords):
    """One hash per job with JSON field values; the indexes are sorted sets."""

    PREFIX = "interpboard:"

    def __init__(
        self, client: redis.Redis, expires: int = 86_400, inflight_ttl: int = 86_400, lost_after: float = 30.0
    ) -> None:
        super().__init__(expires, inflight_ttl, lost_after)
        self.client = client

    def _record_key(self, job_id: str) -> str:
        return f"{self.PREFIX}jobrec:{job_id}"

    def _inflight_key(self, key: str) -> str:
        return f"{self.PREFIX}job:{key}"

    def _index_key(self, index: str) -> str:
        return f"{self.PREFIX}{index}"

    @staticmethod
    def _decode(job_id: str, raw: dict[bytes, bytes]) -> dict[str, Any]:
        try:
            record = {k.decode(): orjson.loads(v) for k, v in raw.items()}
        except (orjson.JSONDecodeError, UnicodeDecodeError):
            raise CorruptRecord(f"the record of job {job_id} is corrupt (not JSON)") from None
        try:
            JobStatus.from_dict(record)  # every operation may then read any field
        except ValidationError:
            raise CorruptRecord(
                f"the record of job {job_id} is corrupt (fields missing or malformed)"
            ) from None
        return record

    @staticmethod
    def _encode(record: dict[str, Any]) -> dict[str, bytes]:
        return {k: orjson.dumps(v) for k, v in record.items()}

    def _hgetall(self, client: Any, job_id: str) -> dict[bytes, bytes]:
        try:
            return client.hgetall(self._record_key(job_id))
        except redis.ResponseError as exc:  # WRONGTYPE: something else was written under the record's name
            raise CorruptRecord(f"the record of job {job_id} is corrupt ({exc})") from None

    def _insert(self, record: dict[str, Any]) -> None:
        name = self._record_key(record["job_id"])
        self.client.pipeline().hset(name, mapping=self._encode(record)).expire(name, self.expires).execute()

    def _read(self, job_id: str) -> dict[str, Any] | None:
        raw = self._hgetall(self.client, job_id)
        return self._decode(job_id, raw) if raw else None

    def _change(self, job_id: str, change: Change) -> dict[str, Any] | None:
        name = self._record_key(job_id)

        def transaction(pipe: redis.client.Pipeline) -> dict[str, Any] | None:
            try:
                raw = self._hgetall(pipe, job_id)
                record = self._decode(job_id, raw) if raw else None
            except CorruptRecord:
                return None
            changes = None if record is None else change(record)
            if not changes:
                return None
            pipe.multi()
            pipe.hset(name, mapping=self._encode(changes))
            pipe.expire(name, self.expires)
            return {**record, **changes}

        return self.client.transaction(transaction, name, value_from_callable=True)

    def _delete(self, job_id: str) -> None:
        self.client.delete(self._record_key(job_id))

    def claim(self, key: str, job_id: str) -> str | None:
        name = self._inflight_key(key)
        if self.client.set(name, job_id, nx=True, ex=self.inflight_ttl):
            return None
        holder = self.client.get(name)
        # The holder may have let go in between: try once more rather than follow nobody.
        if holder is None:
            return self.claim(key, job_id)
        return holder.decode()

    def release(self, key: str, job_id: str) -> None:
        name = self._inflight_key(key)

        def transaction(pipe: redis.client.Pipeline) -> None:
            if pipe.get(name) == job_id.encode():
                pipe.multi()
                pipe.delete(name)

        self.client.transaction(transaction, name)

    def holder(self, key: str) -> str | None:
        value = self.client.get(self._inflight_key(key))
        return None if value is None else value.decode()

    def _index_add(self, index: str, job_id: str, score: float) -> None:
        self.client.zadd(self._index_key(index), {job_id: score})

    def _index_remove(self, index: str, job_id: str) -> None:
        self.client.zrem(self._index_key(index), job_id)

    def _index_rank(self, index: str, job_id: str) -> int | None:
        return self.client.zrank(self._index_key(index), job_id)

    def _index_count(self, index: str) -> int:
        return self.client.zcard(self._index_key(index))

    def _index_below(self, index: str, score: float) -> list[str]:
        below = "+inf" if score == float("inf") else f"({score}"
        return [j.decode() for j in self.client.zrangebyscore(self._index_key(index), "-inf", below)]

    def _index_names(self, prefix: str) -> list[str]:
        start = len(self.PREFIX)
        return [name.decode()[start:] for name in self.client.scan_iter(match=f"{self.PREFIX}{prefix}*")]
