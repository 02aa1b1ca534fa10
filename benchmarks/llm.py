"""A Llama-shaped decoder LLM at 1,024 tokens on this CPU: time to the first view, stored bytes, peak memory.

A random-weight LlamaForCausalLM (16 layers, hidden 1024, 16 query heads sharing 4 key/value heads,
head dim 64, MLP 2816) is built in-process and saved with the fixture's byte-level BPE tokenizer
(tests/tiny_models.py), then a prompt of --tokens tokens goes through the engine as a worker runs it:
the core part (predictions, logit lens, head statistics, q/k captured and rounded, thumbnails), the
store's codec, and the web's side: decoding the record and rebuilding the selected layer's attention
(all 16 heads) from q/k in numpy. Prints each step's seconds (the core's own steps too), the first
view's total, stored bytes against dense float32 attention (target <= 5 %), peak RSS of the process,
and `ratio=<dense float32 attention bytes / stored bytes>` last.

    .venv/bin/python benchmarks/llm.py [--tokens 1024] [--layers 16]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from cache.codec import decode, encode
from interp.parts import compute_core, prepare
from interp.registry import load_registry
from interp.schema import Analysis, AnalysisRequest


def build(folder: Path, layers: int, tokens: int) -> tuple[Path, str]:
    """The model, its registry file, and a prompt of about `tokens` tokens."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.tiny_models import CORPUS, _llm_tokenizer

    tokenizer = _llm_tokenizer(bos=True)
    tokenizer.model_max_length = tokens + 8
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=1024,
        intermediate_size=2816,
        num_hidden_layers=layers,
        num_attention_heads=16,
        num_key_value_heads=4,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        attn_implementation="eager",
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).eval().save_pretrained(folder / "llama")
    tokenizer.save_pretrained(folder / "llama")
    registry = folder / "models.toml"
    registry.write_text(
        f'[[models]]\nid = "llama-random"\npath = "{(folder / "llama").as_posix()}"\ntask = "causal-lm"\n'
    )
    words: list[str] = []
    while len(tokenizer(" ".join(words))["input_ids"]) < tokens:
        words += CORPUS[len(words) % len(CORPUS)].split()
    while len(tokenizer(" ".join(words))["input_ids"]) > tokens:
        words.pop()
    return registry, " ".join(words)


# The core's steps, timed by wrapping the engine's functions: (module attribute, label).
CORE_STEPS = (
    ("run", "model forward"),  # TaskEngine.run: the eager forward, q/k caught on the way
    ("request_attention", "attention copy"),
    ("head_stats", "head stats"),
    ("add_logit_lens", "logit lens"),
    ("_store_qk", "q/k compaction + thumbnails"),
)


@contextlib.contextmanager
def core_steps(seconds: dict[str, float]):
    """Time the core's steps (benchmark only: the engine's functions wrapped while it runs)."""
    import interp.engine as engine
    from interp.tasks.base import TaskEngine

    originals = []
    for name, label in CORE_STEPS:
        owner = TaskEngine if name == "run" else engine
        original = getattr(owner, name)

        def timed(*args, _f=original, _label=label, **kwargs):
            start = time.perf_counter()
            try:
                return _f(*args, **kwargs)
            finally:
                seconds[_label] = seconds.get(_label, 0.0) + time.perf_counter() - start

        originals.append((owner, name, original))
        setattr(owner, name, functools.wraps(original)(timed))
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    with tempfile.TemporaryDirectory() as tmp:
        registry_file, text = build(Path(tmp), args.layers, args.tokens)
        registry = load_registry(registry_file)
        request = AnalysisRequest("llama-random", "causal-lm", text, methods=())
        start = time.perf_counter()
        subject = prepare(request, registry=registry)  # loads the model (not part of a warm worker's view)
        loading = time.perf_counter() - start

        clock = {"start": time.perf_counter()}

        def lap(name: str) -> float:
            now = time.perf_counter()
            seconds, clock["start"] = now - clock["start"], now
            return seconds

        subject = prepare(request, registry=registry)
        inside: dict[str, float] = {}
        with core_steps(inside):
            core = compute_core(subject)
        steps = {"core": lap("core")}
        blob = encode(*core.to_record())
        steps["store encode"] = lap("encode")
        record = decode(blob)
        analysis = Analysis.from_record(record.meta, record.arrays)
        steps["web decode"] = lap("decode")
        layer = analysis.num_layers // 2
        maps = analysis.attention[layer]
        steps["one layer rebuilt"] = lap("rebuild")
    L, H, N, _ = analysis.attention.shape
    assert core.n_tokens == N and maps.shape == (H, N, N) and analysis.logit_lens
    error = float(np.abs(maps - core.attention[layer]).max())
    dense = L * H * N * N * 4
    stored = len(blob)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    print(
        f"llama-shaped random: tokens={N} layers={L} query_heads={H} kv_heads={analysis.keys.shape[1]} "
        f"threads={torch.get_num_threads()} model load {loading:.1f} s (once per worker)"
    )
    print("first view: " + " ".join(f"{k}={v:.2f}s" for k, v in steps.items()))
    print("  core: " + " ".join(f"{k}={v:.2f}s" for k, v in inside.items()))
    print(f"first_view_seconds={sum(steps.values()):.1f}")
    print(
        f"stored {stored / 1e6:.1f} MB vs dense float32 attention {dense / 1e6:.0f} MB: {stored / dense:.2%} "
        f"(target <= 5 %); layer {layer} rebuilt max_abs_error={error:.1e} vs float32, "
        f"drop_bits {analysis.qk_layout['drop_bits']}"
    )
    print(f"peak_rss={peak:.2f} GiB")
    print(f"ratio={dense / stored:.1f}")


if __name__ == "__main__":
    main()
