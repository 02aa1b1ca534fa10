"""Generation with a causal LM, explained step by step (request.generate tokens).

Decoding is one forward pass per step over the new token, with the KV cache; greedy, or sampled
from the full distribution with a seeded generator (request.sample_seed) so a result is reproducible
and cacheable. Each step's attention row comes from its own pass; the rows make one causal
[L, H, N, N] map over prompt + generated tokens. Saliency explains each step's log-probability of
the token chosen, on the prompt and the tokens before it: one batch, a row per step.
"""

from __future__ import annotations

import inspect
from contextlib import nullcontext
from typing import TYPE_CHECKING

import numpy as np
import torch

from interp.attention import head_stats
from interp.schema import Analysis, AnalysisRequest, InputError
from interp.stages import Stage
from interp.steps import Laps, explain_steps
from interp.tasks.base import Report
from interp.tasks.token import token_label, token_log_probs, top_predictions
from interp.tokens import tokenize

if TYPE_CHECKING:
    from interp.loading import LoadedModel
    from interp.tasks.base import TaskEngine


def analyze_generation(
    engine: TaskEngine, lm: LoadedModel, request: AnalysisRequest, report: Report
) -> Analysis:
    item = tokenize(request, lm.tokenizer, lm.max_length)
    prompt = item.sequences[0]
    if len(prompt) + request.generate > lm.max_length:
        raise InputError(
            f"the prompt ({len(prompt)} tokens) and {request.generate} generated tokens exceed model "
            f"{lm.spec.id}'s maximum length of {lm.max_length}"
        )
    analysis = Analysis(request, lm.fingerprint, [], [], [], [], [], [], None, device=str(lm.device))
    laps = Laps(analysis, report)
    chosen, predictions, attention, qk = decode(
        lm, prompt, request.generate, request.sample_seed, request.top_k
    )
    n0, T = len(prompt), len(chosen)
    tokens = lm.tokenizer.convert_ids_to_tokens(chosen)
    labels = [token_label(lm, i) for i in chosen]
    specials = set(lm.tokenizer.all_special_ids)
    analysis.tokens = item.tokens + tokens
    analysis.words = item.words + labels  # each generated token a word of its own
    analysis.token_words = item.token_words + list(range(len(item.words), len(item.words) + T))
    analysis.token_segments = item.token_segments + [1] * T
    analysis.special_tokens = item.special_tokens + [i in specials for i in chosen]
    analysis.attention = attention
    analysis.head_stats = head_stats(attention, analysis.special_tokens)
    if qk is not None:  # the neuron view's queries and keys (stored instead of the attention they rebuild)
        from interp import qk_capture  # (it imports interp.tasks, which imports this)

        qk_capture.store(analysis, *qk, lm.model, [len(analysis.tokens)])
    analysis.steps = [
        {"token": tok, "label": label, "token_id": i, "position": n0 - 1 + t, "predictions": preds}
        for t, (tok, label, i, preds) in enumerate(zip(tokens, labels, chosen, predictions))
    ]
    analysis.predictions, analysis.target = predictions[0], {"label": labels[0], "index": chosen[0]}
    laps.done(Stage.FORWARD, 0.3)

    ids = torch.tensor([prompt + chosen], device=lm.device)
    positions = torch.arange(n0 - 1, n0 - 1 + T, device=lm.device)
    chosen_ids = torch.tensor(chosen, device=lm.device)

    def score(x: torch.Tensor) -> torch.Tensor:
        step = torch.arange(T, device=lm.device).repeat(x.shape[0] // T)
        logits = lm.model(inputs_embeds=x[:, 0].to(lm.model.dtype)).logits  # float32 in: interp.saliency
        return token_log_probs(logits, positions[step], chosen_ids[step])

    with torch.no_grad():
        embeds = lm.embeddings(ids).float()  # [1, N, d], float32 whatever the model's precision
    explain_steps(
        score,
        embeds.expand(T, -1, -1)[:, None],
        list(request.methods),
        request.ig_steps,
        attention=attention,
        rows=positions.tolist(),
        laps=laps,
    )
    if analysis.step_saliency:  # the first step stands for the whole, as causal-lm's target does
        analysis.saliency = {m: v[0] for m, v in analysis.step_saliency.items()}
    laps.finish()
    return analysis


def decode(
    lm: LoadedModel, prompt: list[int], steps: int, seed: int | None, top_k: int
) -> tuple[list[int], list[list[dict]], np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """Chosen token ids, each step's top-k, the causal attention over prompt + chosen: [L, H, N, N], and the
    queries [L, H, N, d] and keys [L, H_kv, N, d] each pass gave (None where the model's attention is not
    rebuilt from them: interp.qk_capture.layout).

    Stops after the end-of-sequence token, as `generate` does.
    """
    from interp import qk_capture  # (it imports interp.tasks, which imports this)

    generator = None if seed is None else torch.Generator(device=lm.device).manual_seed(seed)
    eos = lm.model.generation_config.eos_token_id
    stop = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
    # transformers 5.x renames past_key_values to cache (the old name warns, then goes).
    cache_name = "cache" if "cache" in inspect.signature(lm.model.forward).parameters else "past_key_values"
    chosen: list[int] = []
    predictions: list[list[dict]] = []
    # Per pass, per layer [H, q, k]: k differs by layer where sliding layers keep only their window's keys.
    rows: list[list[torch.Tensor]] = []
    # Per pass, per layer: the hooks' q [H, q, d] and k [H_kv, q, d] of the tokens that pass ran (with the
    # KV cache, its one new token): in order, they are the whole sequence's, as the attention used them.
    keep_qk = qk_capture.layout(lm.model, [len(prompt)]) is not None
    passes: list[list[tuple[torch.Tensor, torch.Tensor]]] = []
    hooks = qk_capture.capturing(lm.model) if keep_qk else nullcontext([])
    with torch.inference_mode(), hooks as caught:
        out = lm.model(
            input_ids=torch.tensor([prompt], device=lm.device), use_cache=True, output_attentions=True
        )
        while True:
            rows.append([layer[0].float() for layer in out.attentions])
            passes.append([(got["q"][0], got["k"][0]) for got in caught])
            if len(chosen) == steps or (chosen and chosen[-1] in stop):
                break
            logits = out.logits[0, -1].float()
            if generator is None:
                token = int(logits.argmax())
            else:
                token = int(torch.multinomial(logits.softmax(-1), 1, generator=generator))
            chosen.append(token)
            predictions.append(top_predictions(lm, logits[None], top_k)[0])
            out = lm.model(
                input_ids=torch.tensor([[token]], device=lm.device),
                **{cache_name: getattr(out, cache_name)},
                use_cache=True,
                output_attentions=True,
            )
    n = len(prompt) + len(chosen)
    attention = np.zeros((len(rows[0]), rows[0][0].shape[0], n, n), dtype=np.float32)
    start = 0
    for block in rows:
        end = start + block[0].shape[-2]  # the tokens seen so far, this pass's included
        for layer, row in enumerate(block):
            # A layer's k keys are the last k positions (a sliding layer's cache drops the oldest).
            k = row.shape[-1]
            assert k <= end, f"layer {layer} attended {k} keys of {end} tokens"
            attention[layer, :, start:end, end - k : end] = row.cpu().numpy()
        start = end
    qk = None
    if keep_qk:
        qk = tuple(
            np.stack(
                [
                    torch.cat([p[layer][part] for p in passes], dim=1).float().cpu().numpy()
                    for layer in range(len(caught))
                ]
            )
            for part in (0, 1)
        )
    return chosen, predictions, attention, qk
