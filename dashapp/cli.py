"""The `interpboard` command: analyze, neurons, models, precompute, worker, serve.

Thin on purpose: parse arguments, call the job layer (workers/), print. Errors are one line on
stderr and a non-zero exit (2 for bad input, 1 otherwise), never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

EXIT_INTERNAL, EXIT_BAD_INPUT = 1, 2

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class UsageError(Exception):
    """Bad command-line usage: exit 2 with the message."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line instead of argparse's usage block
        raise UsageError(f"{message} (see {self.prog} --help)")


def _print_json(payload: Any) -> None:
    sys.stdout.write(orjson.dumps(payload).decode() + "\n")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


# --- analyze ------------------------------------------------------------------------------------


def cmd_analyze(args: argparse.Namespace) -> int:
    from interp.schema import AnalysisRequest
    from workers import get_executor
    from workers.jobs import JobState

    request = AnalysisRequest.from_dict({name: getattr(args, name) for name in AnalysisRequest.model_fields})
    executor = get_executor()
    sub = executor.submit(request)
    if not sub.cached:
        status = _follow(executor, sub.job_id, args.timeout)
        if status.state != JobState.DONE:
            _fail(
                status.error or f"the job was {status.state}",
                EXIT_BAD_INPUT if status.error_kind == "input" else EXIT_INTERNAL,
            )
    analysis = executor.result(sub.key)
    if analysis is None:
        _fail(
            f"the result {sub.key} is not in the cache (evicted already? check INTERPBOARD_CACHE_SIZE_LIMIT)",
            EXIT_INTERNAL,
        )
    if args.json:
        _print_json({"key": sub.key, "cached": sub.cached, **analysis.to_json(full=args.full)})
    else:
        _print_summary(sub.key, sub.cached, analysis)
    return 0


def _follow(executor: Any, job_id: str, timeout: float | None) -> Any:
    """Wait for the job; on a terminal, show its stage and progress. Ctrl-C cancels it."""
    try:
        if not err.is_terminal:
            return executor.wait(job_id, timeout=timeout)
        with _progress() as progress:
            bar = progress.add_task("queued", total=1.0)

            def show(status: Any) -> None:
                where = f" (#{status.queue_position} in queue)" if status.queue_position else ""
                progress.update(bar, description=status.stage_text + where, completed=status.progress)

            return executor.wait(job_id, timeout=timeout, poll=0.2, on_poll=show)
    except KeyboardInterrupt:
        executor.cancel(job_id)
        _fail("interrupted: job cancelled", 130)
    except TimeoutError as exc:
        _fail(str(exc), EXIT_INTERNAL)


def _print_summary(key: str, cached: bool, analysis: Any) -> None:
    request = analysis.request
    out.print(
        Text.assemble(
            (f"{request.model}", "bold"),
            f" · {request.task} · {analysis.n_tokens} tokens",
            " · cached" if cached else " · computed",
            f" · key {key[:16]}…",
        )
    )
    predictions = Table("prediction", "score", title="Predictions", title_justify="left")
    for p in analysis.predictions[:10]:
        predictions.add_row(Text(str(p["label"])), f"{p['score']:.4f}")
    out.print(predictions)
    if analysis.saliency:
        saliency = Table("method", "most salient tokens", title="Saliency", title_justify="left")
        for method, values in analysis.saliency.items():
            ranked = sorted(range(len(values)), key=lambda i: -abs(float(values[i])))[:5]
            saliency.add_row(
                method, Text(", ".join(f"{analysis.tokens[i]} {float(values[i]):.3f}" for i in ranked))
            )
        out.print(saliency)
    if analysis.truncated:
        out.print(Text("the input was truncated to the model's maximum length", style="yellow"))


# --- models -------------------------------------------------------------------------------------


def cmd_models(args: argparse.Namespace) -> int:
    from interp.registry import load_registry

    registry = load_registry()
    rows = []
    for spec in registry.models.values():
        available = spec.availability()
        rows.append(
            {
                "id": spec.id,
                "tasks": list(spec.tasks),
                "path": spec.path,
                "available": available.ok,
                "where": available.where,
                "detail": available.detail,
            }
        )
    if args.json:
        _print_json(rows)
        return 0
    table = Table(
        "id", "task", "path", "available", title=f"Models ({registry.source})", title_justify="left"
    )
    for row in rows:
        table.add_row(
            Text(row["id"]),
            ", ".join(row["tasks"]),
            Text(row["path"], overflow="fold"),
            Text(
                "yes" if row["available"] else f"no: {row['detail']}",
                style="green" if row["available"] else "red",
            ),
        )
    out.print(table)
    return 0


# --- precompute ---------------------------------------------------------------------------------


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
        with _progress() as progress:
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
        _print_json({**summary, "failures": report.failed, "skipped_lines": report.skipped})
    else:
        out.print(", ".join(f"{v} {k}" for k, v in summary.items()))
    return EXIT_INTERNAL if report.failed else 0


