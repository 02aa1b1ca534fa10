"""BertViz's sentence-pair filters (A→A, A→B, B→A, B→B): which sentence the query is in, which the key is in.

One filter for every attention view that takes it (the head view, the attention graph, the heatmap): one
control on the page, these helpers in the figures.
"""

from __future__ import annotations

import numpy as np

PAIR_FILTERS = {"all": None, "AA": (0, 0), "AB": (0, 1), "BA": (1, 0), "BB": (1, 1)}
PAIR_LABELS = {"all": "All", "AA": "A→A", "AB": "A→B", "BA": "B→A", "BB": "B→B"}
NO_SENTENCE_B = "this input has one sentence: no sentence B to filter on"


def pair_mask(
    query_segments: np.ndarray,
    key_segments: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    pair: str | None,
) -> np.ndarray:
    """The edges (query index `source`, key index `target`) the filter keeps."""
    wanted = PAIR_FILTERS.get(pair or "all")
    if wanted is None:
        return np.ones(np.shape(source), dtype=bool)
    return (query_segments[source] == wanted[0]) & (key_segments[target] == wanted[1])


def cell_mask(query_segments: np.ndarray, key_segments: np.ndarray, pair: str | None) -> np.ndarray | None:
    """[queries, keys]: the cells of a matrix the filter keeps; None when it keeps every cell."""
    wanted = PAIR_FILTERS.get(pair or "all")
    if wanted is None:
        return None
    return np.outer(query_segments == wanted[0], key_segments == wanted[1])


def lacks_sentence_b(query_segments: np.ndarray, key_segments: np.ndarray, pair: str | None) -> bool:
    """Whether the filter asks for a sentence B the input does not have."""
    wanted = PAIR_FILTERS.get(pair or "all")
    if wanted is None:
        return False
    return (wanted[0] == 1 and not (query_segments == 1).any()) or (
        wanted[1] == 1 and not (key_segments == 1).any()
    )


def pair_name(pair: str | None) -> str:
    return PAIR_LABELS.get(pair or "all", "All")


def has_two_sentences(segments: list[int]) -> bool:
    return 1 in segments
