"""How often the stored 95% interval of the median covers the true median, at the moment the
real stopping rule stops, on simulated timings whose median is known.

Each run draws timings from one regime, feeds them to ``StoppingRule`` one by one with the
elapsed time they add up to (as ``measure_latency`` does), and when the rule stops computes
the interval exactly as a stored run does (``summarize``). Regimes, all with a true median of
10 ms (``--median-ms``): independent lognormal (sd 2%); log-AR(1) with lag-1 correlation 0.9
and 0.99 (sd 2%); a slow step drift (the level switches between -2% and +2% at random,
every 25 timings on average, plus 1% independent noise). Prints per regime the coverage, how
the runs stopped (and how many of each covered), the median sample count and the median
relative half-width of the stored interval.

    python benchmarks/interval_coverage.py [--runs 400] [--seed 0] [--median-ms 10]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import math
import sys
import time

import numpy as np

from flagbench.api.spec import MeasureConfig
from flagbench.measure.window import StoppingRule
from flagbench.stats.summary import summarize

MEDIAN_S = 0.010
"""The true median (seconds); ``--median-ms`` changes it: the rules are time-based, so it
sets how many timings a window holds."""
REGIMES = ("iid", "ar1_0.9", "ar1_0.99", "step_drift")


def timings(regime: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` timings of one regime, in seconds; their marginal median is MEDIAN_S."""
    if regime == "iid":
        return MEDIAN_S * np.exp(rng.normal(0.0, 0.02, n))
    if regime.startswith("ar1_"):
        phi = float(regime.split("_")[1])
        e = rng.normal(0.0, 0.02 * math.sqrt(1 - phi * phi), n)
        x = np.empty(n)
        x[0] = rng.normal(0.0, 0.02)
        for i in range(1, n):  # a stationary start, so the marginal is N(0, 0.02²)
            x[i] = phi * x[i - 1] + e[i]
        return MEDIAN_S * np.exp(x)
    if regime == "step_drift":
        switch = rng.random(n) < 1 / 25  # a switch every 25 timings on average
        level = np.where(np.cumsum(switch) % 2 == 0, 1.0, -1.0) * rng.choice([-1.0, 1.0])
        return MEDIAN_S * np.exp(0.02 * level + rng.normal(0.0, 0.01, n))
    raise ValueError(regime)


def one_run(regime: str, config: MeasureConfig, rng: np.random.Generator
            ) -> tuple[bool, str, int, float]:
    """(covered, stop rule, samples, relative half-width) of one simulated run."""
    cap = int(config.max_time_s / (MEDIAN_S * 0.9)) + 10
    draws = timings(regime, cap, rng).tolist()
    rule = StoppingRule(config)
    samples: list[float] = []
    elapsed = 0.0
    for t in draws:
        samples.append(t)
        elapsed += t
        stop = rule.check(samples, elapsed)
        if stop is not None:
            break
    else:
        raise AssertionError("the rule never stopped")
    s = summarize(samples)
    return s.ci_low <= MEDIAN_S <= s.ci_high, stop, len(samples), s.ci_rel_halfwidth


@dataclasses.dataclass(frozen=True)
class Coverage:
    """What the runs of one regime gave."""

    share: float  # of runs whose stored interval covers the true median
    rules: collections.Counter[str]  # runs per stop rule
    covered: collections.Counter[str]  # of those, how many covered
    median_samples: float
    median_half: float  # the stored interval's relative half-width, median over runs


def coverage(regime: str, runs: int, seed: int, config: MeasureConfig) -> Coverage:
    """Simulate ``runs`` runs of one regime from ``seed``."""
    rng = np.random.default_rng(seed)
    rules, covered = collections.Counter[str](), collections.Counter[str]()
    sizes, halves = [], []
    for _ in range(runs):
        ok, rule, n, half = one_run(regime, config, rng)
        rules[rule] += 1
        covered[rule] += ok
        sizes.append(n)
        halves.append(half)
    return Coverage(sum(covered.values()) / runs, rules, covered, float(np.median(sizes)),
                    float(np.median(halves)))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--median-ms", type=float, default=10.0)
    args = parser.parse_args(argv)
    global MEDIAN_S
    MEDIAN_S = args.median_ms / 1e3
    config = MeasureConfig()  # the defaults a user gets
    print(f"| regime | coverage | stop rules (covered/runs) | median samples | median "
          f"half-width |  ({args.runs} runs each, seed {args.seed}, median {args.median_ms:g} "
          f"ms, defaults: min {config.min_time_s:g} s, max {config.max_time_s:g} s, "
          f"target ±{config.target_ci:.0%})")
    print("|---|---|---|---|---|")
    for regime in REGIMES:
        t0 = time.perf_counter()
        c = coverage(regime, args.runs, args.seed, config)
        rules = ", ".join(f"{r} {c.covered[r]}/{k}" for r, k in c.rules.most_common())
        print(f"| {regime} | {c.share:.1%} | {rules} | {c.median_samples:.0f} | "
              f"±{c.median_half:.2%} |  ({time.perf_counter() - t0:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
