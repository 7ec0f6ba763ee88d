"""How a report scales: seed a database with N runs (10,000 by default) and time reading,
rendering, writing and (with Chromium) opening the report.

    python benchmarks/report_scale.py [--runs 10000] [--db /tmp/fb-scale.db] [--out report.html]

The runs are saved through the real Store (one transaction each) with realistic metrics:
4 hosts × 5 vendors × 3 cases × 2 batch sizes × 2 precisions × 2 scenarios, spread over
90 days, 60 raw latencies each, about 6% skipped or failed, a slow-down on one series.
An existing database with at least N runs is reused, so only the first call pays the seeding.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from flagbench.api.contracts import ActualRun
from flagbench.api.energy import EnergyReading
from flagbench.api.measurement import Fidelity, Measurement
from flagbench.api.result import RunResult, Status
from flagbench.api.spec import RunSpec
from flagbench.report.render import ReportOptions, render_report, write_report
from flagbench.run.environment import host_facts
from flagbench.stats.summary import summarize
from flagbench.store import Store

HOSTS = ["lab-a", "lab-b", "lab-c", "lab-d"]
VENDORS = {"cpu": 1.0, "ort-cpu": 0.75, "cuda": 0.08, "ort-cuda": 0.06, "ttbuda": 0.1}
CASES = {"resnet50": 0.050, "bert-base": 0.080, "tiny-mlp": 0.0004}
T0 = datetime(2026, 8, 1, tzinfo=timezone.utc)


def _result(i: int, rng: random.Random) -> RunResult:
    host = HOSTS[i % len(HOSTS)]
    vendor = list(VENDORS)[(i // 4) % len(VENDORS)]
    case = list(CASES)[(i // 20) % len(CASES)]
    batch = (1, 8)[(i // 60) % 2]
    precision = ("fp32", "int8")[(i // 120) % 2]
    scenario = ("latency", "throughput")[(i // 240) % 2]
    started = T0 + timedelta(minutes=13 * i)
    spec = RunSpec(vendor=vendor, case=case, batch_size=batch, precision=precision,
                   scenario=scenario, tags=(("suite", "nightly"), ("commit", f"c{i // 480}")))
    env = {"host": {**host_facts(), "hostname": host}, "versions": {"torch": "2.13.0"}}
    if rng.random() < 0.06:
        status = Status.SKIPPED if rng.random() < 0.7 else Status.FAILED
        return RunResult(spec, status, started, started, reason=f"{status.value}: simulated",
                         environment=env)
    median = CASES[case] * VENDORS[vendor] * batch ** 0.8 * (0.45 if precision == "int8" else 1)
    if host == "lab-a" and vendor == "cpu" and i > 6000:
        median *= 1.15  # a regression the report should flag
    samples = tuple(median * rng.lognormvariate(0, 0.03) for _ in range(60))
    watts = 40 + 200 * (vendor != "cpu")
    energy = EnergyReading("nvml_total_energy" if "cuda" in vendor else "cpu_util_x_tdp",
                           "board" if "cuda" in vendor else "package",
                           "measured" if "cuda" in vendor else "estimated",
                           watts * sum(samples), sum(samples))
    m = Measurement(samples=samples, stats=summarize(samples), stop_rule="ci_reached",
                    warmup_iters=5, warmup_s=1.0, first_iter_s=median * 4, loop_s=sum(samples),
                    energy=energy)
    env["energy"] = {"source": energy.source, "scope": energy.scope,
                     "confidence": energy.confidence}
    return RunResult(spec, Status.OK, started, started + timedelta(seconds=20), measurement=m,
                     fidelity=Fidelity(8, 1e-3, 1e-4, 0.9999, 1.0),
                     actual=ActualRun(device="cpu", precision=precision, threads=2),
                     setup_s=1.0, flops_per_sample=8.18e9, environment=env)


def _seed(db: Path, runs: int) -> tuple[int, float]:
    store = Store.open(str(db))
    have = len(store.runs())
    t0 = time.perf_counter()
    rng = random.Random(0)
    for i in range(runs):
        result = _result(i, rng)
        if i >= have:
            store.save(result)
    store.close()
    return max(0, runs - have), time.perf_counter() - t0


def main() -> int:
    """Seed if needed, then time each step of a report over every run."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "fb-scale.db")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "fb-scale.html")
    args = ap.parse_args()
    added, seconds = _seed(args.db, args.runs)
    print(f"database {args.db}: {args.runs} runs ({added} saved now, in {seconds:.1f} s)")

    store = Store.open(str(args.db), create=False)
    t0 = time.perf_counter()
    runs = store.runs()
    t_read = time.perf_counter() - t0
    render_report(runs[:50], store.label, store)  # warm imports (matplotlib, scipy) apart
    t0 = time.perf_counter()
    html = render_report(runs, store.label, store, ReportOptions(baseline="cpu"))
    t_render = time.perf_counter() - t0
    t0 = time.perf_counter()
    path = write_report(html, str(args.out))
    t_write = time.perf_counter() - t0
    store.close()
    size = path.stat().st_size
    print(f"read {len(runs)} runs: {t_read:.2f} s")
    print(f"render_report: {t_render:.2f} s")
    print(f"write: {t_write:.3f} s, {size / 1e6:.2f} MB, {html.count('<svg')} charts")

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium not found: time to open not measured")
        return 0
    flags = ["--headless", "--no-sandbox", "--disable-gpu"]
    t0 = time.perf_counter()
    subprocess.run([browser, *flags, "--dump-dom", "about:blank"], capture_output=True,
                   check=True, timeout=300)
    t_blank = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run([browser, *flags, "--dump-dom", path.resolve().as_uri()],
                   capture_output=True, check=True, timeout=300)
    t_open = time.perf_counter() - t0
    print(f"chromium headless load + script + DOM dump: {t_open:.2f} s "
          f"(an empty page: {t_blank:.2f} s, so the report adds {t_open - t_blank:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
