"""The one error type users see."""


class FlagbenchError(Exception):
    """A problem the user can fix; the CLI prints its one-line message and exits with code 2."""
