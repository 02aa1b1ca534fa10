"""History page: the team's cached analyses, searchable and sortable; open, link or delete one."""

from __future__ import annotations

import logging
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dash_table, dcc, html, no_update

from cache.keys import is_key
from dashapp import ids
from dashapp.pages import components as ui
from dashapp.services import Services
from interp.schema import TASKS

log = logging.getLogger(__name__)

HISTORY_LIMIT = 500
TEXT_PREVIEW = 120
COLUMNS = [
    {"name": "model", "id": "model"},
    {"name": "task", "id": "task"},
    {"name": "text", "id": "text"},
    {"name": "computed (UTC)", "id": "when"},
    {"name": "tokens", "id": "n_tokens", "type": "numeric"},
    {"name": "seconds", "id": "seconds", "type": "numeric", "format": {"specifier": ".2f"}},
    {"name": "open", "id": "open", "presentation": "markdown"},
]

# The table takes Bootstrap's colours (CSS variables), so it follows the light/dark switch.
TABLE_STYLE = {
    "style_cell": {
        "textAlign": "left",
        "whiteSpace": "normal",
        "maxWidth": "40vw",
        "fontFamily": "var(--bs-body-font-family)",
        "backgroundColor": "var(--bs-body-bg)",
        "color": "var(--bs-body-color)",
        "border": "1px solid var(--bs-border-color)",
    },
    "style_header": {"backgroundColor": "var(--bs-tertiary-bg)", "fontWeight": "bold"},
    "style_filter": {"backgroundColor": "var(--bs-tertiary-bg)"},
    "css": [
        {"selector": ".dash-filter input", "rule": "color: var(--bs-body-color) !important;"},
        {
            "selector": ".dash-filter input::placeholder",
            "rule": "color: var(--bs-secondary-color) !important;",
        },
        {"selector": ".dash-cell-value a, .cell-markdown a", "rule": "color: var(--bs-link-color);"},
        # the filter's case toggle ("Aa") is drawn faded nearly white on white (1.2:1)
        {
            "selector": ".dash-filter--case",
            "rule": "color: var(--bs-secondary-color) !important; opacity: 1 !important;",
        },
    ],
}


def layout(**_query: Any) -> html.Div:
    registry, error = ui.registry_or_none()
    models = list(registry.models) if registry else []
    return html.Div(
        [
            dcc.Store(id=ids.HIST_REFRESH, data=0),
            dcc.ConfirmDialog(
                id=ids.HIST_CONFIRM, message="Delete the selected analysis from the shared cache?"
            ),
            dbc.Row(
                [
                    dbc.Col(dcc.Dropdown(id=ids.HIST_MODEL, options=models, placeholder="any model"), md=3),
                    dbc.Col(
                        dcc.Dropdown(
                            id=ids.HIST_TASK, options=ui.task_options(TASKS), placeholder="any task"
                        ),
                        md=3,
                    ),
                    dbc.Col(
                        dbc.Input(
                            id=ids.HIST_QUERY, placeholder="search the text…", debounce=True, type="search"
                        ),
                        md=4,
                    ),
                    dbc.Col(
                        dbc.Button("Delete selected", id=ids.HIST_DELETE, color="danger", outline=True), md=2
                    ),
                ],
                className="mb-2",
            ),
            html.Div(ui.alert(error) if error else None, id=ids.HIST_ALERT),
            dash_table.DataTable(
                id=ids.HIST_TABLE,
                columns=COLUMNS,
                data=[],
                sort_action="native",
                filter_action="native",
                row_selectable="single",
                page_size=25,
                markdown_options={"link_target": "_self"},
                **TABLE_STYLE,
            ),
        ]
    )


