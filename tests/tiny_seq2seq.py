"""Tiny random-weight encoder-decoder models (BART, T5, MarianMT) with real tokenizers, built offline.

BART gets a byte-level BPE vocabulary like the RoBERTa fixture; T5 and Marian share a SentencePiece
(unigram) model trained on the fixture corpus with the `sentencepiece` package, served through the
fast T5 tokenizer (character offsets). Called by tests.tiny_models.build_tiny_models.
"""

from __future__ import annotations

from pathlib import Path

SEQ2SEQ_SIZES = dict(d_model=32, layers=2, heads=4, ffn=64)
MAX_POSITIONS = 64


def _sentencepiece_vocab(folder: Path, sentences: list[str]) -> list[tuple[str, float]]:
    """(piece, score) of a unigram model trained here; ids 0, 1, 2 are <pad>, </s>, <unk> as T5 wants."""
    import sentencepiece as spm

    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(sentences), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(folder / "spm"),
        vocab_size=300,
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    processor = spm.SentencePieceProcessor(model_file=str(folder / "spm.model"))
    return [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())]


def build_tiny_seq2seq(root: Path, sentences: list[str], bpe_folder) -> list[tuple[str, str, str]]:
    """Write the three models under root; return their (id, folder, task) registry entries.

    bpe_folder(folder, specials) trains the byte-level BPE files (tests.tiny_models._bpe_folder).
    """
    import torch
    from transformers import (
        BartConfig,
        BartForConditionalGeneration,
        BartTokenizer,
        MarianConfig,
        MarianMTModel,
        T5Config,
        T5ForConditionalGeneration,
        T5Tokenizer,
    )

    d, L, H, ffn = (SEQ2SEQ_SIZES[k] for k in ("d_model", "layers", "heads", "ffn"))
    entries: list[tuple[str, str, str]] = []

    def make(model_cls, config, tokenizer, name: str) -> None:
        torch.manual_seed(sum(map(ord, name)))
        model = model_cls(config).eval()
        model.save_pretrained(str(root / name))
        tokenizer.save_pretrained(str(root / name))
        entries.append((name, name, "seq2seq"))

    bart_tok = BartTokenizer.from_pretrained(
        str(bpe_folder(root / "_bpe_bart", ["<s>", "<pad>", "</s>", "<unk>", "<mask>"])),
        model_max_length=MAX_POSITIONS,
    )
    bart_cfg = BartConfig(
        vocab_size=len(bart_tok),
        d_model=d,
        encoder_layers=L,
        decoder_layers=L,
        encoder_attention_heads=H,
        decoder_attention_heads=H,
        encoder_ffn_dim=ffn,
        decoder_ffn_dim=ffn,
        max_position_embeddings=MAX_POSITIONS,
        pad_token_id=bart_tok.pad_token_id,
        bos_token_id=bart_tok.bos_token_id,
        eos_token_id=bart_tok.eos_token_id,
        decoder_start_token_id=bart_tok.eos_token_id,
        forced_bos_token_id=None,
        attn_implementation="eager",
    )
    make(BartForConditionalGeneration, bart_cfg, bart_tok, "tiny-bart")

    vocab = _sentencepiece_vocab(root / "_spm", sentences)
    sp_tok = T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=MAX_POSITIONS)
    t5_cfg = T5Config(
        vocab_size=len(sp_tok),
        d_model=d,
        d_kv=d // H,
        d_ff=ffn,
        num_layers=L,
        num_decoder_layers=L,
        num_heads=H,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=16,
        pad_token_id=sp_tok.pad_token_id,
        eos_token_id=sp_tok.eos_token_id,
        decoder_start_token_id=sp_tok.pad_token_id,
        attn_implementation="eager",
    )
    make(T5ForConditionalGeneration, t5_cfg, sp_tok, "tiny-t5")

    marian_cfg = MarianConfig(
        vocab_size=len(sp_tok),
        d_model=d,
        encoder_layers=L,
        decoder_layers=L,
        encoder_attention_heads=H,
        decoder_attention_heads=H,
        encoder_ffn_dim=ffn,
        decoder_ffn_dim=ffn,
        max_position_embeddings=MAX_POSITIONS,
        pad_token_id=sp_tok.pad_token_id,
        eos_token_id=sp_tok.eos_token_id,
        decoder_start_token_id=sp_tok.pad_token_id,
        scale_embedding=True,
        attn_implementation="eager",
    )
    make(MarianMTModel, marian_cfg, sp_tok, "tiny-marian")
    return entries
