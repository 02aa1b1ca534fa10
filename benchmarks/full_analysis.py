"""The full analysis (every method) against a bare forward + backward, on a bert-base-shaped model.

A BertConfig-defaults sentiment classifier with random weights and a word-level vocabulary is
written to a temporary folder and analysed through the engine (registry, loading, all stages),
N tokens long. Prints the stage timings and `ratio=<full seconds / bare forward+backward seconds>` last.

    .venv/bin/python benchmarks/full_analysis.py [--tokens 32]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

from interp.engine import analyze
from interp.registry import load_registry
from interp.schema import METHODS, AnalysisRequest

WORDS = [f"w{i}" for i in range(1000)]


def build(folder: Path) -> Path:
    """A bert-base-shaped classifier and its registry file in `folder`."""
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(num_labels=2, attn_implementation="eager")).eval()
    model.save_pretrained(folder / "bert-base")
    BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(folder / "bert-base")
    registry = folder / "models.toml"
    registry.write_text(
        f'[[models]]\nid = "bert-base-random"\npath = "{(folder / "bert-base").as_posix()}"\ntask = "sst"\n'
    )
    return registry


def bare_seconds(model: torch.nn.Module, ids: torch.Tensor, repeats: int = 5) -> float:
    """Median time of one forward and one backward of the target logit to the word embeddings."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        embeds = model.get_input_embeddings()(ids).detach().requires_grad_()
        model(inputs_embeds=embeds).logits[0, 1].backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    with tempfile.TemporaryDirectory() as tmp:
        registry = load_registry(build(Path(tmp)))
        text = " ".join(WORDS[: args.tokens - 2])  # one token per word, plus [CLS] and [SEP]
        request = AnalysisRequest("bert-base-random", "sst", text, methods=METHODS)
        analyze(request.with_(methods=()), registry=registry)  # loads the model and warms up
        start = time.perf_counter()
        analysis = analyze(request, registry=registry)
        full = time.perf_counter() - start
        assert analysis.n_tokens == args.tokens, analysis.n_tokens

        from interp.loading import MODELS

        model = MODELS.get(registry.get("bert-base-random"), "sst").model
        ids = torch.tensor([[2, *range(5, 5 + args.tokens - 2), 3]])
        bare = bare_seconds(model, ids)
    stages = " ".join(f"{k}={v:.2f}" for k, v in analysis.timings.items() if k != "loading model")
    print(f"tokens={args.tokens} threads={torch.get_num_threads()} ig_steps={request.ig_steps} {stages}")
    print(f"full_seconds={full:.2f} bare_seconds={bare:.3f}")
    print(f"ratio={full / bare:.1f}")


if __name__ == "__main__":
    main()
