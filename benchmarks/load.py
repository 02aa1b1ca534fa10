"""Load: N concurrent API clients against gunicorn (4 threaded workers) + a Celery worker, hits and misses.

Each client loops: submit a cached request (a hit: 200 from the cache), read a cached analysis (a
hit), and every tenth round submit a new text (a miss: 202, queued for the worker). Reports
requests/s, p50/p95 latency of the hits, and errors (must be 0). Target: hit p95 <= 100 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from tests.deploy.stack import local_stack, wait_job

TARGET_P95 = 0.100
SENTENCES = [
    "the movie was great",
    "nobody liked the food",
    "the weather today is cold but sunny",
    "what a boring and disappointing story",
    "children are playing football in the garden",
    "this restaurant serves delicious pizza",
    "the film was terrible",
    "i think this is the best thing",
]


def request_for(text: str) -> dict:
    return {
        "model": "tiny-bert-sst",
        "task": "sst",
        "text": text,
        "methods": ["grad_norm", "attention_rollout"],
    }


def client(
    base: str, keys: list[str], rounds: int, me: int, hits: list[float], errors: list[str], misses: list[int]
) -> None:
    # A bare keep-alive connection: the load generator shares this machine's cores with the server,
    # and `requests` spent about 2 ms of CPU per call (30% of the machine at this load).
    connection = http.client.HTTPConnection(urlsplit(base).netloc, timeout=30)

    def timed(method: str, path: str, expect: int, body: dict | None = None) -> float | None:
        """Seconds the request took, or None (and an error) when it failed: failures are not latencies."""
        payload = None if body is None else json.dumps(body)
        headers = {} if body is None else {"Content-Type": "application/json"}
        start = time.perf_counter()
        try:
            connection.request(method, path, payload, headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{method} {path}: {exc}")
            connection.close()  # reconnects on the next request
            return None
        elapsed = time.perf_counter() - start
        if response.status != expect:
            errors.append(f"{method} {path}: {response.status} {data[:200]!r}")
            return None
        return elapsed

    for i in range(rounds):
        text = SENTENCES[(me + i) % len(SENTENCES)]
        for seconds in (
            timed("POST", "/api/analyses", 200, request_for(text)),
            timed("GET", f"/api/analyses/{keys[(me + i) % len(keys)]}", 200),
        ):
            if seconds is not None:
                hits.append(seconds)
        if i % 10 == 0:
            timed("POST", "/api/analyses", 202, request_for(f"client {me} round {i} says {text}"))
            misses.append(1)
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument(
        "--rounds", type=int, default=50, help="rounds per client (2 hits each, a miss every 10th)"
    )
    parser.add_argument("--web-workers", type=int, default=4)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="interpboard-load-") as tmp,
        local_stack(Path(tmp), web_workers=args.web_workers) as stack,
    ):
        keys = []
        for text in SENTENCES:  # fill the cache: these are the hits
            submitted = requests.post(f"{stack.base}/api/analyses", json=request_for(text), timeout=30).json()
            if submitted["job_id"]:
                assert wait_job(stack.base, submitted["job_id"])["state"] == "done"
            keys.append(submitted["key"])

        hits: list[float] = []
        errors: list[str] = []
        misses: list[int] = []
        threads = [
            threading.Thread(target=client, args=(stack.base, keys, args.rounds, me, hits, errors, misses))
            for me in range(args.clients)
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start

    total = len(hits) + len(misses)
    hits.sort()
    p50 = statistics.median(hits)
    p95 = hits[min(len(hits) - 1, int(0.95 * len(hits)))]
    for error in errors[:10]:
        print("error:", error)
    print(
        f"clients={args.clients} gunicorn_workers={args.web_workers}x4 threads celery_workers=1 cpu_cores={os.cpu_count()}"
    )
    print(f"requests={total} hits={len(hits)} misses={len(misses)} seconds={wall:.2f}")
    print(f"requests_per_second={total / wall:.1f}")
    print(f"hit_p50_ms={p50 * 1000:.1f}")
    print(f"hit_p95_ms={p95 * 1000:.1f}")
    print(f"errors={len(errors)}")
    print(f"ratio={p95 / TARGET_P95:.3f}")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
