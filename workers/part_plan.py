"""Which parts an analysis job computes, in which order, and which it only offers. Torch-free.

The core always comes first; then the parts the page shows first (the selected layer's sensitivity,
the selected saliency method: interp.part_names.first_parts); then the rest, cheapest first. A part
whose estimate (interp.cost at the worker's calibrated rate) is over the part budget is not started
by itself: it is offered, with its estimate, and computed when someone asks (a part job).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from interp.part_names import CORE, first_parts, parts_of
from workers.job_status import Focus


class Plan(NamedTuple):
    compute: list[str]  # in order, the core left out (it always comes first)
    offered: list[str]


def plan(
    methods: Sequence[str], layers: int, estimates: dict[str, float], budget_s: float, focus: Focus | None
) -> Plan:
    focus = focus or Focus()
    names = [str(p) for p in parts_of(methods, layers) if p != CORE]
    if focus.layers is not None:  # sensitivity of the named layers only
        chosen = {f"sensitivity.{layer}" for layer in focus.layers}
        names_in = [n for n in names if not n.startswith("sensitivity.") or n in chosen]
    else:
        names_in = names
    affordable = [
        n for n in names_in if focus.everything or focus.layers is not None or estimates.get(n, 0) <= budget_s
    ]
    layer = min(focus.layer or 0, max(layers - 1, 0))
    first = [str(p) for p in first_parts(methods, layers, layer, focus.method or "grad_norm") if p != CORE]
    head = [n for n in first if n in affordable]
    rest = sorted((n for n in affordable if n not in head), key=lambda n: estimates.get(n, 0.0))
    compute = head + rest
    return Plan(compute, [n for n in names if n not in compute])
