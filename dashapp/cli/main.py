"""The `interpboard` command: analyze, neurons, models, precompute, worker, serve.

Thin on purpose: parse arguments, call the job layer (workers/), print. Errors are one line on
stderr and a non-zero exit (2 for bad input, 1 otherwise), never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from dashapp.cli.analyze import add_analyze_command
from dashapp.cli.console import EXIT_BAD_INPUT, EXIT_INTERNAL, Parser, UsageError, fail
from dashapp.cli.models import add_models_command
from dashapp.cli.neurons import add_neurons_command
from dashapp.cli.precompute import add_precompute_command
from dashapp.cli.servers import add_server_commands


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="interpboard", description="Look inside transformer language models.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for add in (
        add_analyze_command,
        add_neurons_command,
        add_models_command,
        add_precompute_command,
        add_server_commands,
    ):
        add(commands)
    return parser


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
        fail(str(exc), EXIT_BAD_INPUT)
    except ValidationError as exc:  # settings from the environment
        fail(
            "bad INTERPBOARD_* setting: "
            + "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()),
            EXIT_BAD_INPUT,
        )
    except Exception as exc:  # noqa: BLE001 - a one-line message, never a traceback
        fail(f"{type(exc).__name__}: {exc}", EXIT_INTERNAL)
