"""Compare's second, small job per model where the task predicts a word: every model scored on the same words.

The models' own top-k lists rarely share a token (BERT's "paris", RoBERTa's "ĠParis"), so once every model's
analysis is done, the union of their predictions (alignment.candidate_words) goes back to each model as
`AnalysisRequest.candidates`, without saliency: each model's own probability of each word, from its full
distribution, cached like any other analysis. A column's record keeps that job's record under "words".
"""

from __future__ import annotations

from typing import Any

from dashapp import jobs
from dashapp.alignment import WordProbability, candidate_words, word_probabilities
from dashapp.services import Services
from interp.task_specs import TASK_SPECS


def with_word_jobs(services: Services, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records, with each done model's word job submitted once every model's job has ended."""
    if not records or not all(map(jobs.finished, records)) or any("words" in r for r in records):
        return records
    done = [(r, a) for r in records if r["state"] == jobs.DONE and (a := services.analysis(r.get("key")))]
    if len(done) < 2 or not TASK_SPECS[done[0][1].request.task].predicts_word:
        return records
    words = candidate_words([a for _, a in done])
    if not words:
        return records
    submitted = {}
    for record, analysis in done:
        started = jobs.submit(services, analysis.request.with_(candidates=words, methods=()))
        submitted[record["model"]] = started.record or {
            "key": None,
            "job_id": None,
            "state": jobs.ERROR,
            "stage": None,
            "error": started.problem or started.failure,
        }
    return [{**r, "words": submitted[r["model"]]} if r["model"] in submitted else r for r in records]


def poll_word_jobs(services: Services, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for record in records:
        if "words" in record:
            record = {**record, "words": jobs.updated_record(services, record["words"])[0]}
        out.append(record)
    return out


def all_finished(records: list[dict[str, Any]]) -> bool:
    return all(jobs.finished(r) and jobs.finished(r.get("words") or {"state": jobs.DONE}) for r in records)


def same_words(services: Services, record_a: dict, record_b: dict) -> list[WordProbability] | str | None:
    """Both models' probabilities of the same words; a message when they cannot be scored; None meanwhile."""
    wa, wb = record_a.get("words"), record_b.get("words")
    for words in (wa, wb):
        if words and words["state"] in (jobs.ERROR, jobs.CANCELLED):
            return f"could not score the same words: {words.get('error') or words['state']}"
    if not wa or not wb or wa["state"] != jobs.DONE or wb["state"] != jobs.DONE:
        return None
    a, b = services.analysis(wa["key"]), services.analysis(wb["key"])
    if a is None or b is None or a.candidate_scores is None or b.candidate_scores is None:
        return None
    return word_probabilities(a.candidate_scores, b.candidate_scores)
