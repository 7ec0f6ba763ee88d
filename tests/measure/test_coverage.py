"""The promise of the stored interval, proven on simulated timings with a known median: the
real stopping rule decides when to stop, the stored interval is computed as a run stores it,
and the share of runs whose interval covers the true median is counted, at the defaults.

The regimes and the driver are benchmarks/interval_coverage.py's, which prints the full table
(docs/methodology.md, "How often the stored interval covers the true median").
"""

from __future__ import annotations

import sys

import pytest

from flagbench.api.spec import MeasureConfig
from paths import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import interval_coverage  # noqa: E402


@pytest.mark.parametrize(("regime", "runs", "at_least"), [
    ("iid", 300, 0.93),
    ("ar1_0.9", 300, 0.93),
    # Measured short of 95%, so held at what they reach (open work, issue 15 item 1): a
    # correlation time of 200 timings against a window of at most 1,500; two levels 4% apart.
    ("ar1_0.99", 150, 0.88),
    ("step_drift", 150, 0.85),
])
def test_the_stored_interval_covers_the_true_median(regime: str, runs: int,
                                                    at_least: float) -> None:
    share, rules, _ = interval_coverage.coverage(regime, runs, 0, MeasureConfig())
    assert share >= at_least, (regime, share, dict(rules))
