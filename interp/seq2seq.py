"""Encoder-decoder models (BART, T5, MarianMT): a source text and a target text, given or generated.

One forward pass gives the three kinds of attention (encoder self, decoder self, cross) and the
top-k at every target position. Saliency explains each target token's log-probability on the
source tokens and the decoder's input tokens (the start token and the preceding target tokens),
as gradients on the word embeddings the model looks up: forward hooks on the embedding modules
swap in the tensors being differentiated, so the model's own embedding scaling stays in the graph.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch

from interp.attention import head_stats
from interp.request import DEFAULT_MAX_NEW_TOKENS
from interp.schema import Analysis, AnalysisRequest, InputError
from interp.stages import Stage
from interp.steps import Laps, explain_steps
from interp.tasks.base import Report
from interp.tasks.token import token_label, top_predictions
from interp.tokens import tokenize

if TYPE_CHECKING:
    from interp.loading import LoadedModel
    from interp.tasks.base import TaskEngine


def analyze_seq2seq(
    engine: TaskEngine, lm: LoadedModel, request: AnalysisRequest, report: Report
) -> Analysis:
    from interp.qk_capture import capturing_kinds, kind_qk  # (it imports interp.tasks, which imports this)

    item = tokenize(request.with_(pair=None), lm.tokenizer, lm.max_length)
    source = item.sequences[0]
    laps = Laps(Analysis(request, lm.fingerprint, [], [], [], [], [], [], None), report)
    targets = _target_ids(lm, request, source)
    decoder = [_decoder_start(lm), *targets[:-1]]
    src = torch.tensor([source], device=lm.device)
    dec = torch.tensor([decoder], device=lm.device)
    positions = torch.arange(len(targets), device=lm.device)
    with torch.inference_mode(), capturing_kinds(lm.model) as caught:  # q/k for the neuron view
        outputs = lm.model(input_ids=src, decoder_input_ids=dec, output_attentions=True)
        per_position = top_predictions(lm, outputs.logits[0], request.top_k)
    stack = lambda maps: torch.stack(maps)[:, 0].float().cpu().numpy()  # noqa: E731 ([L, H, q, k])
    analysis = laps.analysis
    analysis.tokens, analysis.token_words, analysis.words = item.tokens, item.token_words, item.words
    analysis.token_segments, analysis.special_tokens = item.token_segments, item.special_tokens
    analysis.truncated, analysis.device = item.truncated, str(lm.device)
    analysis.tokens_before_truncation = item.tokens_before_truncation
    analysis.attention = stack(outputs.encoder_attentions)
    analysis.decoder_attention = stack(outputs.decoder_attentions)
    analysis.cross_attention = stack(outputs.cross_attentions)
    analysis.head_stats = head_stats(analysis.attention, item.special_tokens)
    analysis.kind_qk = kind_qk(lm.model, caught)
    analysis.target_tokens = lm.tokenizer.convert_ids_to_tokens(targets)
    analysis.decoder_tokens = lm.tokenizer.convert_ids_to_tokens(decoder)
    analysis.steps = [
        {"token": token, "label": token_label(lm, i), "token_id": i, "position": t, "predictions": preds}
        for t, (token, i, preds) in enumerate(zip(analysis.target_tokens, targets, per_position))
    ]
    analysis.predictions = per_position[0]
    analysis.target = {"label": analysis.steps[0]["label"], "index": targets[0]}
    laps.done(Stage.FORWARD, 0.3)

    ns, nt = len(source), len(targets)
    label_ids = torch.tensor(targets, device=lm.device)

    def score(x: torch.Tensor) -> torch.Tensor:
        rows = x.shape[0]
        with swapped_embeddings(lm.model, [x[:, 0, :ns], x[:, 0, ns:]]):
            out = lm.model(input_ids=src.expand(rows, -1), decoder_input_ids=dec.expand(rows, -1))
        step = positions.repeat(rows // nt)
        return engine.target_scores(out, None, step, label_ids[step])

    with torch.no_grad():
        embeds = (
            torch.cat(
                [
                    lm.model.get_encoder().get_input_embeddings()(src),
                    lm.model.get_decoder().get_input_embeddings()(dec),
                ],
                dim=1,
            ).float()
        )  # [1, ns + nt, d]: what the embedding modules give, before any scaling the model applies after them
    explain_steps(
        score, embeds.expand(nt, -1, -1)[:, None], list(request.methods), request.ig_steps, laps=laps
    )
    laps.finish()
    return analysis


def _target_ids(lm: LoadedModel, request: AnalysisRequest, source: list[int]) -> list[int]:
    """The target's token ids: the pair's, or what the model generates greedily from the source."""
    if request.pair is not None:
        ids = lm.tokenizer(text_target=request.pair, truncation=True, max_length=lm.max_length)["input_ids"]
        if not ids:
            raise InputError("the target text has no tokens this model can read")
        return list(ids)
    with torch.inference_mode():
        out = lm.model.generate(
            input_ids=torch.tensor([source], device=lm.device),
            attention_mask=torch.ones(1, len(source), dtype=torch.long, device=lm.device),
            max_new_tokens=min(request.max_new_tokens or DEFAULT_MAX_NEW_TOKENS, lm.max_length - 1),
            do_sample=False,
            num_beams=1,
        )[0].tolist()
    return out[1:]  # after the decoder start token; a single sequence is never padded


def _decoder_start(lm: LoadedModel) -> int:
    start = lm.model.config.decoder_start_token_id
    if start is None:
        start = lm.model.generation_config.decoder_start_token_id
    if start is None:
        raise InputError(f"model {lm.spec.id} names no decoder start token")
    return int(start)


def _embedding_modules(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The encoder's and the decoder's token embedding modules (one module where they share it)."""
    found = [model.get_encoder().get_input_embeddings(), model.get_decoder().get_input_embeddings()]
    return [m for i, m in enumerate(found) if all(m is not other for other in found[:i])]


@contextmanager
def swapped_embeddings(model: torch.nn.Module, replacements: list[torch.Tensor]) -> Iterator[None]:
    """Each embedding lookup of the next forward returns the next of replacements (encoder first)."""
    queue = list(replacements)

    def swap(module, inputs, output):
        # In the model's precision: saliency's float32 embeddings (interp.saliency) enter as it would cast them.
        return queue.pop(0).to(output.dtype) if queue else output

    handles = [m.register_forward_hook(swap) for m in _embedding_modules(model)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
