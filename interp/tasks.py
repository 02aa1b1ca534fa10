"""Per-task behaviour: the model call on word embeddings, predictions, the target and its scalar.

The target scalar is what every saliency method explains: the target class logit (sst, mnli),
the target token's logit at the mask (mlm) or after the last token (causal-lm), and the cosine
similarity of the two mean-pooled sentence embeddings (similarity).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from interp.loading import LoadedModel
from interp.schema import AnalysisRequest, InputError
from interp.tokens import Batch, Tokenized

TOKEN_TASKS = ("mlm", "causal-lm")
CLASS_TASKS = ("sst", "mnli")
SIMILARITY_LABEL = "cosine similarity"


def read_position(task: str, item: Tokenized) -> int:
    """The token position whose output the prediction reads."""
    if task == "mlm":
        return int(item.mask_position)  # type: ignore[arg-type]
    if task == "causal-lm":
        return item.lengths[0] - 1
    return 0


def reading_rows(task: str, item: Tokenized) -> list[list[int]]:
    """Groups of (concatenated) token rows whose attention rollout explains the prediction."""
    if task == "similarity":
        na, nb = item.lengths
        return [list(range(na)), list(range(na, na + nb))]
    return [[read_position(task, item)]]


def run_model(lm: LoadedModel, embeds: torch.Tensor, batch: Batch, *, attentions: bool = False, head: bool = True) -> Any:
    """Forward [B, S, n, d] word embeddings (the model adds positions and types itself).

    head=False runs the encoder alone: enough for attention, and it spares a vocabulary-sized projection.
    """
    B, S, n, d = embeds.shape
    kwargs: dict[str, Any] = dict(inputs_embeds=embeds.reshape(B * S, n, d),
                                  attention_mask=batch.attention_mask.reshape(B * S, n), output_attentions=attentions)
    if batch.token_type_ids is not None:
        kwargs["token_type_ids"] = batch.token_type_ids.reshape(B * S, n)
    return (lm.model if head else lm.model.base_model)(**kwargs)


def mean_pooled(outputs: Any, batch: Batch) -> torch.Tensor:
    """Attention-mask weighted mean of the last hidden states: [B, S, hidden]."""
    B, S, n = batch.shape
    hidden = outputs.last_hidden_state.reshape(B, S, n, -1)
    weights = batch.attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(2) / weights.sum(2).clamp(min=1)


def target_scores(task: str, outputs: Any, batch: Batch, read_pos: torch.Tensor, target_ids: torch.Tensor) -> torch.Tensor:
    """The scalar each request's saliency explains: [B]."""
    if task == "similarity":
        pooled = mean_pooled(outputs, batch)
        return F.cosine_similarity(pooled[:, 0], pooled[:, 1], dim=-1)
    logits = outputs.logits
    if task in CLASS_TASKS:
        return logits.gather(1, target_ids[:, None])[:, 0]
    rows = torch.arange(logits.shape[0], device=logits.device)
    return logits[rows, read_pos, target_ids]


def token_label(lm: LoadedModel, token_id: int) -> str:
    """A readable form of one vocabulary token (BPE space marker dropped); the raw token where that
    would be blank or a broken character (a byte-level piece of a longer character)."""
    raw = lm.tokenizer.convert_ids_to_tokens(token_id)
    readable = lm.tokenizer.convert_tokens_to_string([raw]).strip()
    return raw if not readable or "\ufffd" in readable else readable


def predictions(task: str, lm: LoadedModel, outputs: Any, batch: Batch, read_pos: torch.Tensor, top_k: int) -> list[list[dict[str, Any]]]:
    """Per request: top-k tokens (best first), every class (model order), or the cosine similarity."""
    if task == "similarity":
        pooled = mean_pooled(outputs, batch)
        cosine = F.cosine_similarity(pooled[:, 0], pooled[:, 1], dim=-1)
        return [[{"label": SIMILARITY_LABEL, "score": float(c)}] for c in cosine]
    if task in CLASS_TASKS:
        probs = outputs.logits.float().softmax(-1)
        return [[{"label": name, "score": float(p[i]), "index": i, "logit": float(row[i])} for i, name in enumerate(lm.labels)]
                for p, row in zip(probs, outputs.logits.float())]
    rows = torch.arange(outputs.logits.shape[0], device=outputs.logits.device)
    logits = outputs.logits[rows, read_pos].float()
    top = logits.softmax(-1).topk(min(top_k, logits.shape[-1]), dim=-1)
    return [[{"label": token_label(lm, int(i)), "score": float(p), "token_id": int(i),
              "token": lm.tokenizer.convert_ids_to_tokens(int(i))}
             for p, i in zip(ps, ids)] for ps, ids in zip(top.values, top.indices)]


def requested_target(request: AnalysisRequest, lm: LoadedModel) -> dict[str, Any] | None:
    """{"label", "index"} for the request's own target, None to explain the top prediction.

    index is the class index (sst, mnli) or the vocabulary id (mlm, causal-lm). Checked before
    any computation, so a bad target costs nothing.
    """
    task, wanted = request.task, request.target
    if wanted is None:
        return None
    if task == "similarity":
        raise InputError("similarity explains the cosine similarity of the two sentences; it takes no target")
    if task in CLASS_TASKS:
        for i, name in enumerate(lm.labels):
            if wanted.lower() == name.lower() or wanted == str(i):
                return {"label": name, "index": i}
        raise InputError(f"unknown target label {wanted!r}; model {lm.spec.id} has labels {', '.join(lm.labels)}")
    token_id = _single_token(lm, wanted)
    return {"label": token_label(lm, token_id), "index": token_id}


def default_target(task: str, preds: list[dict[str, Any]]) -> dict[str, Any]:
    """The top prediction as a target."""
    if task == "similarity":
        return {"label": SIMILARITY_LABEL, "index": 0}
    best = max(preds, key=lambda p: p["score"])
    return {"label": best["label"], "index": best["index"] if task in CLASS_TASKS else best["token_id"]}


def _single_token(lm: LoadedModel, wanted: str) -> int:
    tokenizer = lm.tokenizer
    vocab = tokenizer.get_vocab()
    if wanted in vocab:
        return vocab[wanted]
    pieces: list[str] = []
    for candidate in (wanted, " " + wanted):  # byte-level BPE spells a word after a space differently
        ids = tokenizer.encode(candidate, add_special_tokens=False)
        if len(ids) == 1 and ids[0] != tokenizer.unk_token_id:
            return ids[0]
        pieces = pieces or tokenizer.convert_ids_to_tokens(ids)
    raise InputError(f"target {wanted!r} is not a single token of model {lm.spec.id}'s vocabulary "
                     f"(it splits into {' '.join(pieces) or 'nothing'})")
