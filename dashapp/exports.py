"""Downloads of one analysis: JSON, CSV, NPZ and a standalone HTML report of the current view."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

import jinja2
import numpy as np
import orjson
import plotly.graph_objects as go
from markupsafe import Markup

from dashapp.figures.common import MODEBAR_REMOVED, NO_CLOUD
from dashapp.figures.tokens import readable_predictions, readable_tokens
from interp.schema import SALIENCY_METHODS, Analysis


def to_json(analysis: Analysis, key: str) -> bytes:
    return orjson.dumps({"key": key, **analysis.to_json(full=True)}, option=orjson.OPT_INDENT_2)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP's CSV injection advice): a leading ' ."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def to_csv(analysis: Analysis) -> str:
    """Two tables in one file: saliency per token per method, then the predictions (texts neutralised)."""
    methods = [m for m in SALIENCY_METHODS if m in analysis.saliency]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["index", "token", "piece", "word", "special", *methods])  # token: raw; piece: as read
    for i, (token, piece) in enumerate(zip(analysis.tokens, readable_tokens(analysis))):
        writer.writerow(
            [
                i,
                csv_text(token),
                csv_text(piece),
                analysis.token_words[i],
                analysis.special_tokens[i],
                *(f"{float(analysis.saliency[m][i]):.7g}" for m in methods),
            ]
        )
    writer.writerow([])
    writer.writerow(["rank", "label", "score"])
    for rank, (prediction, label) in enumerate(zip(analysis.predictions, readable_predictions(analysis))):
        writer.writerow([rank, csv_text(label), f"{float(prediction['score']):.7g}"])
    return out.getvalue()


META_ENTRY = "meta"  # the .npz's entry holding the record's JSON metadata, as one string


def to_npz(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """The one .npz of an analysis (the page's download and the API's `/api/analyses/<key>.npz`), from its
    stored record (`Analysis.to_record()`, or a store's Record): `tokens` (strings), `meta` (the record's
    JSON metadata as one string: with the arrays it is the whole record, `Analysis.from_record(
    json.loads(str(npz["meta"])), npz)`; dashapp.client reads it so), then every stored array at its storage
    precision: `attention` [layers, heads, n, n], `attention_sensitivity` [layers, n, n],
    `saliency.<method>` [n] and `head_<statistic>` [layers, heads], as far as computed (`attention`
    rebuilt from stored q/k: `to_record(dense=True)`; the q/k arrays come too)."""
    buffer = io.BytesIO()
    record = np.array(orjson.dumps(meta).decode())  # a unicode array: np.load reads it without pickle
    np.savez_compressed(buffer, tokens=np.array(meta["tokens"], dtype=str), **{META_ENTRY: record}, **arrays)
    return buffer.getvalue()


# Autoescaped: the request's text is the user's; the figures' HTML is plotly's own (marked safe).
_REPORT = jinja2.Environment(autoescape=True).from_string(
    "<!DOCTYPE html><html><head><meta charset='utf-8'>"
    "<title>interpboard · {{ request.model }} · {{ request.task }}</title>"
    "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}"
    "{% if dark %}body{background:#212529;color:#dee2e6}{% endif %}</style></head>"
    "<body><h1>interpboard report</h1><table>"
    "{% for name, value in rows %}<tr><th>{{ name }}</th><td>{{ value }}</td></tr>{% endfor %}"
    "</table>{% for figure in figures %}{{ figure }}{% endfor %}</body></html>"
)


def html_report(analysis: Analysis, key: str, figures: Iterable[go.Figure], theme: str | None = None) -> str:
    """One self-contained page (plotly.js inline: the team's machines may be offline), in the figures'
    theme: dark figures on a dark page."""
    request = analysis.request
    rows = [
        ("model", request.model),
        ("task", request.task),
        ("text", request.text),
        ("pair", request.pair),
        ("target", (analysis.target or {}).get("label")),
        ("key", key),
    ]
    parts = [
        Markup(
            fig.to_html(
                full_html=False,
                include_plotlyjs="inline" if i == 0 else False,
                config={**NO_CLOUD, "displaylogo": False, "modeBarButtonsToRemove": list(MODEBAR_REMOVED)},
            )
        )
        for i, fig in enumerate(figures)
    ]
    shown = [(name, str(value)) for name, value in rows if value is not None]
    return _REPORT.render(request=request, rows=shown, figures=parts, dark=theme == "dark")
