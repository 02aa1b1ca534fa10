"""Chat-style prompts: the text as one user turn of the tokenizer's chat template, with the generation prompt.

Asked for by a registry entry (`chat_template = true`) and applied for engines that take chat prompts
(`TaskEngine.takes_chat_prompts`: causal-lm). Every token of the template around the user's text (role
names, turn markers, the assistant's prompt) is marked special and belongs to no word, so the word views
show the user's words only and head statistics count attention on the template as `special_share`, not
as content.
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

from interp.schema import AnalysisRequest, InputError
from interp.tokens import Tokenized, _char_words


def chat_prompt(tokenizer: PreTrainedTokenizerBase, text: str) -> tuple[str, int]:
    """The rendered prompt, and where the user's text starts in it."""
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
    )
    start = rendered.find(text)
    if start < 0:  # e.g. a template that trims or escapes the message
        raise InputError("the model's chat template changes the text, so its words cannot be placed in it")
    return rendered, start


def tokenize_chat(request: AnalysisRequest, tokenizer: PreTrainedTokenizerBase, max_length: int) -> Tokenized:
    """The chat prompt's tokens; the template's own are special (the template writes its bos token itself)."""
    text = request.text
    rendered, start = chat_prompt(tokenizer, text)
    words, owner = _char_words(text, 0)
    encoding = tokenizer(rendered, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(encoding["input_ids"])
    if len(ids) > max_length:
        raise InputError(
            f"the text in the model's chat template is {len(ids)} tokens, over its maximum of {max_length}"
        )
    end, marked = start + len(text), set(tokenizer.all_special_ids)
    token_words: list[int | None] = []
    for token_id, (a, b) in zip(ids, encoding["offset_mapping"], strict=True):
        inside = a < end and b > start and token_id not in marked  # overlaps the user's text
        token_words.append(int(owner[min(max(a - start, 0), len(text))]) if inside else None)
    return Tokenized(
        sequences=[ids],
        type_ids=[[0] * len(ids)] if "token_type_ids" in tokenizer.model_input_names else None,
        tokens=tokenizer.convert_ids_to_tokens(ids),
        token_words=token_words,
        words=words,
        token_segments=[0] * len(ids),
        special_tokens=[w is None for w in token_words],
        truncated=False,
    )
