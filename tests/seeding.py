"""Build stored runs without measuring: real RunResults with chosen latencies, saved through
the real Store, so report, compare and export tests run in a fraction of a second."""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from flagbench.api.contracts import ActualRun
from flagbench.api.energy import EnergyReading
from flagbench.api.measurement import Fidelity, Measurement
from flagbench.api.result import RunResult, Status
from flagbench.api.spec import RunSpec
from flagbench.run.environment import host_facts
from flagbench.stats.summary import summarize
from flagbench.store import Store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
XSS = "<script>alert(1)</script>"


def host(name: str | None = None) -> dict[str, Any]:
    """This machine's facts, renamed to stand for another host."""
    facts = host_facts()
    return facts if name is None else {**facts, "hostname": name}


def ok_run(vendor: str, precision: str, median_s: float, *, case: str = "resnet50",
           batch_size: int = 1, scenario: str = "latency", started: datetime = T0,
           n: int = 60, spread: float = 0.02, seed: int = 0, hostname: str | None = None,
           tags: tuple[tuple[str, str], ...] = (), energy: EnergyReading | None = None,
           cosine: float = 0.9999, top1: float = 1.0,
           actual_precision: str | None = None) -> RunResult:
    """An ok run whose n samples scatter ±spread around median_s (seeded)."""
    rng = random.Random(seed)
    samples = tuple(median_s * (1 + rng.uniform(-spread, spread)) for _ in range(n))
    spec = RunSpec(vendor=vendor, case=case, batch_size=batch_size, precision=precision,
                   scenario=scenario, tags=tags)
    m = Measurement(samples=samples, stats=summarize(samples), stop_rule="ci_reached",
                    warmup_iters=3, warmup_s=0.1, first_iter_s=median_s * 3,
                    loop_s=sum(samples), energy=energy,
                    energy_note="" if energy else "no energy meter on this host")
    env: dict[str, Any] = {"host": host(hostname), "versions": {"torch": "2.13.0"}}
    env["energy"] = ({"source": energy.source, "scope": energy.scope,
                      "confidence": energy.confidence} if energy
                     else {"available": False, "reason": "no energy meter on this host"})
    return RunResult(
        spec, Status.OK, started, started + timedelta(seconds=5), measurement=m,
        fidelity=Fidelity(samples=8, max_abs_err=1e-3, mean_abs_err=1e-4, cosine=cosine,
                          top1_agreement=top1),
        actual=ActualRun(device="cpu", precision=actual_precision or precision, threads=2,
                         details={"providers": ["CPUExecutionProvider"]}
                         if vendor.startswith("ort") else {}),
        setup_s=0.5, flops_per_sample=8.18e9, environment=env)


def not_run(vendor: str, precision: str, status: Status, reason: str, *,
            case: str = "resnet50", started: datetime = T0,
            hostname: str | None = None) -> RunResult:
    """A skipped, failed or timed-out run with its reason."""
    spec = RunSpec(vendor=vendor, case=case, precision=precision)
    return RunResult(spec, status, started, started, reason=reason,
                     environment={"host": host(hostname)})


def add_metric(db: Path, run_id: int, name: str, value: float, unit: str = "ratio") -> None:
    """Store a metric that RunResult does not produce yet (e.g. accuracy_top1 from a case)."""
    with sqlite3.connect(db) as conn:
        conn.execute("insert into metrics (run_id, name, value, unit) values (?, ?, ?, ?)",
                     (run_id, name, value, unit))


def seed_issue_matrix(db: Path) -> dict[str, int]:
    """The issue's database: cpu and ort-cpu at fp32 and int8 (cpu int8 skipped), skipped
    cuda and ttbuda, a history with a step on ort-cpu, hostile text in a tag, a reason and
    a host name. Returns run ids by a short name."""
    store = Store.open(str(db))
    ids: dict[str, int] = {}
    # History: ort-cpu fp32 on this host, 4 runs at 40 ms, then 3 at 48 ms (a regression).
    for i, med in enumerate([0.040, 0.0401, 0.0399, 0.0400, 0.048, 0.0481, 0.0479]):
        ids[f"ort_fp32_{i}"] = store.save(ok_run(
            "ort-cpu", "fp32", med, started=T0 + timedelta(days=i), seed=i))
    ids["cpu_fp32"] = store.save(ok_run(
        "cpu", "fp32", 0.055, started=T0 + timedelta(days=7), seed=10,
        tags=(("purpose", XSS),),
        energy=EnergyReading("cpu_util_x_tdp", "package", "estimated", 12.0, 3.3)))
    trace = tuple((i * 0.05, 30.0 + (i % 5)) for i in range(16))
    ids["ort_int8"] = store.save(ok_run(
        "ort-cpu", "int8", 0.013, started=T0 + timedelta(days=7), seed=11, cosine=0.9998,
        top1=0.875, energy=EnergyReading("fake_power_poller", "board", "sampled", 24.0, 0.78,
                                         power_samples=trace)))
    ids["cpu_int8"] = store.save(not_run(
        "cpu", "int8", Status.SKIPPED, "cpu offers fp32 only", started=T0 + timedelta(days=7)))
    ids["cuda"] = store.save(not_run(
        "cuda", "fp32", Status.SKIPPED, "no CUDA device (torch.cuda.is_available() is False)",
        started=T0 + timedelta(days=7)))
    ids["ttbuda"] = store.save(not_run(
        "ttbuda", "fp32", Status.SKIPPED, "pybuda is not installed",
        started=T0 + timedelta(days=7)))
    ids["failed"] = store.save(not_run(
        "ort-cpu", "fp16", Status.FAILED, f"exporter raised {XSS}",
        started=T0 + timedelta(days=7), hostname=f"lab-{XSS}"))
    # Same speed as cpu fp32 within noise: a throughput run pair at batch 8.
    ids["cpu_tp8"] = store.save(ok_run("cpu", "fp32", 0.300, batch_size=8,
                                       scenario="throughput", started=T0 + timedelta(days=7),
                                       seed=20, spread=0.05))
    ids["ort_tp8"] = store.save(ok_run("ort-cpu", "fp32", 0.3005, batch_size=8,
                                       scenario="throughput", started=T0 + timedelta(days=7),
                                       seed=21, spread=0.05))
    store.close()
    add_metric(db, ids["ort_int8"], "accuracy_top1", 0.91)
    add_metric(db, ids["ort_fp32_6"], "accuracy_top1", 0.93)
    add_metric(db, ids["cpu_fp32"], "mfu", 0.042)
    return ids


def stored_runs(db: Path) -> list[Any]:
    """Every run stored in the database at ``db``, newest first."""
    store = Store.open(str(db), create=False)
    try:
        return store.runs()
    finally:
        store.close()
