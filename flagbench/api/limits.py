"""What flagbench accepts from any input: finite numbers, counts and durations a run can
finish, and values the store can hold. One check per kind, used wherever a value of that
kind is built (the CLI's option types, suite files, plugin options, RunSpec)."""

from __future__ import annotations

import math
import unicodedata

from flagbench.api.errors import FlagbenchError

#: Integer columns (batch size, run ids) are 32-bit on PostgreSQL.
INT32_MAX = 2**31 - 1
#: Integers inside JSON columns (plugin options) must survive any SQL or JSON reader.
INT64_MAX = 2**63 - 1
#: Rounds of one matrix: a thousand passes is already days at the default times.
MAX_ROUNDS = 1_000
#: Runs one `flagbench run` may plan; more would take weeks, and the plan itself grows with it.
MAX_RUNS = 10_000
#: Highest server-scenario arrival rate: one Python worker serves well under a million
#: requests a second, and the arrival schedule of a higher rate only fills memory (at 1e300
#: the next arrival time never moves past the last).
MAX_QPS = 1e6
#: Longest duration option (warm-up, timed loop, timeout): a day; longer is a typo.
MAX_SECONDS = 86_400.0


def printable(value: str) -> str:
    """``value`` quoted, with what a terminal or a UTF-8 encoder cannot take escaped."""
    return ascii(value) if not value.isprintable() else repr(value)


def check_finite(value: float, what: str) -> float:
    """``value`` unless it is NaN or infinite (which pass every range check)."""
    if not math.isfinite(value):
        raise FlagbenchError(f"{what} must be a finite number, got {value!r}")
    return value


def check_seconds(value: float, what: str, positive: bool = False) -> float:
    """A duration: finite, 0 or more (above 0 with ``positive``), at most a day."""
    check_finite(value, what)
    if value < 0 or (positive and value == 0):
        raise FlagbenchError(f"{what} must be {'above 0' if positive else '0'} s"
                             f"{'' if positive else ' or more'}, got {value:g}")
    if value > MAX_SECONDS:
        raise FlagbenchError(f"{what} must be at most {MAX_SECONDS:g} s (a day), got {value:g}")
    return value


def check_count(value: int, what: str, maximum: int) -> int:
    """A count: 1 to ``maximum``."""
    if value < 1:
        raise FlagbenchError(f"{what} must be 1 or more, got {value}")
    if value > maximum:
        raise FlagbenchError(f"{what} must be at most {maximum}, got {value}")
    return value


def check_text(value: str, what: str) -> str:
    """A string the store can hold: UTF-8 (no lone surrogates, as undecodable bytes in argv
    become) and no NUL characters (PostgreSQL's text refuses them)."""
    if "\x00" in value:
        raise FlagbenchError(f"{what} {printable(value)} holds a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FlagbenchError(f"{what} {printable(value)} is not valid UTF-8") from None
    return value


def check_label(value: str, what: str) -> str:
    """Text that labels a run (tag keys and values): storable, and no control characters,
    which a terminal would obey and which no label needs (every output escapes them too)."""
    check_text(value, what)
    bad = next((c for c in value if unicodedata.category(c) == "Cc"), None)
    if bad is not None:
        raise FlagbenchError(f"{what} {printable(value)} holds a control character "
                             f"({ascii(bad)[1:-1]})")
    return value


def check_option_value(value: int | float | str | bool, what: str) -> None:
    """A plugin option's value as its JSON column holds it."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > INT64_MAX:
            raise FlagbenchError(f"{what}={value}: beyond a 64-bit integer")
    elif isinstance(value, float):
        check_finite(value, what)
    else:
        check_text(value, what)
