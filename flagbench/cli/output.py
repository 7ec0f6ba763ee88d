"""The one-line error format every command uses."""

from __future__ import annotations

import click


def print_error(message: str) -> None:
    """``error: message`` on stderr, on one line."""
    click.echo(f"error: {' '.join(message.split())}", err=True)


class StderrKeeper:
    """The last resort for a run that neither the database nor the spool took (a full
    disk): one error line, then the spool file it would have been, as JSON on stderr."""

    def __init__(self) -> None:
        self.kept = 0

    def __call__(self, name: str, text: str, why: str) -> str:
        """Print the record; where it went."""
        self.kept += 1
        print_error(f"the spool cannot take this run either ({why}); its record follows as "
                    f"JSON: saved as {name} in the spool, `flagbench spool --replay` writes it")
        click.echo(text, err=True)
        return "stderr as JSON"
