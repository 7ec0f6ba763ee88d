"""A plain hand-written torch inference loop, as a person would write it without flagbench.

Prints one line: the median latency in ms and the loop's wall time. Used by
benchmarks/cli_vs_plain_script.py.
"""

from __future__ import annotations

import statistics
import sys
import time

import torch

from flagbench.cases.resnet50 import ResNet50Case

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
t_start = time.perf_counter()
case = ResNet50Case()
model = case.build_model()
(x,) = case.make_inputs(1, 0)
with torch.inference_mode():
    for _ in range(10):
        model(x)
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t)
print(f"median_ms={statistics.median(times) * 1e3:.4f} n={len(times)} "
      f"wall_s={time.perf_counter() - t_start:.2f}")
