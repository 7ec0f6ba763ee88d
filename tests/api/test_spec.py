"""RunSpec and MeasureConfig refuse invalid states on construction."""

from __future__ import annotations

import pytest

from flagbench.api.errors import FlagbenchError
from flagbench.api.spec import MeasureConfig, RunSpec


@pytest.mark.parametrize("kwargs, message", [
    ({"min_time_s": 5, "max_time_s": 2}, "min-time"),
    ({"max_time_s": 0}, "max-time"),
    ({"warmup_s": -1}, "warm-up"),
    ({"target_ci": 1.5}, "target CI"),
    ({"min_iters": 0}, "iteration"),
])
def test_measure_config_refuses(kwargs: dict, message: str) -> None:
    with pytest.raises(FlagbenchError, match=message):
        MeasureConfig(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": 0}, "batch size"),
    ({"batch_size": -3}, "batch size"),
    ({"precision": "fp8"}, "unknown precision"),
    ({"scenario": "offline"}, "unknown scenario"),
    ({"scenario": "server"}, "needs --target-qps"),
    ({"scenario": "server", "target_qps": 10.0, "p99_bound_s": -1.0}, "p99 bound"),
])
def test_run_spec_refuses(kwargs: dict, message: str) -> None:
    with pytest.raises(FlagbenchError, match=message):
        RunSpec(vendor="cpu", case="resnet50", **kwargs)


def test_run_spec_is_immutable() -> None:
    spec = RunSpec(vendor="cpu", case="resnet50")
    with pytest.raises(AttributeError):
        spec.batch_size = 2  # type: ignore[misc]
