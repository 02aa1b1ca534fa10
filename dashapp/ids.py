"""Every component id of the app, in one place (pages import these; tests too)."""

from __future__ import annotations

from typing import Any

# App shell
NAVBAR = "navbar"
THEME_SWITCH = "theme-switch"
THEME = "theme"  # dcc.Store: "light" | "dark"
THEME_DUMMY = "theme-dummy"

# Analyze page: inputs
MODEL = "analyze-model"
TASK = "analyze-task"
TEXT = "analyze-text"
PAIR = "analyze-pair"
PAIR_GROUP = "analyze-pair-group"
PAIR_LABEL = "analyze-pair-label"
TARGET = "analyze-target"
TARGET_CHOICES = "analyze-target-choices"  # html.Datalist of the current predictions
MASK_MODE = "analyze-mask-mode"
RUN = "analyze-run"
CANCEL = "analyze-cancel"
AUTORUN = "analyze-autorun"  # dcc.Store: a request from the URL, run once on load
MODEL_INFO = "analyze-model-info"

# Analyze page: job and view state (only keys and small dicts live in the browser)
JOB = "analyze-job"  # dcc.Store: {"key", "job_id", "cached"}
VIEW = "analyze-view"  # dcc.Store: {"key", "stages", "final"}
SELECTION = "analyze-selection"  # dcc.Store: {"layer", "head", "token", "method"}
MASK_MEMO = "analyze-mask-memo"  # dcc.Store: the word a click replaced with [MASK]
POLL = "analyze-poll"  # dcc.Interval
PROGRESS = "analyze-progress"
PROGRESS_TEXT = "analyze-progress-text"
PROGRESS_GROUP = "analyze-progress-group"
ALERT = "analyze-alert"
BADGE = "analyze-badge"
URL_QUERY = "analyze-url-query"  # dcc.Store: the query string for the address bar
URL_DUMMY = "analyze-url-dummy"
VIEWS = "analyze-views"

# Analyze page: selection controls
LAYER = "analyze-layer"
HEAD = "analyze-head"
METHOD = "analyze-method"
EDGE_TOP_K = "analyze-edge-top-k"
EDGE_THRESHOLD = "analyze-edge-threshold"

# Analyze page: views
PREDICTIONS = "analyze-predictions"
TOKEN_STRIP = "analyze-token-strip"
ATTENTION_GRAPH = "analyze-attention-graph"
HEATMAP = "analyze-heatmap"
TOKEN_FOCUS = "analyze-token-focus"
MODEL_GRID = "analyze-model-grid"
SALIENCY = "analyze-saliency"
SENSITIVITY = "analyze-sensitivity"
TOKEN_BUTTON = "token-button"  # pattern-matching: {"type": TOKEN_BUTTON, "index": i}

# Analyze page: export
EXPORT_JSON = "export-json"
EXPORT_CSV = "export-csv"
EXPORT_NPZ = "export-npz"
EXPORT_HTML = "export-html"
DOWNLOAD = "export-download"
IMAGE_FORMAT = "export-image-format"

# Compare page
CMP_TASK = "compare-task"
CMP_MODELS = "compare-models"
CMP_TEXT = "compare-text"
CMP_PAIR = "compare-pair"
CMP_PAIR_GROUP = "compare-pair-group"
CMP_RUN = "compare-run"
CMP_JOBS = "compare-jobs"  # dcc.Store: [{"model", "key", "job_id", "cached", "error"}]
CMP_POLL = "compare-poll"
CMP_LAYER = "compare-layer"
CMP_METHOD = "compare-method"
CMP_DIFF_A = "compare-diff-a"
CMP_DIFF_B = "compare-diff-b"
CMP_ALERT = "compare-alert"
CMP_STATUS = "compare-status"
CMP_COLUMNS = "compare-columns"
CMP_DIFF = "compare-diff"
CMP_IMAGE_FORMAT = "compare-image-format"

# History page
HIST_MODEL = "history-model"
HIST_TASK = "history-task"
HIST_QUERY = "history-query"
HIST_TABLE = "history-table"
HIST_DELETE = "history-delete"
HIST_CONFIRM = "history-confirm"
HIST_REFRESH = "history-refresh"  # dcc.Store: bumped after a delete
HIST_ALERT = "history-alert"


def drawn(view_id: str) -> str:
    """The dcc.Store beside a view holding the signature of what it has drawn (see dashapp.redraw)."""
    return f"{view_id}-drawn"


def token_button(index: int | Any) -> dict[str, Any]:
    """Pattern-matching id of one token in the strip (`dash.ALL` as index to match them all)."""
    return {"type": TOKEN_BUTTON, "index": index}
