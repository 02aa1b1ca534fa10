"""Analyze page: one model, one input, every view linked by one selection.

The browser holds only small dicts (the job's record, the key and stage of the analysis on show, the
selection); each view's callback asks `Services` for the Analysis and sends back just what it shows.
The views are declared once, in dashapp.views: the layout (layout.py) and the callbacks (callbacks.py)
are generated from that list. Callback bodies are plain functions of their inputs (run.py, selecting.py,
drawing.py; tests call them directly); `register` wires them to one app.
"""

from dashapp.pages.analyze.callbacks import register

__all__ = ["register"]
