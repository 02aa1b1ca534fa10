"""Overhead of the job path: API submit -> result readable, minus the engine's own compute time.

gunicorn + a Celery worker with the model already warm (one analysis first), then fresh texts one
at a time: the client polls the job every 20 ms, like a page would, then reads the result. What is
left after subtracting the engine's stored stage timings is queueing, Redis, storing and polling.
Target: median overhead <= 0.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from tests.deploy.stack import local_stack

TARGET = 0.5
POLL = 0.02
TEXTS = [
    "the cat sat on the mat while the dog slept",
    "she went to the store to buy some bread and milk",
    "he said that the meeting would start at noon",
    "we walked along the river and talked about music",
    "the students finished their homework before dinner",
    "paris is the capital of france",
    "a woman is reading a book in the park",
]


def request_for(text: str) -> dict:
    return {"model": "tiny-bert-sst", "task": "sst", "text": text}


def end_to_end(session: requests.Session, base: str, text: str) -> tuple[float, float]:
    """Seconds from submit to result in hand, and the engine's own seconds for it."""
    start = time.perf_counter()
    submitted = session.post(f"{base}/api/analyses", json=request_for(text), timeout=30)
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["job_id"]
    while (job := session.get(f"{base}/api/jobs/{job_id}", timeout=30).json())["state"] in (
        "queued",
        "running",
    ):
        time.sleep(POLL)
    assert job["state"] == "done", job
    result = session.get(base + submitted.headers["Location"], timeout=30)
    elapsed = time.perf_counter() - start
    assert result.status_code == 200
    timings = result.json()["timings"]  # per stage, "total" of the compute stages, and "loading model"
    return elapsed, timings["total"] + timings.get("loading model", 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=len(TEXTS) - 1)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="interpboard-cold-") as tmp,
        local_stack(Path(tmp), web_workers=2) as stack,
    ):
        session = requests.Session()
        end_to_end(session, stack.base, TEXTS[0])  # loads the model into the worker: it is warm from here on
        runs = [end_to_end(session, stack.base, text) for text in TEXTS[1 : args.runs + 1]]
    overheads = [total - engine for total, engine in runs]
    for (total, engine), overhead in zip(runs, overheads, strict=True):
        print(f"end_to_end_s={total:.3f} engine_s={engine:.3f} overhead_s={overhead:.3f}")
    median = statistics.median(overheads)
    print(f"runs={len(runs)} poll_interval_s={POLL}")
    print(f"median_overhead_s={median:.3f} max_overhead_s={max(overheads):.3f}")
    print(f"ratio={median / TARGET:.3f}")


if __name__ == "__main__":
    main()
