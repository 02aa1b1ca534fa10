"""`interpboard models`: the registry's models and whether each is on this machine."""

from __future__ import annotations

import argparse

from rich.table import Table
from rich.text import Text

from dashapp.cli.console import out, print_json


def cmd_models(args: argparse.Namespace) -> int:
    from interp.registry import load_registry

    registry = load_registry()
    rows = []
    for spec in registry.models.values():
        rows.append(
            {"id": spec.id, "tasks": list(spec.tasks), "path": spec.path, **spec.availability().fields()}
        )
    if args.json:
        print_json(rows)
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


def add_models_command(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser("models", help="list the models of the registry and whether they are here")
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=cmd_models)
