"""This device's speed for the cost model (interp.cost), measured once per process, and FLOP counting.

The rate is a float32 matrix product of bert-base's FFN shape, timed best of a few: what the
engine's parts, mostly matrix products, can approach. The worker will store it (in Redis) for the web.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from interp.cost import ModelShape, estimates, part_flops
from interp.part_names import Part
from interp.parts import Subject


@cache
def device_gflops(device: str = "cpu", repeats: int = 5) -> float:
    """float32 GFLOP/s of a [1024 x 768] @ [768 x 3072] product on `device`, best of `repeats`."""
    a = torch.randn(1024, 768, device=device)
    b = torch.randn(768, 3072, device=device)
    best = float("inf")
    for _ in range(repeats + 1):  # the first is a warm-up
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * a.shape[0] * a.shape[1] * b.shape[1] / best / 1e9


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def shape_of(subject: Subject) -> ModelShape:
    return ModelShape.from_config(subject.lm.model.config, subject.lm.task)


def subject_estimates(subject: Subject) -> dict[str, float]:
    """Seconds per part of this subject's full analysis on its device."""
    request = subject.request
    gflops = device_gflops(str(subject.lm.device))
    return estimates(shape_of(subject), subject.item.lengths, request.methods, request.ig_steps, gflops)


def subject_flops(subject: Subject, part: Part) -> int:
    request = subject.request
    return part_flops(shape_of(subject), part, subject.item.lengths, request.methods, request.ig_steps)


class _NoModules:
    """FlopCounterMode's module tracker, replaced: its grad hooks fail on inputs that require grad under
    no_grad (Captum's convergence delta on Llama-class models), and only the total is wanted here."""

    parents = frozenset({"Global"})

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: Any) -> None:
        return None


def counted_flops(fn: Callable[[], Any]) -> tuple[Any, int]:
    """fn()'s result and the FLOPs torch counted while it ran (2 per multiply-add, matrix products)."""
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _NoModules()  # type: ignore[assignment]
    with counter:
        result = fn()
    return result, counter.get_total_flops()
