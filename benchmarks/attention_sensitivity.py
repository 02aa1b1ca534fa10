"""Attention sensitivity: the engine's batched vector-Jacobian products against the naive loop.

A bert-base-shaped model (BertConfig defaults, random weights, eager attention; --layers to cut
the stack) on N random tokens. Both computations run here, on the same forward graph builder; they must agree.

The engine starts each layer's backward at its q and k (the received attention's gradient there in
closed form); the batched backward through the softmax (the engine before that) is timed too. Work
is counted with torch's FlopCounterMode (matrix products): batching through the softmax does the
naive loop's arithmetic, the closed form a little less. The script measures this machine's float32
matrix-product peak, each way's share of it, and the best ratio an engine doing the naive work could
reach here (`ratio_ceiling`): the naive time over the time its FLOPs take at that peak.
Prints `ratio=<naive seconds / engine seconds>` last.

    .venv/bin/python benchmarks/attention_sensitivity.py [--tokens 32] [--layers 12]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import BertConfig, BertModel

from interp import qk_capture
from interp.sensitivity import attention_sensitivity, naive_attention_sensitivity
from interp.vjp_kernels import batched_backward


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def matmul_peak_gflops(repeats: int = 10) -> float:
    """float32 GFLOP/s of a large matrix product of bert-base's FFN shape, best of `repeats`."""
    a, b = torch.randn(2048, 768), torch.randn(768, 3072)
    a @ b
    best = min(timed(torch.matmul, a, b)[1] for _ in range(repeats))
    return 2 * a.shape[0] * a.shape[1] * b.shape[1] / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument(
        "--layers",
        type=int,
        default=BertConfig().num_hidden_layers,
        help="fewer than bert-base's 12 keeps the naive loop short on long inputs",
    )
    args = parser.parse_args()
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    torch.manual_seed(0)
    model = (
        BertModel(BertConfig(num_hidden_layers=args.layers, attn_implementation="eager"))
        .eval()
        .requires_grad_(False)
    )
    ids = torch.randint(1000, model.config.vocab_size, (1, args.tokens))
    mask = torch.ones_like(ids)
    embeds = model.get_input_embeddings()(ids).detach()

    def attentions_of(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return model(inputs_embeds=x, attention_mask=mask, output_attentions=True).attentions

    layout = qk_capture.layout(model, [args.tokens])

    def engine_run(x: torch.Tensor, m: torch.Tensor, kernels: bool = True) -> torch.Tensor:
        """The engine as the worker runs it: the backward starts at each layer's captured q and k, through
        interp.vjp_kernels' attention and activations (kernels=False: autograd's own formulas)."""
        with qk_capture.capturing(model) as caught, batched_backward(model) if kernels else nullcontext():
            return attention_sensitivity(
                attentions_of, x, m, scores=qk_capture.score_rule(model, layout, caught)
            )

    # This VM's speed drifts within a run: the peak is the best of a measurement before and one after.
    peak_before = matmul_peak_gflops()
    engine_run(embeds[:, :4], mask[:, :4])  # warm-up: first-call allocations
    engine_run(embeds[:, :4], mask[:, :4], kernels=False)
    engine, engine_s = timed(engine_run, embeds, mask)
    plain, plain_s = timed(engine_run, embeds, mask, kernels=False)
    softmax_path, softmax_s = timed(attention_sensitivity, attentions_of, embeds, mask)
    print(
        f"engine_seconds={engine_s:.2f} without_kernels={plain_s:.2f} through_softmax={softmax_s:.2f} "
        "(the naive loop next)",
        flush=True,
    )
    naive, naive_s = timed(naive_attention_sensitivity, attentions_of, embeds, mask)
    for got in (engine, plain, softmax_path):
        assert torch.allclose(got, naive, rtol=1e-4, atol=1e-6), (got - naive).abs().max()
    with FlopCounterMode(display=False) as counter:  # untimed runs, to count the work
        engine_run(embeds, mask)
    with FlopCounterMode(display=False) as naive_counter:
        naive_attention_sensitivity(attentions_of, embeds, mask)
    gflop, naive_gflop = counter.get_total_flops() / 1e9, naive_counter.get_total_flops() / 1e9
    peak = max(peak_before, matmul_peak_gflops())
    layers = model.config.num_hidden_layers
    print(
        f"tokens={args.tokens} layers={layers} threads={torch.get_num_threads()} "
        f"naive backward passes={layers * args.tokens}"
    )
    print(
        f"work: engine {gflop:.0f} GFLOP, naive and through the softmax {naive_gflop:.0f} GFLOP; "
        f"matmul_peak={peak:.0f} GFLOP/s: naive {naive_gflop / naive_s:.0f} GFLOP/s, through the softmax "
        f"{naive_gflop / softmax_s:.0f} GFLOP/s ({naive_gflop / softmax_s / peak:.0%} of peak), "
        f"engine {gflop / engine_s:.0f} GFLOP/s ({gflop / engine_s / peak:.0%} of peak)"
    )
    print(f"ratio_ceiling={naive_s / (naive_gflop / peak):.2f} (naive time / the naive work at peak speed)")
    print(
        f"naive_seconds={naive_s:.2f} engine_seconds={engine_s:.2f} max_abs_diff={(engine - naive).abs().max():.2e}"
    )
    print(f"ratio={naive_s / engine_s:.2f}")


if __name__ == "__main__":
    main()
