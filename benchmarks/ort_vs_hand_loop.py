"""flagbench's ort-cpu vendor against a hand-tuned onnxruntime loop on the same exported model,
in the same process, in alternating rounds.

Rounds, not interleaved single iterations: each session has its own intra-op thread pool,
whose threads spin for a while after a run, so a run straight after the other session's is
slowed by it (tried: 1,000 alternating pairs came out bimodal, the second of each pair slow).

The hand loop is what an expert writes: one InferenceSession with ORT_ENABLE_ALL, feeds built
once, ``sess.run(None, feeds)`` timed with perf_counter. Usage:
python benchmarks/ort_vs_hand_loop.py [--case resnet50] [--precision fp32|int8] [--rounds 6]
[--seconds 8]
"""

from __future__ import annotations

import argparse
import statistics
import time

import onnxruntime as ort

from flagbench.api.contracts import Workload
from flagbench.api.plugins import Registry
from flagbench.api.spec import MeasureConfig, RunSpec
from flagbench.measure.latency import measure_latency


def hand_session(path: str) -> ort.InferenceSession:
    """An expert's session: created once, all graph optimisations on."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def hand_loop(sess: ort.InferenceSession, feeds: dict[str, object],
              seconds: float) -> list[float]:
    """An expert's plain onnxruntime loop."""
    for _ in range(5):
        sess.run(None, feeds)
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        sess.run(None, feeds)
        times.append(time.perf_counter() - t)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", default="resnet50")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()

    registry = Registry.discover()
    case, vendor = registry.case(args.case), registry.vendor("ort-cpu")
    config = MeasureConfig(warmup_s=0.5, min_time_s=args.seconds, max_time_s=args.seconds,
                           target_ci=0.0)
    spec = RunSpec(vendor="ort-cpu", case=args.case, precision=args.precision, measure=config)
    session = vendor.prepare(Workload(case=case, spec=spec, model=case.build_model()))
    inputs = case.make_inputs(1, 0)
    loaded = session.load(inputs)
    model_path = str(session.actual.details["model"])
    from flagbench.vendors.onnx_export import cache_dir

    path = str(cache_dir() / model_path)
    print(f"onnxruntime {ort.__version__}, {args.case} bs1 {args.precision}, model {model_path}, "
          f"{args.rounds} rounds of {args.seconds:g} s each")
    hand, fb = [], []
    sess = hand_session(path)
    # The hand loop's feeds are plain numpy arrays (flagbench's ``loaded`` is an IO binding).
    feeds = {i.name: t.numpy() for i, t in zip(sess.get_inputs(), inputs, strict=True)}
    for r in range(args.rounds):
        if r % 2 == 0:
            h = statistics.median(hand_loop(sess, feeds, args.seconds))
            m = measure_latency(session, loaded, config).stats.median
        else:
            m = measure_latency(session, loaded, config).stats.median
            h = statistics.median(hand_loop(sess, feeds, args.seconds))
        hand.append(h)
        fb.append(m)
        print(f"round {r + 1}: hand {h * 1e3:8.3f} ms   flagbench {m * 1e3:8.3f} ms   "
              f"ratio {m / h:.4f}")
    hm, fm = statistics.median(hand), statistics.median(fb)
    ratio = statistics.median(f / h for f, h in zip(fb, hand, strict=True))
    print(f"median of round medians: hand {hm * 1e3:.3f} ms, flagbench {fm * 1e3:.3f} ms; "
          f"median of per-round ratios flagbench/hand {ratio:.4f}")
    if len(fb) >= 3:
        import math

        from scipy import stats

        logs = [math.log(f / h) for f, h in zip(fb, hand, strict=True)]
        mean, se = statistics.fmean(logs), statistics.stdev(logs) / math.sqrt(len(logs))
        t = float(stats.t.ppf(0.975, len(logs) - 1))
        print(f"geometric-mean ratio flagbench/hand {math.exp(mean):.4f}, 95% interval "
              f"[{math.exp(mean - t * se):.4f}, {math.exp(mean + t * se):.4f}] over "
              f"{len(logs)} rounds; flagbench slower in {sum(x > 0 for x in logs)}")


if __name__ == "__main__":
    main()
