"""The Dash app: a multi-page dashboard over the job layer and the result store.

Never imports torch: models live in the workers; this process only submits requests and reads
results (see ARCHITECTURE.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from dashapp import api, auth, edges, ids
from dashapp.pages import analyze, compare, components, history, permalink
from dashapp.services import Services

ASSETS = Path(__file__).parent / "assets"


def create_app(*, executor: Any = None) -> dash.Dash:
    """A new app; `executor=None` uses `workers.get_executor()` (created on the first request)."""
    services = Services(executor)
    # Bootstrap's CSS is served from assets/ (the team's machines may be offline): no CDN themes.
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS),
        title="interpboard",
        suppress_callback_exceptions=True,  # pages mount their components only when shown
    )
    # dash.register_page fills a process-wide registry: every app registers the same pages, so a second app works.
    analyze.register(app, services)
    permalink.register(app)
    compare.register(app, services)
    history.register(app, services)
    app.layout = html.Div(
        [
            dcc.Store(id=ids.THEME, storage_type="local", data="light"),
            html.Div(id=ids.THEME_DUMMY, hidden=True),
            components.navbar(),
            dbc.Container(dash.page_container, fluid=True),
        ]
    )
    app.callback(
        Output(ids.THEME, "data"),
        Output(ids.THEME_SWITCH, "value"),
        Input(ids.THEME_SWITCH, "value"),
        Input(ids.THEME, "data"),
    )(lambda dark, theme: sync_theme(dash.ctx.triggered_id, dark, theme))
    app.clientside_callback(
        """function(theme) { document.documentElement.setAttribute("data-bs-theme", theme || "light"); return ""; }""",
        Output(ids.THEME_DUMMY, "children"),
        Input(ids.THEME, "data"),
    )
    api.register_api(app.server, lambda: services.executor)
    auth.install_auth(app)
    edges.install_edges(app)
    return app


def sync_theme(trigger: str | None, dark: bool | None, theme: str | None) -> tuple[str, bool]:
    """The switch and the remembered theme (local storage) follow each other."""
    if trigger == ids.THEME_SWITCH:
        theme = "dark" if dark else "light"
    theme = theme if theme in ("light", "dark") else "light"
    return theme, theme == "dark"


def serve(host: str = "127.0.0.1", port: int = 8050, debug: bool = False) -> None:
    """The development server (`interpboard serve`, `make run`)."""
    from dashapp.auth import warn_if_open

    warn_if_open(host)
    create_app().run(host=host, port=port, debug=debug)
