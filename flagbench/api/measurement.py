"""Value types of a timed window: latency summary, fidelity, interference, and the measurement
that holds them. Frozen and self-validating; the code that fills them is in stats/ and measure/.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flagbench.api.energy import EnergyReading


@dataclass(frozen=True)
class LatencyStats:
    """Summary of per-iteration latencies in seconds."""

    n: int
    median: float
    mean: float
    p90: float
    p99: float
    min: float
    max: float
    std: float
    iqr: float
    ci_low: float
    ci_high: float
    mad: float = 0.0
    """Median absolute deviation from the median (unscaled)."""
    outliers: int = 0
    """Samples outside [p25 - 1.5 IQR, p75 + 1.5 IQR] (Tukey's fences); kept, only counted."""

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError("statistics need at least one sample")
        if self.min <= 0:
            raise ValueError(f"latencies must be positive, got min {self.min!r}")

    @property
    def cv(self) -> float:
        """Coefficient of variation (std / mean)."""
        return self.std / self.mean

    @property
    def ci_rel_halfwidth(self) -> float:
        """Half-width of the median's 95% CI relative to the median."""
        return (self.ci_high - self.ci_low) / 2.0 / self.median


#: Requests a verdict on a p99 latency bound needs: with fewer, the 99th percentile is one of
#: the few slowest requests (of 20, an interpolation between the two slowest) and says
#: nothing reliable about the tail; the verdict is then withheld, and a max-QPS search counts
#: the rate as not shown to meet the bound.
MIN_TAIL_SAMPLES = 100


#: Variation above which a run carries a stability warning: beyond it, a 3% difference
#: between two runs cannot be told from noise without many more samples.
UNSTABLE_CV = 0.10


def stability_warnings(stats: LatencyStats, target_ci: float) -> list[str]:
    """Plain-language warnings about how far this run's figures can be trusted."""
    warnings = []
    if stats.n > 1 and stats.cv > UNSTABLE_CV:
        warnings.append(f"unstable: coefficient of variation {stats.cv:.1%} "
                        f"(above {UNSTABLE_CV:.0%})")
    if target_ci > 0 and stats.ci_rel_halfwidth > target_ci:
        warnings.append(f"median CI ±{stats.ci_rel_halfwidth:.1%} did not reach the "
                        f"±{target_ci:.1%} target")
    if stats.n >= 10 and stats.outliers > stats.n * 0.05:
        warnings.append(f"{stats.outliers} of {stats.n} samples are outliers (Tukey 1.5 IQR)")
    return warnings


@dataclass(frozen=True)
class Fidelity:
    """Agreement of one run's outputs with the reference over ``samples`` inputs."""

    samples: int
    max_abs_err: float
    mean_abs_err: float
    cosine: float
    top1_agreement: float | None = None

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError("fidelity needs at least one sample")
        if self.top1_agreement is not None and not 0 <= self.top1_agreement <= 1:
            raise ValueError("top-1 agreement is a fraction")


STEAL_WARN = 0.02
"""Steal above this share of the CPUs' time is worth a warning: it is time the measured code
waited for a CPU the hypervisor gave to someone else."""
OTHER_WARN_CPUS = 0.25
"""Other processes busy for more than a quarter of one CPU over the window are worth a
warning: a second job that size competes for cores, caches and memory bandwidth."""

@dataclass(frozen=True)
class Interference:
    """CPU use during the window that was not the measured process's own."""

    window_s: float
    cpus: int
    steal_fraction: float | None
    """The hypervisor's steal as a share of all CPUs' time; None where the OS does not say."""
    other_cpus: float
    """Other processes' CPU use, in CPUs' worth averaged over the window (0.5 = half a CPU)."""
    own_cpus: float
    """The measured process's own CPU use, in CPUs' worth."""

    def warnings(self) -> list[str]:
        """Plain-language warnings when the window was shared enough to move the figures."""
        out = []
        if self.steal_fraction is not None and self.steal_fraction > STEAL_WARN:
            out.append(f"the hypervisor took {self.steal_fraction:.1%} of the CPUs' time "
                       "(steal) during the timed window")
        if self.other_cpus > OTHER_WARN_CPUS:
            out.append(f"other processes used {self.other_cpus:.2f} of {self.cpus} CPUs "
                       "during the timed window")
        return out

    def as_dict(self) -> dict[str, Any]:
        """For the run's environment record."""
        return {"window_s": self.window_s, "cpus": self.cpus,
                "steal_fraction": self.steal_fraction, "other_cpus": self.other_cpus,
                "own_cpus": self.own_cpus, "method": "psutil.cpu_times() system-wide minus "
                "psutil.Process().cpu_times(), read at the window's edges"}


@dataclass(frozen=True)
class Measurement:
    """The timed loop: raw per-iteration latencies and how the loop went."""

    samples: tuple[float, ...]
    stats: LatencyStats
    stop_rule: str
    warmup_iters: int
    warmup_s: float
    first_iter_s: float
    loop_s: float
    clock: str = "perf_counter"
    energy: EnergyReading | None = None
    energy_note: str = ""
    """Why there is no energy reading, when there is none."""
    host_rss_bytes: int | None = None
    """Resident set size at the end of the timed loop."""
    host_rss_peak_bytes: int | None = None
    """Peak resident set size of the measuring process (of the run, when isolated)."""
    device_memory_peak_bytes: int | None = None
    achieved_qps: float | None = None
    """Server scenario: requests completed per second of the window."""
    service_median_s: float | None = None
    """Server scenario: median run + synchronise time, without queueing."""
    service_samples: tuple[float, ...] = ()
    """Server scenario: each request's run + synchronise time, in the order of ``samples``
    (a request's wait in the queue is its sample minus its service time)."""
    interference: Interference | None = None
    """CPU use during the window that was not this process's (steal, other processes)."""
    device_samples: tuple[float, ...] = ()
    """The session's own timer (CUDA events) over the same iterations as ``samples``: device
    busy time, a secondary figure; ``samples`` are always the host clock's."""
    batches_per_sample: int = 1
    """Batches each sample covers: 1, or the batches in flight per synchronise of the
    throughput scenario (each sample is then their mean time per batch)."""

    @property
    def batches(self) -> int:
        """Batches run in the timed window."""
        return self.stats.n * self.batches_per_sample

    def __post_init__(self) -> None:
        if len(self.samples) != self.stats.n:
            raise ValueError("statistics do not describe the samples")
        if self.service_samples and len(self.service_samples) != len(self.samples):
            raise ValueError("every request needs a service time")
        if self.device_samples and len(self.device_samples) != len(self.samples):
            raise ValueError("the device timer must time every iteration")
        if self.batches_per_sample < 1:
            raise ValueError("a sample covers at least one batch")
        if not self.loop_s > 0:
            raise ValueError(f"a timed window must have a positive length, got {self.loop_s!r}")
        if self.energy is None and not self.energy_note:
            raise ValueError("a measurement without energy must say why")
