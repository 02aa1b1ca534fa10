"""Selecting a token, layer or head at 512 tokens: server time of every view's redraw callback.

The Analyze page redraws each view in its own callback (dashapp.pages.analyze.drawing.redraw_view, the
real callback body: the analysis from the in-process LRU, the selection clamped, the figure built or its
token overlay patched, or nothing sent) and Dash serialises what it returns to JSON. This times that
body plus the JSON serialisation, per view and per kind of selection change, on a real 512-token
analysis of the tiny 512-position BERT (tests/tiny_models.py, `tiny-bert-long`, every method including
attention sensitivity: about a minute to compute once on 2 CPUs). Each figure is the median of REPEATS.

Prints a row per view (ms and kB per change), the same for a bert-base-shaped synthetic analysis (12 × 12,
for scale), the tiny model's worst callback, then
`ratio=<150 ms budget / worst callback ms>` (≥ 1: every callback within budget).

    .venv/bin/python benchmarks/long_views.py [--models DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import json

import numpy as np
from dash import no_update
from plotly.io.json import to_json_plotly

from dashapp.figures.heatmap import zoom_range
from dashapp.pages.analyze.drawing import redraw_view
from dashapp.selection import default_selection
from dashapp.services import Services
from dashapp.views import VIEWS
from tests.dashapp.fakes import FakeExecutor
from tests.dashapp.synthetic import synthetic_analysis
from tests.tiny_models import CORPUS, build_tiny_models

BUDGET_MS = 150.0
REPEATS = 5
ZOOM = {"xaxis.range[0]": 199.5, "xaxis.range[1]": 299.5, "yaxis.range[0]": 299.5, "yaxis.range[1]": 199.5}


def long_analysis(models: Path):
    """The 512-token analysis, computed once and kept beside the models (JSON + npz, no pickle)."""
    from interp.schema import Analysis, AnalysisRequest

    kept = models / "long-views-analysis"
    if (kept / "meta.json").exists():
        with np.load(kept / "arrays.npz") as arrays:
            return Analysis.from_record(json.loads((kept / "meta.json").read_text()), dict(arrays))
    os.environ["INTERPBOARD_MODELS"] = str(build_tiny_models(models, include_minilm=False))
    from interp.engine import analyze

    text = " ".join(" ".join(CORPUS * 6).split()[:600])  # about 640 tokens: truncated to 512
    start = time.perf_counter()
    analysis = analyze(AnalysisRequest(model="tiny-bert-long", task="sst", text=text, ig_steps=20))
    print(
        f"analysis: {analysis.n_tokens} tokens (of {analysis.tokens_before_truncation}), "
        f"{analysis.num_layers} layers × {analysis.num_heads} heads, {time.perf_counter() - start:.1f} s"
    )
    return analysis


def changes(selection: dict) -> list[tuple[str, dict, dict | None]]:
    """(name, selection after the change, relayoutData) in the order a user makes them."""
    token = {**selection, "token": 300}
    return [
        ("first draw", selection, None),
        ("token", token, None),
        ("token again", {**token, "token": 40}, None),
        ("layer", {**token, "token": 40, "layer": 1}, None),
        ("head", {**token, "token": 40, "layer": 1, "head": 1}, None),
        ("zoom", {**token, "token": 40, "layer": 1, "head": 1}, ZOOM),
    ]


def table(analysis, label: str) -> tuple[float, str]:
    """Print the row of every view; return the worst (ms, what)."""
    ex = FakeExecutor()
    shown = {"key": ex.put(analysis), "final": True, "stage": None}
    services = Services(ex)
    services.analysis(shown["key"])  # the LRU holds it, as after the page's first draw
    steps = changes(default_selection())
    print(f"\n{label}")
    print(f"{'view':22s}" + "".join(f"{name:>20s}" for name, _, _ in steps) + "   (ms · kB)")
    worst = (0.0, "")
    for view in VIEWS:
        row = f"{view.name:22s}"
        drawn = None
        for name, selection, relayout in steps:
            options = {"zoom": zoom_range(relayout)} if view.zoomable else {}
            times, size = [], 0
            for _ in range(REPEATS):
                start = time.perf_counter()
                out, now = redraw_view(services, view, shown, selection, "light", drawn, **options)
                size = 0 if out is no_update or out is None else len(to_json_plotly(out))
                times.append((time.perf_counter() - start) * 1e3)
            drawn = now if isinstance(now, dict) else drawn
            ms = statistics.median(times)
            worst = max(worst, (ms, f"{view.name} on {name}, {label.split(':')[0]}"))
            row += f"{ms:12.1f} {size / 1e3:6.1f}k"
        print(row)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--models", type=Path, default=None, help="where to build the tiny models (and keep the analysis)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        analysis = long_analysis(args.models or Path(tmp))
    worst = table(analysis, f"tiny-bert-long: {analysis.n_tokens} tokens, real analysis")
    # The same callbacks on a bert-base-shaped analysis (12 layers × 12 heads, synthetic numbers).
    base = synthetic_analysis(n_words=510, layers=12, heads=12, model="tiny-bert-long", task="sst")
    print(f"(for scale, not the target: {base.n_tokens} tokens, 12 × 12, synthetic)")
    big = table(base, "bert-base shape: synthetic 12 × 12")
    print(f"\nbert-base shape worst: {big[0]:.1f} ms ({big[1]})")
    print(f"worst callback: {worst[0]:.1f} ms ({worst[1]}); budget {BUDGET_MS:.0f} ms")
    print(f"ratio={BUDGET_MS / worst[0]:.2f}")


if __name__ == "__main__":
    main()