def history_row(entry: dict[str, Any]) -> dict[str, Any] | None:
    """A table row from a store index entry (request fields nested or flat); None for a malformed entry."""
    key = str(entry.get("key", ""))
    if not is_key(key):  # the key goes into a markdown link: only plain hex passes
        return None
    request = entry.get("request") if isinstance(entry.get("request"), dict) else entry
    text = str(request.get("text") or "")
    if request.get("pair"):
        text += f" ‖ {request['pair']}"
    seconds = entry.get("compute_seconds")
    return {
        "key": key,
        "model": str(request.get("model", "")),
        "task": str(request.get("task", "")),
        "text": text if len(text) <= TEXT_PREVIEW else text[:TEXT_PREVIEW] + "…",
        "when": ui.when(entry.get("created_at")),
        "n_tokens": entry.get("n_tokens"),
        "seconds": float(seconds) if seconds is not None else None,
        "open": f"[open](/analysis/{key})",
    }


def history_rows(
    services: Services, model: str | None, task: str | None, query: str | None
) -> tuple[list, Any]:
    try:
        entries = services.executor.store.index(
            model=model or None, task=task or None, q=query or None, limit=HISTORY_LIMIT
        )
    except Exception as exc:  # the shared store is down: say so instead of an empty table
        log.exception("history index failed")
        return [], ui.alert(f"cannot read the history: {type(exc).__name__}: {exc}")
    return [row for row in map(history_row, entries) if row is not None], None


def delete_selected(
    services: Services, rows: list[dict] | None, selected: list[int] | None
) -> tuple[Any, str]:
    """Delete the selected row's analysis; (alert, what happened)."""
    if not rows or not selected or selected[0] >= len(rows):
        return ui.alert("select a row first", "warning"), "none"
    key = rows[selected[0]]["key"]
    deleted = services.executor.store.delete(key)
    services.forget(key)
    return ui.alert(f"deleted {key[:12]}…" if deleted else f"{key[:12]}… was already gone", "info"), key


def ask_to_delete(rows: list[dict] | None, selected: list[int] | None) -> tuple[bool, Any]:
    """(show the confirm dialog, alert): nothing selected says so at once, without asking to confirm."""
    if not rows or not selected or selected[0] >= len(rows):
        return False, ui.alert("select a row first", "warning")
    return True, no_update


def register(app: dash.Dash, services: Services) -> None:
    dash.register_page(
        __name__, path="/history", name="History", title="interpboard · history", layout=layout, order=2
    )

    @app.callback(
        Output(ids.HIST_TABLE, "data"),
        Output(ids.HIST_ALERT, "children"),
        Output(ids.HIST_TABLE, "selected_rows"),
        Input(ids.HIST_MODEL, "value"),
        Input(ids.HIST_TASK, "value"),
        Input(ids.HIST_QUERY, "value"),
        Input(ids.HIST_REFRESH, "data"),
    )
    def _rows(model, task, query, _refresh):
        rows, problem = history_rows(services, model, task, query)
        return rows, problem if problem is not None else no_update, []

    app.callback(
        Output(ids.HIST_CONFIRM, "displayed"),
        Output(ids.HIST_ALERT, "children", allow_duplicate=True),
        Input(ids.HIST_DELETE, "n_clicks"),
        State(ids.HIST_TABLE, "derived_virtual_data"),
        State(ids.HIST_TABLE, "derived_virtual_selected_rows"),
        prevent_initial_call=True,
    )(lambda _n, rows, selected: ask_to_delete(rows, selected))

    @app.callback(
        Output(ids.HIST_ALERT, "children", allow_duplicate=True),
        Output(ids.HIST_REFRESH, "data"),
        Input(ids.HIST_CONFIRM, "submit_n_clicks"),
        State(ids.HIST_TABLE, "derived_virtual_data"),
        State(ids.HIST_TABLE, "derived_virtual_selected_rows"),
        State(ids.HIST_REFRESH, "data"),
        prevent_initial_call=True,
    )
    def _delete(_n, rows, selected, refresh):
        message, key = delete_selected(services, rows, selected)
        return message, (refresh or 0) + 1 if key != "none" else no_update
