"""`interpboard precompute`: every line of a JSONL or CSV file analysed into the cache."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.text import Text

from dashapp.cli.console import EXIT_INTERNAL, UsageError, err, out, positive, print_json, progress_bar


def cmd_precompute(args: argparse.Namespace) -> int:
    from workers import get_executor
    from workers.precompute import precompute

    if not args.file.is_file():
        raise UsageError(f"no such file: {args.file}")
    models = [m.strip() for m in args.model.split(",") if m.strip()]
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip()) if args.methods else None
    executor = get_executor()
    kwargs = {"methods": methods} if methods else {}
    if err.is_terminal:
        with progress_bar() as progress:
            bar = progress.add_task("precompute", total=None)
            report = precompute(
                executor,
                args.file,
                models,
                args.task,
                batch_size=args.batch_size,
                on_progress=lambda done, total: progress.update(bar, completed=done, total=total),
                **kwargs,
            )
    else:
        report = precompute(executor, args.file, models, args.task, batch_size=args.batch_size, **kwargs)
    for problem in report.skipped:
        err.print(Text(f"skipped {problem}"))
    for failure in report.failed:
        err.print(Text(f"failed {failure}"))
    summary = {
        "submitted": report.submitted,
        "computed": report.done,
        "cached": report.cached,
        "failed": len(report.failed),
        "skipped": len(report.skipped),
    }
    if args.json:
        print_json({**summary, "failures": report.failed, "skipped_lines": report.skipped})
    else:
        out.print(", ".join(f"{v} {k}" for k, v in summary.items()))
    return EXIT_INTERNAL if report.failed else 0


def add_precompute_command(commands: argparse._SubParsersAction) -> None:
    from interp.schema import METHODS, TASKS

    pre = commands.add_parser("precompute", help="analyse every line of a JSONL or CSV file into the cache")
    pre.add_argument(
        "file", type=Path, help='JSONL ({"text": ..., "pair": ...} per line) or CSV (columns text[,pair])'
    )
    pre.add_argument("--model", required=True, help="model id(s), comma-separated")
    pre.add_argument("--task", required=True, choices=TASKS)
    pre.add_argument("--methods", help=f"comma-separated, from {','.join(METHODS)} (default: all)")
    pre.add_argument("--batch-size", type=positive, default=16, help="inputs per job")
    pre.add_argument("--json", action="store_true", help="print the summary as JSON")
    pre.set_defaults(func=cmd_precompute)
