"""The `interpboard` command (dashapp.cli.main); one module per command."""

from dashapp.cli.main import main

__all__ = ["main"]
