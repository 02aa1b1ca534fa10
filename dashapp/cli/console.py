"""What every `interpboard` command shares: the consoles, exit codes, one-line errors, JSON output."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

EXIT_INTERNAL, EXIT_BAD_INPUT = 1, 2

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class UsageError(Exception):
    """Bad command-line usage: exit 2 with the message."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line instead of argparse's usage block
        raise UsageError(f"{message} (see {self.prog} --help)")


def print_json(payload: Any) -> None:
    sys.stdout.write(orjson.dumps(payload).decode() + "\n")


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def fail(message: str, code: int) -> NoReturn:
    # One line: newlines in a message would look like several errors.
    err.print(Text(f"interpboard: error: {' '.join(message.split())}"), soft_wrap=True)
    raise SystemExit(code)


def positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return number
