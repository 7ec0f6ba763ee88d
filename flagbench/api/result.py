"""What a run produced: an immutable, self-validating record, and its named metrics."""

from __future__ import annotations

import enum
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flagbench.api.contracts import ActualRun, Peak
from flagbench.api.measurement import MIN_TAIL_SAMPLES, Fidelity, Measurement
from flagbench.api.spec import RunSpec


class Status(str, enum.Enum):
    """How a run ended. Every status is stored; only ``ok`` carries measurements."""

    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Metric:
    """One named figure with its unit."""

    name: str
    value: float
    unit: str


@dataclass(frozen=True)
class RunResult:
    """The outcome of one RunSpec, successful or not."""

    spec: RunSpec
    status: Status
    started_at: datetime
    finished_at: datetime
    reason: str = ""
    measurement: Measurement | None = None
    fidelity: Fidelity | None = None
    actual: ActualRun | None = None
    setup_s: float | None = None
    flops_per_sample: float | None = None
    environment: Mapping[str, Any] = field(default_factory=dict)
    case_metrics: tuple[Metric, ...] = ()
    """Figures particular to the case (task accuracy, tokens/s, bytes moved …), stored as is."""
    bytes_per_sample: float | None = None
    """Bytes read plus written per sample, where the case declares them (memory-bound cases)."""
    peak: Peak | None = None
    """The device's peak as the vendor declares it: gives % of peak (MFU) per run."""
    scenario_warnings: tuple[str, ...] = ()
    """Warnings the scenario found about its own load (a client that fell behind)."""

    def __post_init__(self) -> None:
        if self.finished_at < self.started_at:
            raise ValueError("a run cannot finish before it starts")
        if self.status is Status.OK:
            if self.measurement is None or self.actual is None:
                raise ValueError("an ok run needs its measurement and what actually ran")
        elif not self.reason:
            raise ValueError(f"a {self.status.value} run needs a reason")

    @property
    def warnings(self) -> list[str]:
        """Stability warnings of the timed loop, empty when the figures look trustworthy."""
        from flagbench.api.measurement import stability_warnings

        m = self.measurement
        if m is None:
            return []
        tail = ([f"p99 rests on {m.stats.n} requests (a verdict on the bound needs "
                 f"{MIN_TAIL_SAMPLES}): none given"]
                if self.spec.p99_bound_s is not None and m.stats.n < MIN_TAIL_SAMPLES else [])
        return [*stability_warnings(m.stats, self.spec.measure.target_ci),
                *(m.interference.warnings() if m.interference else []), *tail,
                *self.scenario_warnings]

    @property
    def throughput(self) -> float | None:
        """Samples per second over the timed window's wall time (batch size × iterations /
        loop time): what a host gets, launch gaps, synchronisation and the loop included."""
        m = self.measurement
        if m is None:
            return None
        if m.achieved_qps is not None:  # server: latencies include queueing, count completions
            return self.spec.batch_size * m.achieved_qps
        return self.spec.batch_size * m.batches / m.loop_s

    @property
    def busy_throughput(self) -> float | None:
        """Samples per second of timed iteration alone (batch size × iterations / the sum of
        the timings): the rate while busy, an upper bound of ``throughput``; None for the
        server scenario, whose timings include queueing."""
        m = self.measurement
        if m is None or m.achieved_qps is not None:
            return None
        return self.spec.batch_size * m.stats.n / sum(m.samples)

    def _rate_metrics(self, tput: float) -> list[Metric]:
        """Achieved FLOP/s and B/s, and their share of the vendor's declared peak."""
        out: list[Metric] = []
        peak = self.peak
        if self.flops_per_sample:
            achieved = self.flops_per_sample * tput
            out.append(Metric("achieved_flops", achieved, "FLOP/s"))
            if peak is not None and peak.flops_per_s:
                out += [Metric("peak_flops", peak.flops_per_s, "FLOP/s"),
                        Metric("mfu", achieved / peak.flops_per_s, "ratio")]
        if self.bytes_per_sample:
            achieved = self.bytes_per_sample * tput
            out.append(Metric("achieved_bytes_per_s", achieved, "B/s"))
            if peak is not None and peak.bytes_per_s:
                out += [Metric("peak_bytes_per_s", peak.bytes_per_s, "B/s"),
                        Metric("bandwidth_utilisation", achieved / peak.bytes_per_s, "ratio")]
        return out

    def metrics(self) -> list[Metric]:
        """Every figure of this run as named metrics, the shape the store keeps."""
        out: list[Metric] = []
        m = self.measurement
        if self.setup_s is not None:
            out.append(Metric("setup_s", self.setup_s, "s"))
        if m is not None:
            s = m.stats
            for name in ("median", "mean", "p90", "p99", "min", "max", "std", "iqr"):
                out.append(Metric(f"latency_{name}_s", getattr(s, name), "s"))
            out += [
                Metric("latency_mad_s", s.mad, "s"),
                Metric("latency_outliers", float(s.outliers), "count"),
                Metric("latency_median_ci_low_s", s.ci_low, "s"),
                Metric("latency_median_ci_high_s", s.ci_high, "s"),
                Metric("latency_cv", s.cv, "ratio"),
                Metric("iterations", float(m.batches), "count"),
                Metric("warmup_iters", float(m.warmup_iters), "count"),
                Metric("warmup_s", m.warmup_s, "s"),
                Metric("first_iter_s", m.first_iter_s, "s"),
                Metric("loop_s", m.loop_s, "s"),
            ]
            tput = self.throughput
            assert tput is not None
            out.append(Metric("throughput_sps", tput, "samples/s"))
            busy = self.busy_throughput
            if busy is not None:
                out.append(Metric("busy_throughput_sps", busy, "samples/s"))
            out += self._rate_metrics(tput)
            if m.host_rss_bytes is not None:
                out.append(Metric("host_rss_bytes", float(m.host_rss_bytes), "B"))
            if m.host_rss_peak_bytes is not None:
                out.append(Metric("host_rss_peak_bytes", float(m.host_rss_peak_bytes), "B"))
            if m.device_memory_peak_bytes is not None:
                out.append(Metric("device_memory_peak_bytes", float(m.device_memory_peak_bytes),
                                  "B"))
            if m.achieved_qps is not None and self.spec.target_qps is not None:
                target = self.environment.get("server_target_qps", self.spec.target_qps)
                out += [
                    Metric("server_target_qps", float(target), "1/s"),
                    Metric("server_achieved_qps", m.achieved_qps, "1/s"),
                ]
                if "max_qps_within_bound" in self.environment:
                    best = float(self.environment["max_qps_within_bound"])
                    out.append(Metric("server_max_qps_within_bound", best, "1/s"))
            if m.service_median_s is not None:
                out.append(Metric("service_median_s", m.service_median_s, "s"))
            if m.device_samples and sum(m.device_samples) > 0:  # secondary, never latency
                out += [
                    Metric("device_latency_median_s", statistics.median(m.device_samples), "s"),
                    Metric("device_latency_mean_s", statistics.fmean(m.device_samples), "s"),
                    Metric("device_busy_throughput_sps",
                           self.spec.batch_size * len(m.device_samples) / sum(m.device_samples),
                           "samples/s"),
                ]
            i = m.interference
            if i is not None:
                out += [Metric("window_other_cpus", i.other_cpus, "CPUs"),
                        Metric("window_own_cpus", i.own_cpus, "CPUs")]
                if i.steal_fraction is not None:
                    out.append(Metric("window_steal_fraction", i.steal_fraction, "ratio"))
            if self.spec.p99_bound_s is not None:
                out.append(Metric("p99_bound_s", self.spec.p99_bound_s, "s"))
                if s.n >= MIN_TAIL_SAMPLES:  # fewer: no verdict (see ``warnings``)
                    out.append(Metric("p99_within_bound", float(s.p99 <= self.spec.p99_bound_s),
                                      "bool"))
            e = m.energy
            if e is not None:
                processed = self.spec.batch_size * m.batches
                out += [
                    Metric("energy_j", e.joules, "J"),
                    Metric("avg_power_w", e.avg_watts, "W"),
                    Metric("energy_per_sample_j", e.joules / processed, "J/sample"),
                ]
                if e.joules > 0:
                    out.append(Metric("samples_per_j", processed / e.joules, "samples/J"))
        if self.flops_per_sample:
            out.append(Metric("flops_per_sample", self.flops_per_sample, "FLOP"))
        if self.bytes_per_sample:
            out.append(Metric("bytes_per_sample", self.bytes_per_sample, "B"))
        f = self.fidelity
        if f is not None:
            out += [
                Metric("fidelity_samples", float(f.samples), "count"),
                Metric("fidelity_max_abs_err", f.max_abs_err, "abs"),
                Metric("fidelity_mean_abs_err", f.mean_abs_err, "abs"),
                Metric("fidelity_cosine", f.cosine, "ratio"),
            ]
            if f.top1_agreement is not None:
                out.append(Metric("fidelity_top1_agreement", f.top1_agreement, "ratio"))
        taken = {m.name for m in out}
        clash = [m.name for m in self.case_metrics if m.name in taken]
        if clash:
            raise ValueError(f"case metric {clash[0]!r} clashes with a core metric")
        return out + list(self.case_metrics)
