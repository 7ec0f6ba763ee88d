"""How often the stored 95% interval of the median covers the true median, at the moment the
real stopping rule stops, on simulated timings whose median is known.

Each run draws timings from one regime, feeds them to ``StoppingRule`` one by one with the
elapsed time they add up to (as ``measure_latency`` does), and when the rule stops computes
the interval exactly as a stored run does (``summarize``). Regimes, all with a true median of
10 ms (``--median-ms``): independent lognormal (sd 2%); log-AR(1) with lag-1 correlation 0.9
and 0.99 (sd 2%); a slow step drift (the level switches between -2% and +2% at random,
every 25 timings on average, plus 1% independent noise). Prints the coverage per regime and
how the runs stopped.

    python benchmarks/interval_coverage.py [--runs 400] [--seed 0] [--median-ms 10]
"""

from __future__ import annotations

import argparse
import collections
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
            ) -> tuple[bool, str, int]:
    """(covered, stop rule, samples) of one simulated run."""
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
    return s.ci_low <= MEDIAN_S <= s.ci_high, stop, len(samples)


def coverage(regime: str, runs: int, seed: int, config: MeasureConfig
             ) -> tuple[float, collections.Counter[str], float]:
    """Share of runs covered, their stop rules and their median sample count."""
    rng = np.random.default_rng(seed)
    covered, rules, sizes = 0, collections.Counter[str](), []
    for _ in range(runs):
        ok, rule, n = one_run(regime, config, rng)
        covered += ok
        rules[rule] += 1
        sizes.append(n)
    return covered / runs, rules, float(np.median(sizes))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--median-ms", type=float, default=10.0)
    args = parser.parse_args(argv)
    global MEDIAN_S
    MEDIAN_S = args.median_ms / 1e3
    config = MeasureConfig()  # the defaults a user gets
    print(f"| regime | coverage of the 95% interval | stop rules | median samples |  "
          f"({args.runs} runs each, seed {args.seed}, median {args.median_ms:g} ms, defaults: "
          f"min {config.min_time_s:g} s, max {config.max_time_s:g} s, "
          f"target ±{config.target_ci:.0%})")
    print("|---|---|---|---|")
    for regime in REGIMES:
        t0 = time.perf_counter()
        share, rules, size = coverage(regime, args.runs, args.seed, config)
        print(f"| {regime} | {share:.1%} | {dict(rules)} | {size:.0f} |  "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
