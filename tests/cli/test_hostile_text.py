"""Hostile text and small promises (issue 16, classes 10 and 11): stored text that would
drive a terminal or a spreadsheet is shown escaped, and the smaller rows each end in one line
(or the promised outcome) with the database left as it was."""

from __future__ import annotations

import contextlib
import csv
import io
import sqlite3
from pathlib import Path

import pytest
import torch

from hostile_table import Row, checksum, refused, seed

RUN = ["run", "--vendor", "cpu", "--case", "tiny-mlp", "--no-isolate"]
#: Tags that would recolour, rewind and ring a terminal, or run as spreadsheet formulas.
HOSTILE_TAGS = {"color": "a\x1b[31mred", "cr": "fake\rline", "bell": "ding\x07",
                "=cmd": "1", "formula": "=HYPERLINK(\"http://x\")", "plus": "+1", "at": "@SUM(A1)",
                "minus": "-2+3"}
RAW = ("\x1b", "\r", "\x07")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = seed(tmp_path / "results.db")
    # Seeded past the input check, as an older flagbench or another tool could have written.
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.executemany("insert into tags (run_id, key, value) values (1, ?, ?)",
                         HOSTILE_TAGS.items())
    return path


def test_control_characters_in_tags_are_refused_at_input(flagbench, db: Path) -> None:
    """Class 10, at input: 5 rows."""
    run = [*RUN, "--db", str(db)]
    rows = [Row([*run, "--tag", f"k={v}"], "holds a control character")
            for v in ("a\x1b[31mb", "a\rb", "a\x07b", "a\x9bb")]
    rows.append(Row([*run, "--tag", "k\x1b[2J=v"], "tag key"))
    assert refused(flagbench, rows, db) == 5


def test_stored_hostile_text_is_shown_escaped(flagbench, db: Path, tmp_path: Path) -> None:
    """Class 10, at output: every command that shows or exports run 1's tags (5 rows)."""
    before = checksum(db)
    report = tmp_path / "report.html"
    rows = [(["show", "1"], "\\x1b[31mred"), (["history"], "last 2 run(s)"),
            (["report", "--out", str(report)], "wrote"),
            (["export", "--format", "csv"], "'=cmd=1"),
            (["export", "--format", "csv", "--out", "-"], "'=cmd=1")]
    for args, shown in rows:
        out = flagbench(*args, "--db", str(db))
        assert out.returncode == 0, (args, out.stderr)
        assert shown in out.stdout + out.stderr, (args, out.stdout[-800:])
        if args[0] != "export":  # an export carries the data as stored, in CSV's quotes
            for raw in RAW:
                assert raw not in out.stdout + out.stderr, (args, raw)
        assert checksum(db) == before
    assert report.read_text().startswith("<!DOCTYPE html")  # a browser shows no ESC
    show = flagbench("show", "1", "--db", str(db)).stdout
    assert "fake\\rline" in show and "ding\\x07" in show


def test_every_csv_cell_that_starts_a_formula_is_quoted(flagbench, db: Path) -> None:
    """Class 10, the CSV rule (OWASP): text cells starting = + - @ tab CR, not numbers."""
    from flagbench.report.export import spreadsheet_cell

    cells = [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"),
             ("\tx", "'\tx"), ("\rx", "'\rx"), ("a=b", "a=b"), (-1.5, -1.5), ("", "")]
    assert [spreadsheet_cell(v) for v, _ in cells] == [want for _, want in cells]
    out = flagbench("export", "--format", "csv", "--db", str(db)).stdout
    header, *runs = csv.reader(io.StringIO(out, newline=""))
    tags = {r[0]: r[header.index("tags")] for r in runs}
    assert tags["1"].startswith("'=cmd=1;"), tags


def test_small_promises(flagbench, db: Path, tmp_path: Path) -> None:
    """Class 11: raw pickles, --config with --no-isolate, empty --db and FLAGBENCH_DB."""
    raw = tmp_path / "raw.pt"
    torch.save({"w": torch.zeros(2), "obj": Path("x")}, raw)
    suite = tmp_path / "suite.toml"
    suite.write_text('[matrix]\nvendors = ["cpu"]\ncases = ["tiny-mlp"]\n')
    rows = [
        Row([*RUN, "--db", str(db), "--weights", str(raw)],
            "holds Python objects besides tensors"),
        Row(["run", "--config", str(suite), "--no-isolate", "--db", str(db)],
            "--no-isolate cannot be combined with --config"),
        Row(["run", "--config", str(suite), "--isolate", "--db", str(db)],
            "--isolate cannot be combined with --config"),
        Row(["history", "--db", ""], "--db is empty"),
        Row(["export", "--db", " "], "--db is empty"),
        Row(["history"], "FLAGBENCH_DB is set but empty", env={"FLAGBENCH_DB": ""}),
    ]
    assert refused(flagbench, rows, db) == 6
    out = flagbench(*RUN, "--db", str(db), "--weights", str(raw))
    assert "weights_only=False" not in out.stderr and "Warning" not in out.stderr


def test_export_out_dash_is_stdout(flagbench, db: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Class 11: `--out -` writes to stdout for export and report, and leaves no file."""
    monkeypatch.chdir(tmp_path)
    for args, head in ((["export", "--format", "json"], '"format": "flagbench-export-1"'),
                       (["report"], "<!DOCTYPE html")):
        out = flagbench(*args, "--out", "-", "--db", str(db))
        assert out.returncode == 0, out.stderr
        assert head in out.stdout[:4096], out.stdout[:200]
        assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("var", ["FLAGBENCH_CACHE", "FLAGBENCH_SPOOL"])
def test_folders_that_are_not_utf8_are_refused_before_anything_runs(
        flagbench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
        var: str) -> None:
    monkeypatch.setenv(var, str(tmp_path) + "/\udcff")  # an undecodable byte, as os gives it
    out = flagbench("spool")
    assert out.returncode == 2 and f"{var}" in out.stderr and "not valid UTF-8" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