# --- worker, serve ------------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> int:
    from workers.settings import job_settings

    settings = job_settings()
    if not settings.broker:
        raise UsageError(
            "interpboard worker needs INTERPBOARD_BROKER=redis://... (without a broker the server runs jobs itself)"
        )
    from workers.app import app

    # A unique node name per process, so several workers on one host answer pings separately.
    app.worker_main(
        [
            "worker",
            "--queues",
            args.queues or settings.queue,
            "--concurrency",
            str(args.concurrency),
            "--loglevel",
            args.loglevel,
            "--hostname",
            f"interpboard-{os.getpid()}@%h",
        ]
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from dashapp.app import serve

    serve(args.host, args.port, args.debug)
    return 0


# --- the parser ---------------------------------------------------------------------------------


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return number


def build_parser() -> argparse.ArgumentParser:
    from dashapp.cli_neurons import add_neurons_command
    from interp.schema import DEFAULT_IG_STEPS, DEFAULT_TOP_K, METHODS, TASKS

    parser = _Parser(prog="interpboard", description="Look inside transformer language models.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    analyze = commands.add_parser("analyze", help="analyse one input (through the cache and the job queue)")
    analyze.add_argument("--model", required=True, help="model id from `interpboard models`")
    analyze.add_argument("--task", required=True, choices=TASKS)
    analyze.add_argument("--text", required=True)
    analyze.add_argument(
        "--pair", help="hypothesis (mnli), second sentence (similarity) or target text (seq2seq)"
    )
    analyze.add_argument(
        "--mask-index", type=int, help="token index to mask (mlm), instead of [MASK] in the text"
    )
    analyze.add_argument("--target", help="the label to explain (default: the top prediction)")
    analyze.add_argument(
        "--methods", default=",".join(METHODS), help=f"comma-separated, from {','.join(METHODS)}"
    )
    analyze.add_argument("--top-k", type=int, default=DEFAULT_TOP_K)
    analyze.add_argument("--ig-steps", type=int, default=DEFAULT_IG_STEPS)
    analyze.add_argument(
        "--generate", type=int, metavar="N", help="causal-lm: generate N tokens (at most 64) and explain each"
    )
    analyze.add_argument(
        "--sample-seed", type=int, help="with --generate: sample with this seed (default: greedy)"
    )
    analyze.add_argument(
        "--max-new-tokens", type=int, help="seq2seq without --pair: the longest target to generate"
    )
    analyze.add_argument("--timeout", type=float, help="seconds to wait for the job")
    analyze.add_argument("--json", action="store_true", help="print one JSON object")
    analyze.add_argument(
        "--full", action="store_true", help="with --json: include attention and attention_sensitivity"
    )
    analyze.set_defaults(func=cmd_analyze)

    add_neurons_command(commands)
    models = commands.add_parser("models", help="list the models of the registry and whether they are here")
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=cmd_models)

    pre = commands.add_parser("precompute", help="analyse every line of a JSONL or CSV file into the cache")
    pre.add_argument(
        "file", type=Path, help='JSONL ({"text": ..., "pair": ...} per line) or CSV (columns text[,pair])'
    )
    pre.add_argument("--model", required=True, help="model id(s), comma-separated")
    pre.add_argument("--task", required=True, choices=TASKS)
    pre.add_argument("--methods", help=f"comma-separated, from {','.join(METHODS)} (default: all)")
    pre.add_argument("--batch-size", type=_positive, default=16, help="inputs per job")
    pre.add_argument("--json", action="store_true", help="print the summary as JSON")
    pre.set_defaults(func=cmd_precompute)

    worker = commands.add_parser("worker", help="run a Celery worker (needs INTERPBOARD_BROKER)")
    worker.add_argument(
        "--queues", help="comma-separated queues to consume (default: INTERPBOARD_QUEUE, cpu)"
    )
    worker.add_argument(
        "--concurrency", type=_positive, default=1, help="worker processes (each keeps its own models warm)"
    )
    worker.add_argument("--loglevel", default="info")
    worker.set_defaults(func=cmd_worker)

    serve = commands.add_parser("serve", help="run the dashboard")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8050)
    serve.add_argument("--debug", action="store_true")
    serve.set_defaults(func=cmd_serve)
    return parser


def _fail(message: str, code: int) -> NoReturn:
    # One line: newlines in a message would look like several errors.
    err.print(Text(f"interpboard: error: {' '.join(message.split())}"), soft_wrap=True)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from pydantic import ValidationError

    from interp.schema import InputError

    try:
        args = build_parser().parse_args(argv)
        logging.basicConfig(level=logging.INFO if args.verbose else logging.CRITICAL + 1, stream=sys.stderr)
        logging.captureWarnings(True)
        return args.func(args)
    except (UsageError, InputError) as exc:
        _fail(str(exc), EXIT_BAD_INPUT)
    except ValidationError as exc:  # settings from the environment
        _fail(
            "bad INTERPBOARD_* setting: "
            + "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()),
            EXIT_BAD_INPUT,
        )
    except Exception as exc:  # noqa: BLE001 - a one-line message, never a traceback
        _fail(f"{type(exc).__name__}: {exc}", EXIT_INTERNAL)


if __name__ == "__main__":
    sys.exit(main())
