"""Tokens as people read them, in every view, export and Compare (the raw tokens stay in the JSON and NPZ).

Tokenizers spell their pieces in their own ways: GPT-2 and RoBERTa's byte-level BPE writes a word's
leading space as "Ġ" (and every byte outside printable Latin-1 as another letter), WordPiece writes a
piece that continues a word as "##ick", SentencePiece a word start as "▁". People see the piece as text,
and one subtle mark, the same for every tokenizer: a piece that continues the word before it starts
with CONTINUES. Whether it does comes from the analysis' token → word map, not from the spelling.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import cache

from interp.schema import Analysis

CONTINUES = "·"  # before a piece that continues the previous token's word: "qu", "·ick"
_VISIBLE = {
    "\n": "⏎",
    "\t": "⇥",
    " ": "␣",
}  # symbols the common fonts have (the Control Pictures ␀ ␍ they lack)
_BYTE_LEVEL_ONLY = range(0x100, 0x144)  # letters byte-level BPE uses for spaces, controls and other bytes
_BYTE_LEVEL_SPECIALS = {"<s>", "</s>", "<|endoftext|>"}


@cache
def _byte_of() -> dict[str, int]:
    """GPT-2's byte ↔ letter table, reversed: printable Latin-1 stands for itself, other bytes for 256+."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    letters = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            letters.append(256 + extra)
            extra += 1
    return {chr(letter): byte for byte, letter in zip(printable, letters)}


def is_byte_level(tokens: Sequence[str], special: Sequence[bool] = ()) -> bool:
    """Whether the tokens are byte-level BPE (GPT-2, RoBERTa): a letter only it uses, or its specials."""
    specials = {t for t, s in zip(tokens, special) if s}
    return bool(specials & _BYTE_LEVEL_SPECIALS) or any(ord(c) in _BYTE_LEVEL_ONLY for t in tokens for c in t)


def visible(text: str) -> str:
    """Control and invisible characters as visible text: a NUL as <0x00>, like a byte of a broken character,
    never as an empty box (the Control Pictures "␀" are missing from the common fonts, and drew one)."""
    out = []
    for c in text:
        if c in _VISIBLE:
            out.append(_VISIBLE[c])
        elif unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(f"<0x{ord(c):02X}>" if ord(c) < 0x100 else f"<U+{ord(c):04X}>")
        else:
            out.append(c)
    return "".join(out)


def piece(token: str, byte_level: bool) -> str:
    """One token's text, its tokenizer's markers dropped (a blank piece shows as ␣)."""
    if byte_level:
        decoder = _byte_of()
        if all(c in decoder for c in token):  # a byte of a longer character shows as its hex value
            raw = bytes(decoder[c] for c in token).decode("utf-8", errors="backslashreplace")
            token = re.sub(r"\\x([0-9a-f]{2})", lambda m: f"<0x{m.group(1).upper()}>", raw)
    else:
        token = token.removeprefix("##").replace("▁", " ")
    text = token.strip(" ")
    return visible(text) if text else "␣"


def readable_tokens(analysis: Analysis) -> list[str]:
    """Every token of the analysis as people read it: specials as they are, pieces as text, continuations
    marked."""
    byte_level = is_byte_level(analysis.tokens, analysis.special_tokens)
    out = []
    previous_word = None
    for token, word, special in zip(analysis.tokens, analysis.token_words, analysis.special_tokens):
        if special:
            out.append(token)
        else:
            mark = CONTINUES if word is not None and word == previous_word else ""
            out.append(mark + piece(token, byte_level))
        previous_word = None if special else word
    return out


def readable_predictions(analysis: Analysis) -> list[str]:
    """The predictions' labels as people read them: a label the engine could not decode (it kept the raw
    token, a byte of a longer character) is decoded here like the tokens are."""
    byte_level = is_byte_level(analysis.tokens, analysis.special_tokens)
    return [
        piece(p["label"], byte_level) if p.get("token") == p["label"] else readable_label(p["label"])
        for p in analysis.predictions
    ]


def readable_vocabulary_label(label: str, byte_level: bool = False) -> str:
    """A decoded vocabulary token's label (a prediction, a logit-lens entry, a candidate word): a WordPiece
    continuation ("##st") with the continuation mark; a byte-level token the engine kept raw (a space "Ġ", a
    byte of a longer character) decoded like the tokens are; every other label as readable_label shows it."""
    if label.startswith("##") and len(label) > 2:
        return CONTINUES + label[2:]
    if byte_level and any(ord(c) in _BYTE_LEVEL_ONLY for c in label) and all(c in _byte_of() for c in label):
        return piece(label, byte_level=True)
    return readable_label(label)


def readable_label(label: str) -> str:
    """A decoded prediction label (already text): only its invisible characters made visible."""
    text = str(label).strip(" ")
    return visible(text) if text else "␣"
