"""Synthetic Analyses built with numpy: figures and callbacks are tested without the engine."""

from __future__ import annotations

import numpy as np

from interp.schema import SALIENCY_METHODS, Analysis, AnalysisRequest

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"]


def synthetic_analysis(
    n_words: int = 6,
    layers: int = 3,
    heads: int = 4,
    model: str = "tiny-bert-mlm",
    task: str = "mlm",
    text: str | None = None,
    seed: int = 0,
    stages: str = "all",
) -> Analysis:
    """[CLS] w0 w1 … [SEP], one token per word (w1 split in two pieces, like WordPiece would)."""
    rng = np.random.default_rng(seed)
    words = [WORDS[i % len(WORDS)] for i in range(n_words)]
    tokens, token_words = ["[CLS]"], [None]
    for w, word in enumerate(words):
        pieces = [word[:2], "##" + word[2:]] if w == 1 and len(word) > 2 else [word]
        tokens += pieces
        token_words += [w] * len(pieces)
    tokens.append("[SEP]")
    token_words.append(None)
    n = len(tokens)
    if text is None:
        text = " ".join(words[:-1] + (["[MASK]"] if task == "mlm" else [words[-1]]))
    request = AnalysisRequest(
        model=model, task=task, text=text, pair="a pair sentence" if task in ("mnli", "similarity") else None
    )
    logits = rng.normal(size=(layers, heads, n, n)) * 3
    attention = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    predictions = (
        [{"label": w, "score": s} for w, s in zip(("cat", "dog", "<b>x</b>"), (0.5, 0.3, 0.2))]
        if task == "mlm"
        else [{"label": "negative", "score": 0.4}, {"label": "positive", "score": 0.6}]
    )
    analysis = Analysis(
        request=request,
        fingerprint="local:synthetic",
        tokens=tokens,
        token_words=token_words,
        words=words,
        token_segments=[0] * n,
        special_tokens=[t in ("[CLS]", "[SEP]") for t in tokens],
        predictions=predictions,
        target={"label": predictions[0]["label"], "index": 0},
        mask_position=n - 2 if task == "mlm" else None,
        attention=attention.astype(np.float32),
        head_stats={
            name: rng.random((layers, heads)).astype(np.float32)
            for name in ("entropy", "special_share", "mean_distance")
        },
        stages_done=["forward"],
    )
    if stages == "all":
        analysis.saliency = {m: rng.normal(size=n).astype(np.float32) for m in SALIENCY_METHODS}
        analysis.saliency_info = {"integrated_gradients": {"delta": 0.0123}}
        analysis.attention_sensitivity = rng.random((layers, n, n)).astype(np.float32)
        analysis.stages_done = ["forward", "saliency", "sensitivity", "done"]
    return analysis
