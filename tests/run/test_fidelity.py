"""Fidelity figures for identical, perturbed, reordered and broken outputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from flagbench.run.fidelity import compare_outputs


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
