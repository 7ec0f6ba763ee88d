"""flagbench's own cost: its timing loop against torch.utils.benchmark's blocked_autorange on
the same session, latency with a power poller running versus none, and the per-iteration
overhead of its loop on a near-empty session.

Why short interleaved windows: on a shared 2-core VM the same ResNet-50 loop drifts by 10-30%
between windows a few seconds apart, so two 6 s windows side by side compare the machine's
moments, not the harnesses (the last stop's 4 rounds of 6 s gave ratios from 0.90 to 0.98).
Here each side gets many short windows, alternating A B / B A, so both sample the same drift;
the figure is the ratio of the two sides' pooled medians (every timed iteration of every
window), with a 95% bootstrap interval that resamples whole rounds. By default a window is
one timed iteration: flagbench's loop runs its one untimed first iteration and one timed
one, and blocked_autorange its block-size probe (one untimed iteration, giving blocks of
one) and one timed block, so the two sides alternate iteration by iteration.

Usage: python benchmarks/harness_overhead.py [--case resnet50] [--rounds 300] [--window 0]
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.utils.benchmark as tb

from flagbench.api.contracts import ActualRun, Workload
from flagbench.api.plugins import Registry
from flagbench.api.spec import MeasureConfig, RunSpec
from flagbench.measure.energy import PowerPoller
from flagbench.measure.latency import measure_latency

Side = Callable[[], list[float]]


class EmptySession:
    """Does nothing per run: what flagbench's loop costs by itself."""

    actual = ActualRun(device="cpu", precision="fp32")

    def load(self, inputs: Any) -> Any:
        return inputs

    def run(self, loaded: Any) -> None:
        return None

    def synchronize(self) -> None:
        return None


def pooled_ratio(a: list[list[float]], b: list[list[float]], seed: int = 0,
                 resamples: int = 2000) -> tuple[float, float, float]:
    """median(b) / median(a) over all samples, and a 95% bootstrap interval over rounds."""
    ratio = float(np.median(np.concatenate(b)) / np.median(np.concatenate(a)))
    rng = np.random.default_rng(seed)
    n = len(a)
    boot = []
    for _ in range(resamples):
        pick = rng.integers(0, n, n)
        boot.append(np.median(np.concatenate([b[i] for i in pick]))
                    / np.median(np.concatenate([a[i] for i in pick])))
    low, high = np.percentile(boot, [2.5, 97.5])
    return ratio, float(low), float(high)


def interleave(a: Side, b: Side, rounds: int) -> tuple[list[list[float]], list[list[float]]]:
    """Run the two sides' windows alternately, A B then B A, so drift favours neither."""
    got_a, got_b = [], []
    for r in range(rounds):
        if r % 2 == 0:
            got_a.append(a())
            got_b.append(b())
        else:
            got_b.append(b())
            got_a.append(a())
    return got_a, got_b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", default="resnet50")
    parser.add_argument("--vendor", default="cpu")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--window", type=float, default=0.0,
                        help="seconds per window per side (default 0: one timed iteration)")
    args = parser.parse_args()

    registry = Registry.discover()
    case, vendor = registry.case(args.case), registry.vendor(args.vendor)
    # No warm-up beyond the loop's own first iteration (kept apart, as Timer's block-size
    # estimate is): the session is warmed once below and stays warm between windows.
    window = max(args.window, 1e-9)
    config = MeasureConfig(warmup_s=0.0, min_warmup_iters=0, min_iters=1,
                           min_time_s=window, max_time_s=window, target_ci=0.0)
    spec = RunSpec(vendor=args.vendor, case=args.case, measure=config)
    session = vendor.prepare(Workload(case=case, spec=spec, model=case.build_model()))
    loaded = session.load(case.make_inputs(1, 0))
    measure_latency(session, loaded, MeasureConfig(warmup_s=2.0, min_time_s=1, max_time_s=1))

    def flagbench_side() -> list[float]:
        return list(measure_latency(session, loaded, config).samples)

    # Timer runs with one thread unless told otherwise; match the session's threads.
    timer = tb.Timer(stmt="run(loaded); sync()",
                     globals={"run": session.run, "sync": session.synchronize,
                              "loaded": loaded},
                     num_threads=torch.get_num_threads())

    def timer_side() -> list[float]:
        return list(timer.blocked_autorange(min_run_time=window).times)

    def poller_side() -> list[float]:
        poller = PowerPoller(lambda: 100.0, source="fake", scope="board")
        return list(measure_latency(session, loaded, config, meters=[poller]).samples)

    print(f"{args.vendor} × {args.case} bs1: {args.rounds} rounds of {args.window:g} s windows "
          f"per side, alternating; torch threads {torch.get_num_threads()}")
    for label, other in (("torch.utils.benchmark blocked_autorange", timer_side),
                         ("flagbench with a power poller", poller_side)):
        fb, ot = interleave(flagbench_side, other, args.rounds)
        ratio, low, high = pooled_ratio(fb, ot)
        fb_med = statistics.median(s for w in fb for s in w)
        ot_med = statistics.median(s for w in ot for s in w)
        print(f"flagbench {fb_med * 1e3:.3f} ms ({sum(map(len, fb))} iterations)   "
              f"{label} {ot_med * 1e3:.3f} ms ({sum(map(len, ot))} iterations)")
        print(f"  {label} / flagbench: {ratio:.4f}  95% CI [{low:.4f}, {high:.4f}]  "
              f"(flagbench {'within' if abs(ratio - 1) <= 0.02 else 'NOT within'} 2%)")

    empty = measure_latency(EmptySession(), None,
                            MeasureConfig(warmup_s=0.2, min_time_s=2, max_time_s=2, target_ci=0))
    per_iter = empty.loop_s / empty.stats.n
    print(f"empty session: median timed iteration {empty.stats.median * 1e6:.3f} µs, "
          f"loop wall time per iteration {per_iter * 1e6:.3f} µs over {empty.stats.n} iterations")


if __name__ == "__main__":
    main()
