"""The command line: parse, validate, call the layers below, print."""

from flagbench.cli.main import cli, main

__all__ = ["cli", "main"]
