"""Fidelity figures for identical, perturbed, reordered and broken outputs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from flagbench.api.contracts import Probe, Workload
from flagbench.api.plugins import Plugin, Registry
from flagbench.api.result import Status
from flagbench.api.spec import MeasureConfig, RunSpec
from flagbench.run.fidelity import FidelityError, compare_outputs
from flagbench.run.runner import Runner
from flagbench.vendors.torch_eager import CpuVendor


def _logits() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(8, 10)).astype(np.float32)


def test_identical_outputs() -> None:
    ref = _logits()
    f = compare_outputs([ref], [ref.copy()], classification=True)
    assert (f.samples, f.max_abs_err, f.top1_agreement) == (8, 0.0, 1.0)
    assert f.cosine == pytest.approx(1.0)


def test_small_noise_keeps_top1_and_reports_error() -> None:
    ref = _logits()
    got = ref + np.float32(1e-3)
    f = compare_outputs([ref], [got], classification=True)
    assert f.max_abs_err == pytest.approx(1e-3, rel=1e-2)
    assert f.top1_agreement == 1.0 and f.cosine > 0.9999


def test_wrong_predictions_lower_top1() -> None:
    ref = _logits()
    got = ref.copy()
    got[:4] = -got[:4]  # flips the argmax of the first half
    f = compare_outputs([ref], [got], classification=True)
    assert f.top1_agreement == pytest.approx(0.5)


def test_non_finite_outputs_are_reported_not_raised() -> None:
    ref = _logits()
    got = ref.copy()
    got[0, 0] = np.nan
    f = compare_outputs([ref], [got], classification=False)
    assert math.isinf(f.max_abs_err) and math.isnan(f.cosine) and f.top1_agreement is None


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        compare_outputs([_logits()], [_logits()[:4]], classification=True)


def test_a_dropped_batch_axis_is_refused_though_the_sizes_agree() -> None:
    # Eight batches of one, each [10] instead of [1, 10]: 80 values either way.
    ref = _logits()
    with pytest.raises(FidelityError, match=r"output 0 has shape \(80,\), the reference \(8, 10\)"):
        compare_outputs([ref], [ref.reshape(-1)], classification=True)


class _SqueezingVendor:
    """cpu, but its session drops the batch axis of every output, as a careless adapter might."""

    name = "squeezing"
    description = "drops the batch axis"

    def probe(self) -> Probe:
        return CpuVendor().probe()

    def prepare(self, workload: Workload) -> Any:
        session = CpuVendor().prepare(workload)
        plain = session.to_numpy
        session.to_numpy = lambda outputs: [a.reshape(a.shape[1:]) for a in plain(outputs)]  # type: ignore[method-assign]
        return session


def test_a_run_whose_outputs_have_the_wrong_shape_fails_at_the_fidelity_check(
        plugin_site: Path) -> None:
    from flagbench_testplugins.tiny import TinyMlpCase

    registry = Registry(
        {"squeezing": Plugin("flagbench.vendors", "squeezing", "test", "test",
                             obj=_SqueezingVendor())},
        {"tiny-mlp": Plugin("flagbench.cases", "tiny-mlp", "test", "test", obj=TinyMlpCase())})
    spec = RunSpec(vendor="squeezing", case="tiny-mlp",
                   measure=MeasureConfig(warmup_s=0.0, min_time_s=0.05, max_time_s=0.2,
                                         min_iters=5, target_ci=0.0))
    result = Runner(registry).run(spec)
    assert result.status is Status.FAILED
    assert result.reason == "fidelity check: output 0 has shape (80,), the reference (8, 10)"
    # Set-up had succeeded: the failed run keeps what ran and how long set-up took.
    assert result.actual is not None and result.actual.device == "cpu"
    assert result.setup_s is not None and result.setup_s > 0
    assert {m.name for m in result.metrics()} == {"setup_s"}
