"""What reaches the terminal: the one-line error format every command uses, and the one
escape every piece of stored or given text passes before it is shown."""

from __future__ import annotations

import unicodedata

import click

#: Characters that reorder the text around them (bidirectional overrides and isolates):
#: they can make a terminal show a tag as something other than what is stored.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def terminal_text(text: str, keep: str = "\n") -> str:
    """``text`` with every control character (ESC, CR, BEL, C1 codes …) and bidirectional
    override shown escaped (``\\x1b``), so that no stored text can move the cursor, recolour
    or retitle the terminal. ``keep`` are the controls left as they are (newlines)."""
    if text.isprintable():  # no Cc or Cf character: the common case, at no cost
        return text
    return "".join(
        ascii(c)[1:-1] if c not in keep and (unicodedata.category(c) == "Cc" or c in _BIDI)
        else c for c in text)


def markup_text(text: str) -> str:
    """``text`` for a rich table cell or title: terminal-safe, and its ``[`` not markup."""
    from rich.markup import escape

    return escape(terminal_text(text))


def print_error(message: str) -> None:
    """``error: message`` on stderr, on one line."""
    click.echo(f"error: {terminal_text(' '.join(message.split()), keep='')}", err=True)


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
