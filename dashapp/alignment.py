"""Word-level views of an analysis, so models with different tokenizers line up.

`Analysis.words` are whitespace words of the input, the same for every tokenizer;
`token_words` maps each token to its word (None for special tokens).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dashapp.figures.tokens import readable_predictions
from interp.schema import Analysis, normalize_text
from interp.task_specs import TASK_SPECS

# labels are vocabulary words: "Paris" and "paris" are one word here
WORD_TASKS = tuple(name for name, spec in TASK_SPECS.items() if spec.predicts_word)


def _membership(analysis: Analysis) -> np.ndarray:
    """[n_words, n_tokens] 0/1: which tokens make up each word."""
    member = np.zeros((len(analysis.words), analysis.n_tokens), dtype=np.float32)
    for t, w in enumerate(analysis.token_words):
        if w is not None and 0 <= w < len(analysis.words):
            member[w, t] = 1.0
    return member


def word_saliency(analysis: Analysis, method: str) -> np.ndarray | None:
    """Each word's share of the saliency mass: sum of |token values|, normalised to sum 1."""
    if method not in analysis.saliency:
        return None
    totals = _membership(analysis) @ np.abs(np.asarray(analysis.saliency[method], dtype=np.float32))
    return totals / max(float(totals.sum()), 1e-12)


def word_attention(analysis: Analysis, layer: int) -> np.ndarray | None:
    """Head-averaged attention between words: summed over a word's key tokens, averaged over its queries."""
    if analysis.attention is None:
        return None
    member = _membership(analysis)
    matrix = analysis.attention[min(layer, analysis.num_layers - 1)].mean(axis=0)
    counts = np.maximum(member.sum(axis=1, keepdims=True), 1.0)
    return (member @ matrix @ member.T) / counts


def probabilities(analysis: Analysis) -> dict[str, float]:
    """{label as people read it: probability} of the listed predictions (a repeated word: its best)."""
    out: dict[str, float] = {}
    for label, p in zip(readable_predictions(analysis), analysis.predictions):
        out.setdefault(label.casefold() if analysis.request.task in WORD_TASKS else label, float(p["score"]))
    return out


def probability_difference(a: Analysis, b: Analysis) -> dict[str, float | None]:
    """P_a − P_b per label over the union of labels; None where one model did not list the label.

    A label outside a model's top-k has an unknown probability there, not 0: counting it as 0 drew every
    word of BERT's and RoBERTa's (never overlapping) lists as a gain for one and a loss for the other.
    Labels are compared as people read them (the same word, whatever its tokenizer's spelling).
    """
    pa, pb = probabilities(a), probabilities(b)
    labels = list(dict.fromkeys([*pa, *pb]))
    return {label: pa[label] - pb[label] if label in pa and label in pb else None for label in labels}


def candidate_words(analyses: Sequence[Analysis]) -> list[str]:
    """The union of the models' listed predictions, as each engine decoded them, best first model by model,
    one per word whatever its case: the words every model is then scored on (AnalysisRequest.candidates)."""
    first: dict[str, str] = {}
    for analysis in analyses:
        for prediction in analysis.predictions:
            word = normalize_text(str(prediction["label"]))
            if word:
                first.setdefault(word.casefold(), word)
    return list(first.values())


@dataclass(frozen=True)
class WordProbability:
    """One word's probability under two models; None where it is not one token of that model's vocabulary."""

    word: str
    a: float | None
    b: float | None
    pieces_a: tuple[str, ...] = ()  # how a model splits a word that is not one of its tokens
    pieces_b: tuple[str, ...] = ()

    @property
    def difference(self) -> float | None:
        return None if self.a is None or self.b is None else self.a - self.b


def word_probabilities(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[WordProbability]:
    """Two models' candidate_scores of the same words side by side, in the first's order."""
    by_word = {s["word"].casefold(): s for s in b}
    out = []
    for sa in a:
        sb = by_word.get(sa["word"].casefold())
        if sb is None:
            continue
        out.append(
            WordProbability(
                sa["word"],
                sa["score"],
                sb["score"],
                tuple(sa.get("pieces") or ()),
                tuple(sb.get("pieces") or ()),
            )
        )
    return out
