"""The cuda vendor's probe on this CPU-only torch, and the NVML code against a fake pynvml."""

from __future__ import annotations

import sys
import time
import types
from typing import Any

import pytest
import torch

from flagbench.api.energy import MEASURED, SAMPLED
from flagbench.vendors.nvidia import NvidiaMeasures
from flagbench.vendors.nvml import device_facts, energy_meters, open_nvml
from flagbench.vendors.onnxruntime_ep import OrtCudaVendor, OrtTensorRTVendor
from flagbench.vendors.torch_eager import CudaVendor


class FakeNVMLError(Exception):
    pass


def fake_pynvml(watts: float = 300.0, energy_counter: bool = True) -> types.ModuleType:
    """A pynvml with the real API's names and units (mW, mJ, MHz, bytes)."""
    m = types.ModuleType("pynvml")
    t0 = time.perf_counter()
    m.NVMLError = FakeNVMLError  # type: ignore[attr-defined]
    m.NVML_CLOCK_SM, m.NVML_CLOCK_MEM, m.NVML_TEMPERATURE_GPU = 1, 2, 0  # type: ignore[attr-defined]
    calls: dict[str, int] = {}

    def api(name: str, fn: Any) -> None:
        def wrapped(*a: Any) -> Any:
            calls[name] = calls.get(name, 0) + 1
            return fn(*a)
        setattr(m, name, wrapped)

    api("nvmlInit", lambda: None)
    api("nvmlDeviceGetHandleByIndex", lambda i: f"handle{i}")
    api("nvmlDeviceGetName", lambda h: b"NVIDIA H100 80GB HBM3")
    api("nvmlSystemGetDriverVersion", lambda: "580.65.06")
    api("nvmlDeviceGetClockInfo", lambda h, kind: 1980 if kind == 1 else 2619)
    api("nvmlDeviceGetMaxClockInfo", lambda h, kind: 1980)
    api("nvmlDeviceGetTemperature", lambda h, kind: 41)
    api("nvmlDeviceGetEnforcedPowerLimit", lambda h: 700_000)
    api("nvmlDeviceGetMemoryInfo", lambda h: types.SimpleNamespace(total=80 << 30))
    api("nvmlDeviceGetPowerUsage", lambda h: int(watts * 1000))

    def energy(h: str) -> int:
        if not energy_counter:
            raise FakeNVMLError("Not Supported")
        return int(watts * (time.perf_counter() - t0) * 1000) + 10**9

    api("nvmlDeviceGetTotalEnergyConsumption", energy)
    m.calls = calls  # type: ignore[attr-defined]
    return m


def test_cuda_probe_on_cpu_only_torch_says_why() -> None:
    probe = CudaVendor().probe()
    if torch.version.cuda is None:
        assert not probe.available
        assert probe.reason == f"torch {torch.__version__} is a CPU-only build (no CUDA)"
    elif not torch.cuda.is_available():
        assert not probe.available and "no CUDA device visible" in probe.reason
    else:  # on a GPU host the probe must find it
        assert probe.available and "fp32" in probe.precisions


def test_nvml_missing_and_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    nvml, why = open_nvml()
    assert nvml is None and "pip install nvidia-ml-py" in why
    broken = fake_pynvml()

    def no_driver() -> None:
        raise FakeNVMLError("Driver Not Loaded")

    broken.nvmlInit = no_driver  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", broken)
    nvml, why = open_nvml()
    assert nvml is None and why == "NVML cannot start: Driver Not Loaded"


def test_device_facts_from_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml())
    nvml, _ = open_nvml()
    facts = device_facts(nvml, 0)
    assert facts["name"] == "NVIDIA H100 80GB HBM3" and facts["driver"] == "580.65.06"
    assert facts["sm_clock_mhz"] == 1980 and facts["mem_clock_mhz"] == 2619
    assert facts["temperature_c"] == 41 and facts["power_limit_w"] == 700.0


def test_total_energy_counter_preferred(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(watts=250.0))
    nvml, _ = open_nvml()
    (meter,) = energy_meters(nvml, 0)
    meter.start()
    time.sleep(0.2)
    r = meter.stop()
    assert (r.source, r.scope, r.confidence) == ("nvml_total_energy", "board", MEASURED)
    assert r.avg_watts == pytest.approx(250.0, rel=0.05)


def test_polled_power_without_the_counter(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_pynvml(watts=80.0, energy_counter=False)  # pre-Volta GPUs
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    nvml, _ = open_nvml()
    (meter,) = energy_meters(nvml, 0)
    meter.start()
    time.sleep(0.2)
    r = meter.stop()
    assert (r.source, r.confidence) == ("nvml_power_polled", SAMPLED)
    assert r.avg_watts == pytest.approx(80.0) and len(r.power_samples) >= 3
    assert fake.calls["nvmlDeviceGetPowerUsage"] >= 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("vendor", [CudaVendor(), OrtCudaVendor(), OrtTensorRTVendor()],
                         ids=lambda v: v.name)
def test_every_nvidia_vendor_meters_and_describes_the_gpu(
        vendor: NvidiaMeasures, monkeypatch: pytest.MonkeyPatch) -> None:
    # One NvidiaMeasures for cuda, ort-cuda and ort-tensorrt: the same NVML counter and facts.
    assert isinstance(vendor, NvidiaMeasures)
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(watts=250.0))
    (meter,) = vendor.meters(None)  # type: ignore[arg-type]  # the workload is not consulted
    assert meter.source == "nvml_total_energy"
    facts = vendor.details()["nvml"]
    assert facts["name"] == "NVIDIA H100 80GB HBM3" and facts["power_limit_w"] == 700.0
    assert vendor.driver_versions() == {"driver": "580.65.06"}
    if not torch.cuda.is_available():
        assert vendor.peak("fp32") is None  # no GPU for torch to describe: no peak claimed


def test_nvidia_vendors_without_nvml_say_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    for vendor in (CudaVendor(), OrtCudaVendor(), OrtTensorRTVendor()):
        assert vendor.meters(None) == []  # type: ignore[arg-type]
        assert "pip install nvidia-ml-py" in vendor.details()["nvml"]["unavailable"]
