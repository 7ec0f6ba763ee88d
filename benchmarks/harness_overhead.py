"""flagbench's own cost: its median against torch.utils.benchmark on the same session, the
per-iteration overhead of its loop on a near-empty session, and latency with a power poller
running versus none. Rounds alternate so that drift favours neither side.

Usage: python benchmarks/harness_overhead.py [--case resnet50] [--rounds 4] [--seconds 6]
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import torch
import torch.utils.benchmark as tb

from flagbench.contracts import ActualRun, Workload
from flagbench.energy import PowerPoller
from flagbench.measure import measure_latency
from flagbench.plugins import Registry
from flagbench.spec import MeasureConfig, RunSpec


class EmptySession:
    """Does nothing per run: what flagbench's loop costs by itself."""

    actual = ActualRun(device="cpu", precision="fp32")

    def load(self, inputs: Any) -> Any:
        return inputs

    def run(self, loaded: Any) -> None:
        return None

    def synchronize(self) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", default="resnet50")
    parser.add_argument("--vendor", default="cpu")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()

    registry = Registry.discover()
    case, vendor = registry.case(args.case), registry.vendor(args.vendor)
    config = MeasureConfig(warmup_s=0.5, min_time_s=args.seconds, max_time_s=args.seconds,
                           target_ci=0.0)
    spec = RunSpec(vendor=args.vendor, case=args.case, measure=config)
    session = vendor.prepare(Workload(case=case, spec=spec, model=case.build_model()))
    loaded = session.load(case.make_inputs(1, 0))

    def flagbench_median() -> float:
        return measure_latency(session, loaded, config).stats.median

    def timer_median() -> float:
        # Timer runs with one thread unless told otherwise; match the session's threads.
        timer = tb.Timer(stmt="run(loaded); sync()",
                         globals={"run": session.run, "sync": session.synchronize,
                                  "loaded": loaded},
                         num_threads=torch.get_num_threads())
        return float(timer.blocked_autorange(min_run_time=args.seconds).median)

    def poller_median() -> float:
        poller = PowerPoller(lambda: 100.0, source="fake", scope="board")
        return measure_latency(session, loaded, config, meters=[poller]).stats.median

    print(f"{args.vendor} × {args.case} bs1, {args.rounds} rounds of {args.seconds:g} s per side")
    pairs: dict[str, list[tuple[float, float]]] = {"timer": [], "poller": []}
    for r in range(args.rounds):
        for name, other in (("timer", timer_median), ("poller", poller_median)):
            if r % 2 == 0:
                f, o = flagbench_median(), other()
            else:
                o, f = other(), flagbench_median()
            pairs[name].append((f, o))
            print(f"round {r + 1} {name:6}: flagbench {f * 1e3:8.3f} ms   "
                  f"{'torch.utils.benchmark' if name == 'timer' else 'with power poller'} "
                  f"{o * 1e3:8.3f} ms   ratio {o / f:.4f}")
    for name, label in (("timer", "torch.utils.benchmark / flagbench"),
                        ("poller", "with poller / without")):
        # Paired: each round's ratio, so that drift between rounds cancels.
        ratio = statistics.median(o / f for f, o in pairs[name])
        print(f"{label}: median of per-round ratios {ratio:.4f}")

    empty = measure_latency(EmptySession(), None,
                            MeasureConfig(warmup_s=0.2, min_time_s=2, max_time_s=2, target_ci=0))
    per_iter = empty.loop_s / empty.stats.n
    print(f"empty session: median timed iteration {empty.stats.median * 1e6:.3f} µs, "
          f"loop wall time per iteration {per_iter * 1e6:.3f} µs over {empty.stats.n} iterations")


if __name__ == "__main__":
    main()
