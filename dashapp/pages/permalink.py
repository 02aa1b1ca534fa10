"""Permalink page: /analysis/<key> opens a cached analysis for anyone on the team."""

from __future__ import annotations

import dash

from dashapp.pages.analyze.layout import layout_for_key


def register(app: dash.Dash) -> None:
    dash.register_page(
        __name__,
        path_template="/analysis/<key>",
        name="Analysis",
        title="interpboard · analysis",
        layout=layout_for_key,
    )
