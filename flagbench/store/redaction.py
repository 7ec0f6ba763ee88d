"""Secrets out of every database URL that is shown or stored (labels, reports, spool files,
errors): the userinfo password, ``password=`` and its kin in the query string, libpq
``key=value`` forms (which psycopg accepts inside a URL's database name or query), each
raw and percent-encoded. The one place that knows what a secret in a URL looks like."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus, unquote

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

HIDDEN = "***"

#: Query or conninfo keys whose values are secrets (password, sslpassword, passwd, pwd, any
#: *token* or *secret*).
_SECRET_KEY = r"[\w.-]*(?:pass(?:word|wd)?|pwd|secret|token|credential)[\w.-]*"
#: ``key=value`` with the value quoted ('…' libpq style, "…") or bare up to a separator; the
#: ``=`` may be percent-encoded, as in a query value that holds a conninfo string.
_KEY_VALUE = re.compile(
    rf"(?i)(?P<key>\b{_SECRET_KEY})(?P<sep>\s*=\s*|%3D)"
    r"""(?P<value>'(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|[^\s&;,'")]+)""")
#: ``'password': 'x'`` as a driver may print its connection arguments.
_MAPPING = re.compile(
    rf"""(?i)(?P<key>['"]{_SECRET_KEY}['"]\s*:\s*)(?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
#: ``scheme://user:password@``: the password runs to the last ``@`` before a space.
_USERINFO = re.compile(r"(?P<pre>[A-Za-z][\w+.-]*://[^\s:/?#@]*:)(?P<value>[^\s]*)(?=@)")


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _parsed(text: str) -> URL | None:
    if "://" not in text:
        return None
    from sqlalchemy.engine import make_url

    try:
        return make_url(text)
    except Exception:  # noqa: BLE001 - unparseable (any of several errors): not a URL
        return None


def _is_secret_key(key: str) -> bool:
    return re.fullmatch(_SECRET_KEY, key, re.IGNORECASE) is not None


def _pattern_secrets(text: str) -> set[str]:
    found = {_unquoted(m["value"]) for m in _KEY_VALUE.finditer(text)}
    found |= {_unquoted(m["value"]) for m in _MAPPING.finditer(text)}
    for m in _USERINFO.finditer(text):
        found |= {m["value"], unquote(m["value"])}
    return found


def secrets_in(text: str) -> set[str]:
    """The secret values that ``text`` (a URL, a DSN, a path) carries: its password, secret
    query values, and ``password=…`` inside its database name or query values."""
    found = _pattern_secrets(text)
    url = _parsed(text)
    if url is not None:
        found |= {str(url.password)} if url.password else set()
        found |= _pattern_secrets(url.database or "")
        for key, value in url.query.items():
            values = (value,) if isinstance(value, str) else tuple(value)
            for v in values:
                found |= {v} if _is_secret_key(key) else _pattern_secrets(v)
    return {s for s in found if s and s != HIDDEN}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with each of ``secrets`` (raw or percent-encoded) and anything shaped like a
    secret in a URL or DSN replaced by ``***``."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}:
            text = text.replace(form, HIDDEN)
    text = _KEY_VALUE.sub(lambda m: f"{m['key']}{m['sep']}{HIDDEN}", text)
    text = _MAPPING.sub(lambda m: f"{m['key']}'{HIDDEN}'", text)
    return _USERINFO.sub(lambda m: f"{m['pre']}{HIDDEN}", text)


def safe_label(raw: str) -> str:
    """How a database URL (or path) may be shown or stored: every secret hidden, the rest
    as given (an unparseable URL too)."""
    url = _parsed(raw)
    # The label is rebuilt from cleaned parts; replacing the secrets' text afterwards is a
    # second net, left to secrets of 4 characters or more so that a one-letter password
    # does not blank every such letter of the label.
    second_net = {s for s in secrets_in(raw) if len(s) >= 4}
    if url is None:
        return redact(raw, second_net)
    query: dict[str, str | tuple[str, ...]] = {}
    for key, value in url.query.items():
        if _is_secret_key(key):
            query[key] = HIDDEN
        else:
            query[key] = redact(value) if isinstance(value, str) else tuple(map(redact, value))
    clean = url.set(database=redact(url.database) if url.database else url.database,
                    query=query)
    return redact(clean.render_as_string(hide_password=True), second_net)
