"""flagbench's timed loop against a plain hand-written torch loop, same model, same process.

Rounds alternate (plain, flagbench, plain, flagbench, …) so that drift of the machine does not
favour either side. Usage: python benchmarks/vs_plain_loop.py [--case resnet50] [--rounds 5]
[--seconds 10] [--batch-size 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from flagbench.api.contracts import Workload
from flagbench.api.plugins import Registry
from flagbench.api.spec import MeasureConfig, RunSpec
from flagbench.measure.latency import measure_latency


def plain_loop(model: torch.nn.Module, x: tuple[torch.Tensor, ...], seconds: float) -> list[float]:
    """What a careful person writes by hand: warm up, then time each call."""
    with torch.inference_mode():
        for _ in range(3):
            model(*x)
        times = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            model(*x)
            times.append(time.perf_counter() - t)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", default="resnet50")
    parser.add_argument("--vendor", default="cpu")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=1)
    args = parser.parse_args()

    registry = Registry.discover()
    case, vendor = registry.case(args.case), registry.vendor(args.vendor)
    model = case.build_model()
    x = case.make_inputs(args.batch_size, 0)
    config = MeasureConfig(warmup_s=0.3, min_time_s=args.seconds, max_time_s=args.seconds,
                           target_ci=0.0)
    spec = RunSpec(vendor=args.vendor, case=args.case, batch_size=args.batch_size,
                   measure=config)
    session = vendor.prepare(Workload(case=case, spec=spec, model=model))
    loaded = session.load(x)

    plain_medians, fb_medians = [], []
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{args.case} bs{args.batch_size}, {args.rounds} rounds of {args.seconds:g} s each")
    for r in range(args.rounds):
        # Alternate which side goes first (A B, B A, …) so neither always follows the other.
        if r % 2 == 0:
            p = statistics.median(plain_loop(model, x, args.seconds))
            m = measure_latency(session, loaded, config)
        else:
            m = measure_latency(session, loaded, config)
            p = statistics.median(plain_loop(model, x, args.seconds))
        plain_medians.append(p)
        fb_medians.append(m.stats.median)
        first = "plain first" if r % 2 == 0 else "flagbench first"
        print(f"round {r + 1} ({first}): plain {p * 1e3:8.3f} ms   "
              f"flagbench {m.stats.median * 1e3:8.3f} ms "
              f"(n={m.stats.n})   ratio {m.stats.median / p:.4f}")
    pm, fm = statistics.median(plain_medians), statistics.median(fb_medians)

    def cv(v: list[float]) -> float:
        return statistics.stdev(v) / statistics.mean(v) if len(v) > 1 else 0.0

    ratio = statistics.median(f / p for f, p in zip(fb_medians, plain_medians, strict=True))
    print(f"median of round medians: plain {pm * 1e3:.3f} ms, flagbench {fm * 1e3:.3f} ms; "
          f"median of per-round ratios flagbench/plain {ratio:.4f}")
    print(f"round-to-round CV: plain {cv(plain_medians) * 100:.2f}%, "
          f"flagbench {cv(fb_medians) * 100:.2f}%")


if __name__ == "__main__":
    main()
