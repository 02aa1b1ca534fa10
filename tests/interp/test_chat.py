"""Chat-style prompts: a registry entry's chat_template = true wraps the text in the tokenizer's template."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from interp.engine import analyze
from interp.registry import load_registry
from interp.schema import AnalysisRequest, ModelUnavailable

# Role names and turn markers from the fixture tokenizer's own specials (<s>, </s>).
TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
)
TEXT = "paris is the capital of"


@pytest.fixture(scope="module")
def chat(registry, tmp_path_factory):
    """tiny-llama with the template (id tiny-llama-chat), and without one (tiny-llama-no-template)."""
    root = tmp_path_factory.mktemp("chat")
    source = registry.get("tiny-llama").local_dir()
    shutil.copytree(source, root / "chat")
    tokenizer = AutoTokenizer.from_pretrained(root / "chat")
    tokenizer.chat_template = TEMPLATE
    tokenizer.save_pretrained(root / "chat")
    entries = [("tiny-llama-chat", root / "chat"), ("tiny-llama-no-template", source)]
    lines = []
    for model_id, path in entries:
        lines += ["[[models]]", f'id = "{model_id}"', f'path = "{path.as_posix()}"']
        lines += ['task = "causal-lm"', "chat_template = true", ""]
    (root / "models.toml").write_text("\n".join(lines), encoding="utf-8")
    return load_registry(root / "models.toml"), tokenizer


def test_the_text_is_one_user_turn_with_the_generation_prompt(chat):
    reg, tokenizer = chat
    a = analyze(AnalysisRequest("tiny-llama-chat", "causal-lm", TEXT, methods=("grad_norm",)), registry=reg)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": TEXT}], tokenize=False, add_generation_prompt=True
    )
    assert prompt == f"<s>user\n{TEXT}</s>\n<s>assistant\n"
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert a.tokens == tokenizer.convert_ids_to_tokens(ids)  # the template's <s>, no second one

    # The template's tokens are special and of no word; the user's words are all there, in order.
    content = [i for i, special in enumerate(a.special_tokens) if not special]
    assert tokenizer.decode([ids[i] for i in content]).strip() == TEXT
    assert a.special_tokens[0] and a.special_tokens[-1] and sum(a.special_tokens) >= 6
    assert [a.token_words[i] for i in content] == sorted(a.token_words[i] for i in content)
    assert {a.token_words[i] for i in content} == set(range(len(TEXT.split())))
    assert all(w is None for w, special in zip(a.token_words, a.special_tokens, strict=True) if special)

    # The prediction reads the last token of the generation prompt, as a plain forward does.
    model = AutoModelForCausalLM.from_pretrained(reg.get("tiny-llama-chat").load_path()).eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
    assert a.predictions[0]["token_id"] == int(logits.argmax())
    np.testing.assert_allclose(a.predictions[0]["score"], float(logits.softmax(-1).max()), rtol=1e-5)

    # Head statistics: attention on the template counts as special, not content.
    share = a.attention[..., np.asarray(a.special_tokens)].sum(-1).mean(-1)
    np.testing.assert_allclose(a.head_stats["special_share"], share, atol=1e-6)
    assert a.fingerprint.endswith("+chat")


def test_a_model_without_a_template_is_refused(chat):
    reg, _ = chat
    with pytest.raises(ModelUnavailable, match="chat template"):
        analyze(AnalysisRequest("tiny-llama-no-template", "causal-lm", TEXT, methods=()), registry=reg)
