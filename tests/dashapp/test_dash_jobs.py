"""Following jobs (dashapp.jobs): what a JobStatus means to the pages, written once for both pages."""

from __future__ import annotations

from dashapp import jobs
from dashapp.services import Services
from interp.schema import AnalysisRequest
from tests.dashapp.fakes import FakeExecutor


def test_a_job_is_followed_from_queue_to_end():
    ex = FakeExecutor()
    services = Services(ex)
    started = jobs.submit(services, AnalysisRequest(model="tiny-bert-mlm", task="mlm", text="a [MASK]"))
    record = started.record
    assert record["state"] == jobs.QUEUED and not jobs.finished(record) and started.problem is None
    status = ex.jobs[record["job_id"]]
    status.state, status.stage = "running", "loading"
    report = jobs.follow(services, record["job_id"])
    assert report.drawable_stage is None and not report.finished  # nothing to draw while the model loads
    status.stage, status.step, status.of, status.progress = "sensitivity", 3, 12, 0.75
    record, report = jobs.updated_record(services, record)
    assert (
        report.drawable_stage == "sensitivity" and report.percent == 75 and record["stage"] == "sensitivity"
    )
    assert report.label == "sensitivity 3/12" and "running: sensitivity 3/12" in report.text
    status.state, status.error = "cancelled", None
    record, report = jobs.updated_record(services, record)
    assert report.failed and report.severity == "warning" and record["error"] == "the job was cancelled"
    assert jobs.finished(record) and jobs.updated_record(services, record) == (
        record,
        None,
    )  # not polled again


def test_a_gone_record_and_a_refused_request():
    ex = FakeExecutor()
    services = Services(ex)
    record, report = jobs.updated_record(services, {"key": "k", "job_id": "expired", "state": jobs.QUEUED})
    assert (
        report.state == jobs.GONE
        and report.finished
        and record["state"] == jobs.ERROR
        and "gone" in record["error"]
    )
    refused = jobs.submit(services, AnalysisRequest(model="no-such-model", task="mlm", text="a [MASK]"))
    assert refused.record is None and "unknown model" in refused.problem and refused.failure is None
