"""Downloads of one analysis: JSON, CSV, NPZ and a standalone HTML report of the current view."""

from __future__ import annotations

import csv
import html
import io
from typing import Iterable

import numpy as np
import orjson
import plotly.graph_objects as go

from interp.schema import SALIENCY_METHODS, Analysis


def to_json(analysis: Analysis, key: str) -> bytes:
    return orjson.dumps({"key": key, **analysis.to_json(full=True)}, option=orjson.OPT_INDENT_2)


def to_csv(analysis: Analysis) -> str:
    """Two tables in one file: saliency per token per method, then the predictions."""
    methods = [m for m in SALIENCY_METHODS if m in analysis.saliency]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["index", "token", "word", "special", *methods])
    for i, token in enumerate(analysis.tokens):
        writer.writerow([i, token, analysis.token_words[i], analysis.special_tokens[i],
                         *(f"{float(analysis.saliency[m][i]):.7g}" for m in methods)])
    writer.writerow([])
    writer.writerow(["rank", "label", "score"])
    for rank, prediction in enumerate(analysis.predictions):
        writer.writerow([rank, prediction["label"], f"{float(prediction['score']):.7g}"])
    return out.getvalue()


def to_npz(analysis: Analysis) -> bytes:
    _meta, arrays = analysis.to_record()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, tokens=np.array(analysis.tokens, dtype=str), **arrays)
    return buffer.getvalue()


def html_report(analysis: Analysis, key: str, figures: Iterable[go.Figure]) -> str:
    """One self-contained page (plotly.js inline: the team's machines may be offline)."""
    request = analysis.request
    rows = [("model", request.model), ("task", request.task), ("text", request.text), ("pair", request.pair),
            ("target", (analysis.target or {}).get("label")), ("key", key)]
    table = "".join(f"<tr><th>{name}</th><td>{html.escape(str(value))}</td></tr>" for name, value in rows if value is not None)
    parts = [fig.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False)
             for i, fig in enumerate(figures)]
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>interpboard · {html.escape(request.model)} · {html.escape(request.task)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}</style></head>"
        f"<body><h1>interpboard report</h1><table>{table}</table>{''.join(parts)}</body></html>"
    )
