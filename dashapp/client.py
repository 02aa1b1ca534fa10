"""The team server from a notebook: submit an analysis, follow it, get it back with numpy arrays, and draw
the Analyze page's own figures inline.

    from dashapp.client import Client

    client = Client("http://team-server:8050", token="…")  # or user="alice", password="…"
    analysis = client.analyze("bert-mlm", "mlm", "Paris is the [MASK] of France.")
    analysis.attention.shape                     # (layers, heads, n, n), numpy
    analysis.show("heatmap", layer=3, head=5)    # the Plotly figure the page draws

It speaks HTTP to the JSON API (dashapp/api.py) and reads the stored record as the API's .npz (the arrays
at their storage precision and the record's JSON metadata; never pickle), rebuilt as an interp.schema
Analysis. Torch-free, like the whole web side: a notebook needs only this package's web dependencies.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import plotly.graph_objects as go
import requests

from dashapp.exports import META_ENTRY
from dashapp.selection import clamp
from dashapp.views import VIEWS
from interp.schema import Analysis, AnalysisRequest, InputError

Progress = Callable[[dict[str, Any]], None]  # called with the job's status (GET /api/jobs/<id>) on each poll
FIGURE_VIEWS = {view.name: view for view in VIEWS if view.graph}


class ServerError(RuntimeError):
    """The server refused or failed a call: its HTTP status and its own message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


class JobFailed(RuntimeError):
    """The analysis job ended without a result (an error, a cancel, a lost worker): the job's reason."""

    def __init__(self, job: dict[str, Any]) -> None:
        super().__init__(
            f"job {job.get('job_id')} {job.get('state')}: {job.get('error') or 'no reason given'}"
        )
        self.job = job


@dataclass
class RemoteAnalysis(Analysis):
    """An Analysis read from the server, with its key and provenance, that draws the page's figures."""

    key: str = ""
    provenance: dict[str, Any] | None = (
        None  # created_at, compute_seconds, worker, ... as the cache holds them
    )

    def show(
        self,
        view: str,
        *,
        layer: int = 0,
        head: int | None = None,
        token: int | None = None,
        method: str | None = None,
        step: int | None = None,
        theme: str = "light",
        **options: Any,
    ) -> go.Figure:
        """The figure the Analyze page draws for `view` (a name of dashapp.views.VIEWS: "heatmap",
        "attention-graph", "saliency", ...) at this selection; `options` are the view's own controls
        (the attention graph's top_k and threshold, the head view's pair_filter)."""
        if view not in FIGURE_VIEWS:
            raise ValueError(f"unknown view {view!r}; the views with a figure: {', '.join(FIGURE_VIEWS)}")
        wanted = {"layer": layer, "head": head, "token": token, "step": step}
        selection = clamp({**wanted, **({"method": method} if method else {})}, self)
        return FIGURE_VIEWS[view].build(self, selection, theme, **options)


def print_progress(job: dict[str, Any]) -> None:
    """One line, rewritten in place: "running: sensitivity 2/12 (61 %)"."""
    end = "\n" if job.get("state") not in ("queued", "running") else ""
    line = (
        f"{job.get('state')}: {job.get('stage_text', '')} ({round(100 * float(job.get('progress') or 0))} %)"
    )
    print(f"\r{line:<60}", end=end, file=sys.stderr, flush=True)


class Client:
    """One team server. `token` for INTERPBOARD_TOKEN, `user` and `password` for INTERPBOARD_USERS."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout  # of each HTTP call; waiting for a job has its own
        self.session = session or requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        if user is not None:
            self.session.auth = (user, password or "")

    # --- the API, one method a route ---------------------------------------------------------------

    def models(self) -> list[dict[str, Any]]:
        """The registry: each model's id, tasks, and whether it is available on the server."""
        return self._call("GET", "/api/models").json()["models"]

    def submit(self, request: AnalysisRequest) -> dict[str, Any]:
        """{key, status, job_id, cached}: a cached analysis is done at once (job_id None)."""
        return self._call("POST", "/api/analyses", json=request.to_dict()).json()

    def job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/jobs/{job_id}").json()

    def wait(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        on_progress: Progress | None = print_progress,
        interval: float = 0.5,
    ) -> dict[str, Any]:
        """Poll the job until it ends (TimeoutError after `timeout` seconds); its last status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if on_progress is not None:
                on_progress(job)
            if job["state"] not in ("queued", "running"):
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(
                    f"job {job_id} still {job['state']} ({job.get('stage_text')}) after {timeout} s"
                )
            time.sleep(interval)

    def get(self, key: str) -> RemoteAnalysis:
        """A computed analysis by its key (from a submit, a teammate's link, History) with numpy arrays."""
        npz = np.load(io.BytesIO(self._call("GET", f"/api/analyses/{key}.npz").content), allow_pickle=False)
        meta = orjson.loads(str(npz[META_ENTRY]))
        arrays = {name: npz[name] for name in npz.files if name not in (META_ENTRY, "tokens")}
        analysis = RemoteAnalysis.from_record(meta, arrays)
        analysis.key = key
        analysis.provenance = {k: meta[k] for k in ("created_at", "compute_seconds", "worker") if k in meta}
        return analysis

    def cancel(self, job_id: str) -> bool:
        return bool(self._call("DELETE", f"/api/jobs/{job_id}").json()["cancelled"])

    # --- the one call a notebook needs -------------------------------------------------------------

    def analyze(
        self,
        model: str,
        task: str,
        text: str,
        pair: str | None = None,
        *,
        timeout: float | None = None,
        on_progress: Progress | None = print_progress,
        **fields: Any,
    ) -> RemoteAnalysis:
        """Submit (fields as AnalysisRequest: mask_index, target, methods, top_k, ...), follow the job
        (`on_progress`; None for quiet), and return the analysis. InputError for a request the server
        (or this side's validation, before anything is sent) refuses; JobFailed where the job fails."""
        request = AnalysisRequest(model=model, task=task, text=text, pair=pair, **fields)
        submitted = self.submit(request)
        if submitted["job_id"]:
            job = self.wait(submitted["job_id"], timeout=timeout, on_progress=on_progress)
            if job["state"] != "done":
                raise JobFailed(job)
        return self.get(submitted["key"])

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = self.session.request(method, self.url + path, timeout=self.timeout, **kwargs)
        if response.ok:
            return response
        try:
            message = response.json().get("error") or response.text
        except ValueError:
            message = response.text.strip()[:300] or response.reason
        if response.status_code in (400, 413, 422):  # the request itself: the same error as a local check
            raise InputError(message)
        raise ServerError(response.status_code, message)
