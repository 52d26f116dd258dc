"""What the feature commands share: running a command whose use case may refuse."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import typer

T = TypeVar("T")


def run_or_refuse(command: Coroutine[Any, Any, T], *refusals: type[Exception]) -> T:
    """Runs a command's coroutine; a refusal of its use case (no such client, not the
    staff member's ticket...) ends the command with its one-line reason and exit code 1,
    not a traceback."""
    try:
        return asyncio.run(command)
    except refusals as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
