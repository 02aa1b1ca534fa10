"""A small real workload for the cost model's calibration (interp.calibration): a random-weight BERT-shaped
classifier built in memory, with a word-level tokenizer of its own, prepared as the worker prepares a
request. Its parts run through the engine's own functions (interp.parts), so the calibration times what
the worker runs, not a stand-in. Small enough to time every kind of part in about a second on one CPU thread.
"""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

from interp.loading import LoadedModel
from interp.parts import Subject, prepare_on
from interp.registry import ModelSpec
from interp.schema import METHODS, AnalysisRequest

MODEL_ID = "interpboard-calibration-probe"
# MiniLM's width with bert-base's head size (64), two layers (one below the second: the sensitivity's
# "below" work), 8 integrated-gradient steps; 64 tokens (at 48 the per-call costs of the short parts
# showed: widths 10-30% over the real models' and noisier on a shared machine).
HIDDEN, HEADS, LAYERS, TOKENS, IG_STEPS = 384, 6, 2, 64, 8
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def _tokenizer(words: list[str]) -> PreTrainedTokenizerFast:
    backend = Tokenizer(
        models.WordLevel({w: i for i, w in enumerate([*SPECIALS, *words])}, unk_token="[UNK]")
    )
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]"
    )


def probe_subject(device: torch.device) -> Subject:
    """The probe model on `device` with a request of TOKENS tokens asking for every method."""
    words = [f"w{i}" for i in range(TOKENS - 2)]
    config = BertConfig(
        vocab_size=len(SPECIALS) + len(words),
        hidden_size=HIDDEN,
        num_attention_heads=HEADS,
        num_hidden_layers=LAYERS,
        intermediate_size=4 * HIDDEN,
        num_labels=2,
        attn_implementation="eager",
    )
    # The same weights every time, the caller's random state untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = BertForSequenceClassification(config).eval().requires_grad_(False).to(device)
    lm = LoadedModel(
        spec=ModelSpec(id=MODEL_ID, path=MODEL_ID, tasks=("sst",)),
        fingerprint=MODEL_ID,
        task="sst",
        model=model,
        tokenizer=_tokenizer(words),
        labels=("negative", "positive"),
        max_length=config.max_position_embeddings,
        device=device,
        param_bytes=sum(p.numel() * p.element_size() for p in model.parameters()),
    )
    request = AnalysisRequest(MODEL_ID, "sst", " ".join(words), methods=METHODS, ig_steps=IG_STEPS)
    return prepare_on(request, lm)
