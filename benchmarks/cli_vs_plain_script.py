"""Five `flagbench run --vendor cpu --case resnet50` interleaved with five runs of a plain
torch loop script (benchmarks/plain_torch_loop.py), each in a fresh process: medians, their
run-to-run coefficient of variation, and each flagbench run's wall time; then what that many
pairs can decide (pair-bootstrap intervals of both ratios, pairs needed for ±2%).

Usage: python benchmarks/cli_vs_plain_script.py [--pairs 5] [--plain-seconds 15]
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--plain-seconds", type=float, default=15.0,
                        help="the plain loop's timed window; default: flagbench's default maximum")
    args = parser.parse_args()
    db = Path(tempfile.mkdtemp()) / "bench.db"
    fb, plain, walls = [], [], []
    for i in range(args.pairs):
        order = ("flagbench", "plain") if i % 2 == 0 else ("plain", "flagbench")
        for side in order:
            if side == "plain":
                out = subprocess.run([sys.executable, str(HERE / "plain_torch_loop.py"),
                                      str(args.plain_seconds)],
                                     capture_output=True, text=True, check=True).stdout
                m = re.search(r"median_ms=([\d.]+)", out)
                assert m is not None, out
                plain.append(float(m.group(1)))
                print(f"pair {i + 1} plain     : {out.strip()}")
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
                print(f"pair {i + 1} flagbench : median_ms={value * 1e3:.4f} wall_s={wall:.2f} "
                      f"stop={stop}")

    def cv(v: list[float]) -> float:
        return statistics.stdev(v) / statistics.mean(v)

    print(f"flagbench: median of medians {statistics.median(fb):.3f} ms, CV {cv(fb):.2%}, "
          f"wall {min(walls):.1f}-{max(walls):.1f} s")
    print(f"plain    : median of medians {statistics.median(plain):.3f} ms, CV {cv(plain):.2%}")
    print(f"flagbench / plain: {statistics.median(fb) / statistics.median(plain):.4f} "
          f"(medians of medians); per pair "
          f"{', '.join(f'{f / p:.3f}' for f, p in zip(fb, plain, strict=True))}")
    resolving_power(fb, plain)


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
        cvs.append((statistics.stdev(f) / statistics.mean(f))
                   / (statistics.stdev(p) / statistics.mean(p)))

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
