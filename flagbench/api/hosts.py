"""A host's stable identity from its recorded facts: the store keys hosts by it and the report
matches runs of one machine by it."""

from __future__ import annotations

import hashlib
from typing import Any


def host_key(facts: dict[str, Any]) -> str:
    """A stable identity for a host: the same machine gives the same key across runs."""
    ident = "|".join(
        str(facts.get(k)) for k in ("hostname", "cpu_model", "logical_cores", "memory_bytes")
    )
    return hashlib.sha256(ident.encode()).hexdigest()[:16]
