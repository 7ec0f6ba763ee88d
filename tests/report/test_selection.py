"""Selectors of compare, time filters and --latest."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from flagbench.api.errors import FlagbenchError
from flagbench.report.selection import latest, parse_selector, parse_time
from flagbench.store import RunQuery, Store, StoredRun
from seeding import T0, ok_run


def test_selectors() -> None:
    assert parse_selector("12").query.ids == (12,)
    assert parse_selector("run:3,4").query.ids == (3, 4)
    tag = parse_selector("tag:commit=abc", RunQuery(cases=("resnet50",)))
    assert tag.query.tags == (("commit", "abc"),) and tag.query.cases == ("resnet50",)
    host = parse_selector("host:lab1")
    assert host.query.hosts == ("lab1",) and host.by_host and not host.by_vendor
    assert parse_selector("vendor:cpu").by_vendor
    for bad, message in [("run:x", "integers"), ("tag:novalue", "tag:KEY=VALUE"),
                         ("gpu:1", "unknown kind"), ("host:", "empty")]:
        with pytest.raises(FlagbenchError, match=message):
            parse_selector(bad)


def test_times() -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)
    assert parse_time("7d", "--since", now) == now - timedelta(days=7)
    assert parse_time("90m", "--since", now) == now - timedelta(minutes=90)
    assert parse_time("2026-11-20", "--since") == datetime(2026, 11, 20, tzinfo=timezone.utc)
    with pytest.raises(FlagbenchError, match="--until 'yesterday'"):
        parse_time("yesterday", "--until")


def test_latest_keeps_the_newest_run_of_each_cell_whatever_its_status(db_path: Path) -> None:
    store = Store.open(str(db_path))
    store.save(ok_run("cpu", "fp32", 0.05, started=T0))
    newest = store.save(ok_run("cpu", "fp32", 0.06, started=T0 + timedelta(days=1)))
    other = store.save(ok_run("cpu", "int8", 0.02, started=T0))
    runs = store.runs()
    store.close()
    assert sorted(r.id for r in latest(runs)) == sorted([newest, other])


def _run(id_: int, clock: str | None, vendor: str = "cuda",
         vendor_options: list[list[Any]] | None = None) -> StoredRun:
    now = datetime.now(timezone.utc)
    env = {} if clock is None else {"clock": clock}
    return StoredRun(id=id_, uid=str(id_), vendor=vendor, case="c", scenario="latency",
                     batch_size=1, precision="fp32", status="ok", reason="", stop_rule="x",
                     started_at=now, finished_at=now, hostname="h",
                     spec={"options": [], "vendor_options": vendor_options or []},
                     actual=None, environment=env, host_facts={})


def test_runs_timed_by_different_clocks_are_not_compared() -> None:
    from flagbench.report.pairing import compare_sets
    from flagbench.report.selection import clock_mismatch

    host, device = _run(1, "perf_counter"), _run(2, "device_timer")
    assert clock_mismatch([host], [_run(3, None)]) == ""  # no record: the host clock
    assert clock_mismatch([host], [device]) == (
        "timed by different clocks (perf_counter vs device_timer): not compared")
    (cell,) = compare_sets([host], [device], lambda ids: {i: [1.0, 1.1, 1.2] for i in ids})
    assert cell.comparison is None and "different clocks" in cell.note


def test_vendor_options_off_their_defaults_name_the_vendor() -> None:
    assert _run(1, None).vendor_label == "cuda"
    assert _run(1, None, vendor_options=[["mode", "inductor"]]).vendor_label == (
        "cuda[mode=inductor]")
