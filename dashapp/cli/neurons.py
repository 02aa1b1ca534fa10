"""`interpboard neurons`: BertViz's neuron view of one head and query token of a stored analysis.

The engine runs in this process (interp.neurons); the web's route will run it as a worker job.
"""

from __future__ import annotations

import argparse

from rich.table import Table
from rich.text import Text

from dashapp.cli.console import EXIT_BAD_INPUT, fail, out, print_json


def cmd_neurons(args: argparse.Namespace) -> int:
    from interp.neurons import neuron_view  # the engine, in this process
    from workers import get_executor

    analysis = get_executor().result(args.key)
    if analysis is None:
        fail(f"no stored analysis with key {args.key}", EXIT_BAD_INPUT)
    kind = args.kind or ("encoder" if analysis.target_tokens is not None else "self")
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
