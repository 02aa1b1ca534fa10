"""What the step-by-step pipelines (seq2seq, generation) share: saliency batched over steps, stage reports.

Each step explains one token's log-probability. The steps are the rows of one batch (step t is
row t), so one forward and backward pass serves every step of grad-norm and grad x input, and IG
runs its interpolation steps over that batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from interp.saliency import METHODS as SALIENCY
from interp.saliency import Explainer
from interp.schema import Analysis
from interp.stages import Progress, Stage
from interp.tasks.base import Report


class Laps:
    """Stage timings of one analysis, and the reports that go with them."""

    def __init__(self, analysis: Analysis, report: Report, loading: float = 0.0) -> None:
        self.analysis, self.report = analysis, report
        self.clock = time.perf_counter()
        analysis.timings = {}

    def done(self, stage: Stage, fraction: float, key: str | None = None) -> None:
        """The stage's time under its name (or key), then a report carrying the analysis so far."""
        now = time.perf_counter()
        name = key or str(stage)
        self.analysis.timings = {**self.analysis.timings, name: now - self.clock}
        self.clock = now
        if key is None:
            self.analysis.stages_done = [*self.analysis.stages_done, name]
            self.report(Progress(stage), fraction, self.analysis)

    def finish(self) -> None:
        timings = self.analysis.timings
        self.analysis.timings = {**timings, "total": sum(v for k, v in timings.items() if "." not in k)}
        self.report(Progress(Stage.DONE), 1.0, self.analysis)


def explain_steps(
    score: Callable[[torch.Tensor], torch.Tensor],
    embeds: torch.Tensor,
    methods: list[str],
    ig_steps: int,
    *,
    attention: np.ndarray | None = None,
    rows: list[int] | None = None,
    laps: Laps,
) -> None:
    """Every method's [T, N] step saliency into laps.analysis.step_saliency.

    score: [r*T, 1, N, d] embeddings -> [r*T] step scores (row b is step b % T); embeds: [T, 1, N, d].
    attention and rows (each step's read row) serve attention rollout; without them it is skipped.
    """
    T, _, N, _ = embeds.shape
    chosen = [m for m in methods if m in SALIENCY and (m != "attention_rollout" or attention is not None)]
    explainer = Explainer(
        score,
        embeds,
        [[N]] * T,
        [attention] * T if attention is not None else [],
        [[[row]] for row in rows] if rows is not None else [],
        ig_steps,
    )
    analysis = laps.analysis
    for name in chosen:
        results = SALIENCY[name](explainer)
        analysis.step_saliency = {**analysis.step_saliency, name: np.stack([v for v, _ in results])}
        if any(info for _, info in results):
            analysis.saliency_info = {**analysis.saliency_info, name: _mean_info([i for _, i in results])}
        laps.done(Stage.SALIENCY, 0.0, key=f"saliency.{name}")
    if chosen:
        analysis.timings = {
            **analysis.timings,
            "saliency": sum(analysis.timings[f"saliency.{m}"] for m in chosen),
        }
        analysis.stages_done = [*analysis.stages_done, str(Stage.SALIENCY)]
        laps.report(Progress(Stage.SALIENCY), 0.9, analysis)


def _mean_info(infos: list[dict[str, float]]) -> dict[str, float]:
    """One figure per key over the steps: the largest |delta|, the other figures' means."""
    out: dict[str, float] = {}
    for key in infos[0]:
        values = [float(i[key]) for i in infos]
        out[key] = max(values, key=abs) if key == "delta" else float(np.mean(values))
    return out
