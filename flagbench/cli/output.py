"""The one-line error format every command uses."""

from __future__ import annotations

import click


def print_error(message: str) -> None:
    """``error: message`` on stderr, on one line."""
    click.echo(f"error: {' '.join(message.split())}", err=True)
