"""Compare page: one input through 2–4 models side by side, aligned at word level, and their difference."""

from dashapp.pages.compare.callbacks import register
from dashapp.pages.compare.page import (
    default_task,
    layer_range,
    layout,
    poll_compare,
    render_columns,
    render_difference,
    run_compare,
    task_changed,
)

__all__ = [
    "default_task",
    "layer_range",
    "layout",
    "poll_compare",
    "register",
    "render_columns",
    "render_difference",
    "run_compare",
    "task_changed",
]
