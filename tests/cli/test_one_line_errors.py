"""Inputs that once ended in a traceback (issue 16, class 4): each row is an input and the one
line it must give instead, with exit code 2 and the database untouched. An OSError that gets
to the CLI (the system refusing a path) is one line too; anything else is a bug."""

from __future__ import annotations

import contextlib
import hashlib
import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from flagbench.store import Store
from seeding import ok_run

Flagbench = Callable[..., subprocess.CompletedProcess[str]]
LONG = "a" * 300  # one path component past NAME_MAX (255)

#: (arguments, environment, what the one line says); {db} and {tmp} are filled in.
ROWS = [
    # URLs a dialect cannot read
    (["history", "--db", "sqlite:///{db}?timeout=abc"], {}, "could not convert string to float"),
    (["history", "--db", "sqlite:///{db}?check_same_thread=maybe"], {}, "true/false"),
    (["history", "--db", "postgresql+psycopg://host:notaport/db"], {},
     "not a database path or SQLAlchemy URL"),
    # ages and dates past the calendar
    (["export", "--db", "{db}", "--since", "99999999999999d"], {}, "beyond the calendar"),
    (["export", "--db", "{db}", "--since", "5000000d"], {}, "beyond the calendar"),
    (["export", "--db", "{db}", "--since", "9" * 400 + "h"], {}, "beyond the calendar"),
    (["export", "--db", "{db}", "--until", "9999-12-31T23:59-01:00"], {}, "beyond the calendar"),
    (["report", "--db", "{db}", "--out", "{tmp}/r.html", "--since", "0001-01-01T00:00+01:00"],
     {}, "beyond the calendar"),
    (["export", "--db", "{db}", "--since", "²d"], {}, "expected an ISO date/time"),
    # path components the file system refuses
    (["history", "--db", "{tmp}/" + LONG + ".db"], {}, "File name too long"),
    (["run", "--config", "{tmp}/" + LONG + ".toml"], {}, "File name too long"),
    (["spool"], {"FLAGBENCH_SPOOL": "{tmp}/" + LONG}, "File name too long"),
    # a suite nested past the parser's recursion
    (["run", "--config", "{tmp}/deep-arrays.toml"], {}, "nested too deeply"),
    (["run", "--config", "{tmp}/deep-tables.toml"], {}, "nested too deeply"),
    # an unusable data directory (where the default database lives)
    (["history"], {"XDG_DATA_HOME": "/dev/null"}, "Not a directory: /dev/null/flagbench"),
]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with one run, and the suite files of the table."""
    tmp = tmp_path_factory.mktemp("hostile")
    store = Store.open(str(tmp / "results.db"), create=True)
    store.save(ok_run("cpu", "fp32", 0.01))
    store.close()
    (tmp / "deep-arrays.toml").write_text("[matrix]\nbatch-sizes = " + "[" * 5000
                                          + "]" * 5000 + "\n")
    (tmp / "deep-tables.toml").write_text("a = " + "{b=" * 3000 + "1" + "}" * 3000 + "\n")
    return tmp


@pytest.mark.parametrize(("args", "env", "expected"), ROWS,
                         ids=[" ".join(a)[:50] + (f" {e}" if e else "") for a, e, _ in ROWS])
def test_one_line_and_nothing_changed(flagbench: Flagbench, seeded: Path, args: list[str],
                                      env: dict[str, str], expected: str) -> None:
    db = seeded / "results.db"
    before = _digest(db)
    fill = {"db": str(db), "tmp": str(seeded)}
    done = flagbench(*(a.format(**fill) for a in args),
                     env={k: v.format(**fill) for k, v in env.items()})
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert expected in lines[0] and "Traceback" not in done.stderr
    assert _digest(db) == before


class _ClosedPipe(io.StringIO):
    """A stdout whose reader has gone, as `flagbench run | head` leaves it once head exits."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_loses_no_run(tmp_path: Path, plugin_site: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The display is dropped, not the run: it is measured, stored, and exits 0, silently.
    (In this process, with a stdout that raises as a broken pipe does: a process per test
    would cost a torch import.)"""
    from flagbench.cli.main import main

    db = tmp_path / "results.db"
    monkeypatch.setattr(sys, "argv", [
        "flagbench", "run", "--vendor", "cpu", "--case", "tiny-mlp", "--db", str(db),
        "--no-isolate", "--warmup", "0", "--min-time", "0.01", "--max-time", "0.1",
        "--min-iters", "3", "--target-ci", "0"])
    err = io.StringIO()
    with contextlib.redirect_stdout(_ClosedPipe()), contextlib.redirect_stderr(err), \
            pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 0 and err.getvalue() == ""
    store = Store.open(str(db), create=False)
    assert [r.status for r in store.runs()] == ["ok"]
    store.close()
