"""The job layer: submit analyses, follow their progress, read their results.

    from workers import get_executor, request_key
    sub = get_executor().submit(request)   # Submission(key, job_id, cached, status)

Torch-free to import: the engine is imported only where a job actually runs.
"""

from workers.executor import Executor, Submission, get_executor, request_key
from workers.jobs import JobStatus

__all__ = ["Executor", "JobStatus", "Submission", "get_executor", "request_key"]
