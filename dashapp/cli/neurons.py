"""`interpboard neurons`: BertViz's neuron view of one head and query token of a stored analysis.

From the queries and keys the analysis stores (numpy, no model) where it has them; otherwise (T5's
self-attention, whose scores add a position bias, and models the hooks do not know) the engine runs in
this process (interp.neurons).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from rich.table import Table
from rich.text import Text

from dashapp.cli.console import EXIT_BAD_INPUT, fail, out, print_json
from dashapp.figures.neuron_view import stored_qk


def cmd_neurons(args: argparse.Namespace) -> int:
    from workers import get_executor

    analysis = get_executor().result(args.key)
    if analysis is None:
        fail(f"no stored analysis with key {args.key}", EXIT_BAD_INPUT)
    kind = args.kind or ("encoder" if analysis.target_tokens is not None else "self")
    stored = stored_qk(analysis, kind)
    if stored is not None and not stored[1]["layout"].get("position_bias"):  # T5's bias: the engine adds it
        view = _stored_view(stored[0], stored[1], args.layer, args.head, args.query)
    else:
        from interp.neurons import neuron_view  # the engine, in this process

        view = neuron_view(
            analysis.request, args.layer, args.head, args.query, kind, fingerprint=analysis.fingerprint
        )
    if args.json:
        print_json({"key": args.key, **view})
        return 0
    tokens = {"cross": analysis.tokens, "decoder": analysis.decoder_tokens}.get(kind, analysis.tokens)
    table = Table("key", "token", "score", "attention", title=f"{kind} layer {args.layer} head {args.head}")
    ranked = sorted(range(len(view["scores"])), key=lambda j: -view["attention"][j])
    for j in ranked[:10]:
        token = tokens[view["key_offset"] + j] if tokens else ""
        table.add_row(str(j), Text(token), f"{view['scores'][j]:.4f}", f"{view['attention'][j]:.4f}")
    out.print(table)
    return 0


def _stored_view(kind: str, qk: dict[str, Any], layer: int, head: int, query: int) -> dict[str, Any]:
    """The neuron view from the analysis's stored q/k (the JSON contract's fields)."""
    from interp.attention_rebuild import neuron_row

    try:
        row = neuron_row(qk["q"], qk["k"], qk["layout"], layer, head, query)
    except IndexError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    as_list = lambda a: np.asarray(a, dtype=np.float64).round(7).tolist()  # noqa: E731
    return {
        "kind": kind,
        "source": "stored",
        **{k: as_list(v) if isinstance(v, np.ndarray) else v for k, v in row.items()},
    }


def add_neurons_command(commands: argparse._SubParsersAction) -> None:
    neurons = commands.add_parser(
        "neurons", help="one head's query, keys, q∘k and scores for one query token of a stored analysis"
    )
    neurons.add_argument("--key", required=True, help="the analysis key (from `analyze --json`)")
    neurons.add_argument("--layer", type=int, required=True)
    neurons.add_argument("--head", type=int, required=True)
    neurons.add_argument("--query", type=int, required=True, help="the query token's index")
    neurons.add_argument(
        "--kind",
        choices=("self", "encoder", "decoder", "cross"),
        help="seq2seq: which attention (default encoder)",
    )
    neurons.add_argument("--json", action="store_true", help="print one JSON object")
    neurons.set_defaults(func=cmd_neurons)
