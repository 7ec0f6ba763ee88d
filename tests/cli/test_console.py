"""The run table fits the console: empty columns go, then the least needed ones, and the
title says what was left out."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from flagbench.cli.console import _RUN_COLUMNS, fit_columns, runs_table
from flagbench.store import Store
from seeding import ok_run

NAMES = [name for name, _, _ in _RUN_COLUMNS]


def _row(**cells: str) -> tuple[str, ...]:
    base = {"id": "1", "vendor": "cpu", "case": "resnet50", "scenario": "latency", "bs": "1",
            "prec": "fp32", "status": "ok", "p50 ms": "81.2", "CI p50": "±0.9%",
            "p90 ms": "84.1", "p99 ms": "90.3", "samples/s": "12.3",
            "fidelity": "cos 1.00000, top-1 100%", "accuracy": "—",
            "achieved": "101 GFLOP/s (64.3% peak)", "reason": ""}
    base.update(cells)
    return tuple(base[n] for n in NAMES)


def _names(indices: list[int]) -> list[str]:
    return [NAMES[i] for i in indices]


def test_a_column_empty_in_every_row_is_left_out() -> None:
    shown = _names(fit_columns([_row(), _row(id="2")], width=None))
    assert "accuracy" not in shown and shown == [n for n in NAMES if n != "accuracy"]
    assert "accuracy" in _names(fit_columns([_row(), _row(accuracy="top-1 94.7%")], None))


def test_a_narrow_console_drops_the_least_needed_columns_first() -> None:
    rows = [_row(reason="⚠ unstable: coefficient of variation 12.0% (above 10%)")]
    wide = _names(fit_columns(rows, 300))
    assert wide == [n for n in NAMES if n != "accuracy"]
    middle = _names(fit_columns(rows, 120))
    assert "achieved" not in middle and "CI p50" in middle and "fidelity" in middle
    narrow = _names(fit_columns(rows, 60))
    # What identifies a run and its headline figure always stays.
    assert narrow == ["id", "vendor", "case", "bs", "prec", "status", "p50 ms", "reason"]


def test_the_title_names_the_hidden_columns(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "t.db"))
    store.save(ok_run("cpu", "fp32", 0.081))
    (run,) = store.runs()
    store.close()
    console = Console(width=90, record=True, force_terminal=False)
    console.print(runs_table([run], "results", width=90))
    text = console.export_text()
    assert "hidden to fit" in text and "achieved" in text.split("hidden")[0]
    console = Console(width=400, record=True)
    console.print(runs_table([run], "results", width=400))
    assert "hidden" not in console.export_text()
