"""Every component id of the app, in one place (pages import these; tests too)."""

from __future__ import annotations

from typing import Any


def view_id(name: str) -> str:
    """The component id of the Analyze page's view `name` (a View declares only its name)."""
    return f"analyze-{name}"


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
JOB = "analyze-job"  # dcc.Store: the job's record (dashapp.jobs) and its request
SHOWN = "analyze-shown"  # dcc.Store: the analysis on show {"key", "final", "stage", "permalink"}
SELECTION = "analyze-selection"  # dcc.Store: dashapp.selection's fields
MASK_MEMO = "analyze-mask-memo"  # dcc.Store: the word a click replaced with [MASK]
TOKEN_CLICK = (
    "analyze-token-click"  # dcc.Store: {"index", "n"} of the token button clicked last (in the browser)
)
MASK_CLICK = "analyze-mask-click"  # dcc.Store: {"index", "n"} of a token button clicked in mask mode
POLL = "analyze-poll"  # dcc.Interval
PART_JOBS = (
    "analyze-part-jobs"  # dcc.Store: [{"job_id", "part", "key", "state", "elapsed"}] asked from the page
)
PART_POLL = "analyze-part-poll"  # dcc.Interval following them
PART_NOTE = "analyze-part-note-"  # + a view's name: the state and cost of the part the view lacks
PART_BUTTON = "analyze-part-button-"  # + a view's name: asks for that part
PART_CANCEL = "analyze-part-cancel-"  # + a view's name: cancels the job computing that part


def part_note(view: str) -> str:
    return PART_NOTE + view


def part_button(view: str) -> str:
    return PART_BUTTON + view


def part_cancel(view: str) -> str:
    return PART_CANCEL + view


PROGRESS = "analyze-progress"
PROGRESS_TEXT = "analyze-progress-text"
PROGRESS_GROUP = "analyze-progress-group"
ALERT = "analyze-alert"
BADGE = "analyze-badge"
URL_QUERY = "analyze-url-query"  # dcc.Store: the query string for the address bar
URL_DUMMY = "analyze-url-dummy"
LINK_OPTIONS = "analyze-link-options"  # dcc.Store: the views' options and theme a link named, applied on load
SHARE_GROUP = "analyze-share"
SHARE_LINK = "analyze-share-link"  # html.A: the analysis on show with how it is viewed
COPY_LINK = "analyze-copy-link"  # dcc.Clipboard: copies SHARE_LINK's address
VIEWS = "analyze-views"
SHOWING = "analyze-showing"  # what the views show, and whether the form still asks for it
EXPORT_LABEL = "export-label"

# Analyze page: selection controls
LAYER = "analyze-layer"
HEAD = "analyze-head"
METHOD = "analyze-method"
EDGE_TOP_K = "analyze-edge-top-k"
EDGE_THRESHOLD = "analyze-edge-threshold"
PAIR_FILTER = "analyze-pair-filter"  # the sentence-pair filter of the head view, graph and heatmap
PAIR_FILTER_GROUP = "analyze-pair-filter-group"  # shown for two-sentence analyses
KIND = "analyze-kind"  # attention kind: encoder, decoder, cross (seq2seq)
KIND_GROUP = "analyze-kind-group"  # shown for analyses with more than one kind
INCLUDE_LAYERS = "analyze-include-layers"  # the model overview's layers (BertViz include_layers)
INCLUDE_HEADS = "analyze-include-heads"  # the overview's and head view's heads (include_heads)
GENERATE = "analyze-generate"  # causal-lm: tokens to generate; seq2seq: at most this many without a target
SEED = "analyze-seed"  # causal-lm generation: sampling seed (blank: greedy)
GENERATE_GROUP = "analyze-generate-group"
GENERATE_LABEL = "analyze-generate-label"
SEED_GROUP = "analyze-seed-group"

# Analyze page: views (declared in dashapp.views; their ids named here for tests and benchmarks)
PREDICTIONS = view_id("predictions")
TOKEN_STRIP = view_id("token-strip")
ATTENTION_GRAPH = view_id("attention-graph")
HEAD_VIEW = view_id("head-view")
STEPS = view_id("steps")
HEATMAP = view_id("heatmap")
TOKEN_FOCUS = view_id("token-focus")
MODEL_GRID = view_id("model-grid")
SALIENCY = view_id("saliency")
SENSITIVITY = view_id("sensitivity")
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
CMP_PAIR_LABEL = "compare-pair-label"
CMP_HINT = "compare-hint"  # what to do when fewer than two models of the task are on this machine
CMP_RUN = "compare-run"
CMP_AUTORUN = "compare-autorun"  # dcc.Store: a link named models and text: run once on load
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


def preview(view_id: str) -> str:
    """The larger figure beside a view of what is hovered in it (dashapp.views View.hover_preview)."""
    return f"{view_id}-preview"


def hovered(view_id: str) -> str:
    """A dcc.Store the browser's hover highlight writes to (the clientside callback needs an output)."""
    return f"{view_id}-hovered"


def card(view_id: str) -> str:
    """The element holding a view's card (hidden where the view does not apply: View.applies)."""
    return f"{view_id}-card"


def view_selection(view_id: str) -> str:
    """A dcc.Store of the selection as of its last change that the view shows (the browser passes on only
    those: a token click asks nothing of the views that show no token)."""
    return f"{view_id}-selection"


def mark(view_id: str) -> str:
    """A dcc.Store of the shapes that mark the selected token on the view (View.overlay), which the browser
    moves (assets/marks.js)."""
    return f"{view_id}-mark"


def marked(view_id: str) -> str:
    """A dcc.Store the browser writes once it has moved a view's token mark (a clientside callback's output)."""
    return f"{view_id}-marked"


def drawn(view_id: str) -> str:
    """The dcc.Store beside a view holding the signature of what it has drawn (see dashapp.redraw)."""
    return f"{view_id}-drawn"


def token_button(index: int | Any) -> dict[str, Any]:
    """Pattern-matching id of one token in the strip (`dash.ALL` as index to match them all)."""
    return {"type": TOKEN_BUTTON, "index": index}
