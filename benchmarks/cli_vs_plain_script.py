"""Five `flagbench run --vendor cpu --case resnet50` interleaved with five runs of a plain
torch loop script (benchmarks/plain_torch_loop.py), each in a fresh process: medians, their
run-to-run coefficient of variation, and each flagbench run's wall time; then what that many
pairs can decide (pair-bootstrap intervals of both ratios, pairs needed for ±2%) and, with ten
pairs or more, how often a set of five consecutive pairs meets each half of issue 4's line.

Each run's share of CPU time stolen by the hypervisor (from the system's CPU times around the
whole subprocess) is printed and, with --csv, written with the run, so that slow runs can be
told apart from slow phases of the host.

Usage: python benchmarks/cli_vs_plain_script.py [--pairs 5] [--plain-seconds 15] [--csv F]
"""

from __future__ import annotations

import argparse
import csv
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--plain-seconds", type=float, default=15.0,
                        help="the plain loop's timed window; default: flagbench's default maximum")
    parser.add_argument("--csv", type=Path, help="append one row per run to this file")
    args = parser.parse_args()
    db = Path(tempfile.mkdtemp()) / "bench.db"
    fb: list[float] = []
    plain: list[float] = []
    walls: list[float] = []
    rows = _CsvRows(args.csv)
    for i in range(args.pairs):
        order = ("flagbench", "plain") if i % 2 == 0 else ("plain", "flagbench")
        for side in order:
            before = psutil.cpu_times()
            if side == "plain":
                out = subprocess.run([sys.executable, str(HERE / "plain_torch_loop.py"),
                                      str(args.plain_seconds)],
                                     capture_output=True, text=True, check=True).stdout
                m = re.search(r"median_ms=([\d.]+)", out)
                assert m is not None, out
                plain.append(float(m.group(1)))
                steal = _steal_fraction(before, psutil.cpu_times())
                print(f"pair {i + 1} plain     : {out.strip()} steal={steal:.4f}", flush=True)
                rows.add(i + 1, side, plain[-1], None, None, steal)
            else:
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "flagbench", "run", "--vendor", "cpu",
                                "--case", "resnet50", "--db", str(db)],
                               capture_output=True, text=True, check=True)
                wall = time.perf_counter() - t0
                with sqlite3.connect(db) as conn:
                    (value,) = conn.execute(
                        "select value from metrics where name = 'latency_median_s' "
                        "order by run_id desc limit 1").fetchone()
                    (stop,) = conn.execute(
                        "select stop_rule from runs order by id desc limit 1").fetchone()
                fb.append(value * 1e3)
                walls.append(wall)
                steal = _steal_fraction(before, psutil.cpu_times())
                print(f"pair {i + 1} flagbench : median_ms={value * 1e3:.4f} wall_s={wall:.2f} "
                      f"stop={stop} steal={steal:.4f}", flush=True)
                rows.add(i + 1, side, fb[-1], wall, stop, steal)

    print(f"flagbench: median of medians {statistics.median(fb):.3f} ms, CV {_cv(fb):.2%}, "
          f"wall {min(walls):.1f}-{max(walls):.1f} s")
    print(f"plain    : median of medians {statistics.median(plain):.3f} ms, CV {_cv(plain):.2%}")
    print(f"flagbench / plain: {statistics.median(fb) / statistics.median(plain):.4f} "
          f"(medians of medians); per pair "
          f"{', '.join(f'{f / p:.3f}' for f, p in zip(fb, plain, strict=True))}")
    resolving_power(fb, plain)
    five_pair_sets(fb, plain)


def _cv(v: list[float]) -> float:
    return statistics.stdev(v) / statistics.mean(v)


class _CsvRows:
    """Appends one row per run, flushed at once, so a long set interrupted keeps what it did."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is not None and not path.exists():
            path.write_text("time,pair,side,median_ms,wall_s,stop,steal_fraction\n")

    def add(self, pair: int, side: str, median_ms: float, wall: float | None,
            stop: str | None, steal: float) -> None:
        if self.path is None:
            return
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerow([f"{time.time():.0f}", pair, side, f"{median_ms:.4f}",
                                    "" if wall is None else f"{wall:.2f}", stop or "",
                                    f"{steal:.5f}"])


def _steal_fraction(before: tuple[float, ...], after: tuple[float, ...]) -> float:
    """Share of all CPU time between two snapshots that the hypervisor gave to others."""
    total = sum(after) - sum(before)
    stolen = getattr(after, "steal", 0.0) - getattr(before, "steal", 0.0)
    return stolen / total if total > 0 else 0.0


def five_pair_sets(fb: list[float], plain: list[float]) -> None:
    """Issue 4's check is five pairs; cut the pairs into consecutive sets of five and count how
    many sets meet each half of it, so the chance of a pass or a fail by scatter alone shows."""
    sets = [(fb[k:k + 5], plain[k:k + 5]) for k in range(0, len(fb) - 4, 5)]
    if len(sets) < 2:
        return

    verdicts = [(abs(statistics.median(f) / statistics.median(p) - 1) <= 0.02,
                 _cv(f) <= _cv(p)) for f, p in sets]
    within = sum(w for w, _ in verdicts)
    quieter = sum(q for _, q in verdicts)
    both = sum(w and q for w, q in verdicts)
    print(f"{len(sets)} sets of five consecutive pairs: median within 2% in {within}, CV no "
          f"larger in {quieter}, both in {both}")


def resolving_power(fb: list[float], plain: list[float], resamples: int = 10_000) -> None:
    """What this many pairs can decide: pair-bootstrap 95% intervals of the two ratios, and
    how many pairs a ±2% interval of the median ratio would take at the scatter seen."""
    import math
    import random

    if len(fb) < 3:
        return
    rng = random.Random(20261126)
    pairs = list(zip(fb, plain, strict=True))
    med, cvs = [], []
    for _ in range(resamples):
        draw = [rng.choice(pairs) for _ in pairs]
        f, p = [d[0] for d in draw], [d[1] for d in draw]
        if statistics.stdev(p) == 0:
            continue
        med.append(statistics.median(f) / statistics.median(p))
        cvs.append(_cv(f) / _cv(p))

    def ci(v: list[float]) -> str:
        v.sort()
        return f"[{v[int(0.025 * len(v))]:.3f}, {v[int(0.975 * len(v)) - 1]:.3f}]"

    logs = [math.log(f / p) for f, p in pairs]
    need = math.ceil((1.96 * statistics.stdev(logs) / math.log(1.02)) ** 2)
    print(f"resolving power ({len(pairs)} pairs, pair bootstrap): median ratio {ci(med)}, "
          f"CV ratio {ci(cvs)}; per-pair log-ratio sd {statistics.stdev(logs):.3f}, so a "
          f"±2% interval of the mean ratio needs about {need} pairs")


if __name__ == "__main__":
    main()
