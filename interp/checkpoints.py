"""Where long work may stop: the engine calls `checkpoint()` between chunks of work (IG steps,
gradient passes); whoever runs it installs a check that raises to stop it (a cancelled job).

Torch-free. A context variable, so each thread (the embedded executor's jobs) has its own check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_check: ContextVar[Callable[[], None] | None] = ContextVar("interp_checkpoint", default=None)


@contextmanager
def checking(check: Callable[[], None]) -> Iterator[None]:
    """Run `check` at every checkpoint of the work done inside."""
    token = _check.set(check)
    try:
        yield
    finally:
        _check.reset(token)


def checkpoint() -> None:
    check = _check.get()
    if check is not None:
        check()
