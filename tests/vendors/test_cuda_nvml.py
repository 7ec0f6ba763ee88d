"""The cuda vendor's probe on this CPU-only torch, and the NVML code against a fake pynvml."""

from __future__ import annotations

import sys
import time
import types
from typing import Any

import pytest
import torch

from flagbench.api.energy import MEASURED, SAMPLED
from flagbench.vendors.nvidia import NvidiaMeasures, ampere_gate
from flagbench.vendors.nvml import device_facts, energy_meters, open_nvml
from flagbench.vendors.onnxruntime_ep import OrtCudaVendor, OrtTensorRTVendor
from flagbench.vendors.torch_eager import CudaVendor


class FakeNVMLError(Exception):
    pass


def fake_pynvml(watts: float = 300.0, energy_counter: bool = True,
                capability: tuple[int, int] = (9, 0),
                names: tuple[str, ...] = ("NVIDIA H100 80GB HBM3",),
                mig: bool = False) -> types.ModuleType:
    """A pynvml with the real API's names and units (mW, mJ, MHz, bytes), over GPUs named
    ``names`` in NVML's (PCI bus) order, GPU i with UUID "GPU-000i-…" and board power
    ``watts`` × (i + 1)."""
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

    def index_of(h: str) -> int:
        return int(h.removeprefix("handle"))

    def by_uuid(uuid: str) -> str:
        for i in range(len(names)):
            if uuid == f"GPU-000{i}-aaaa":
                return f"handle{i}"
        raise FakeNVMLError("Not Found")

    def mig_mode(h: str) -> tuple[int, int]:
        if not mig:
            raise FakeNVMLError("Not Supported")
        return 1, 1

    api("nvmlInit", lambda: None)
    api("nvmlDeviceGetCount", lambda: len(names))
    api("nvmlDeviceGetHandleByIndex", lambda i: f"handle{i}")
    api("nvmlDeviceGetHandleByUUID", by_uuid)
    api("nvmlDeviceGetIndex", index_of)
    api("nvmlDeviceGetMigMode", mig_mode)
    api("nvmlDeviceGetName", lambda h: names[index_of(h)].encode())
    api("nvmlSystemGetDriverVersion", lambda: "580.65.06")
    api("nvmlDeviceGetClockInfo", lambda h, kind: 1980 if kind == 1 else 2619)
    api("nvmlDeviceGetMaxClockInfo", lambda h, kind: 1980)
    api("nvmlDeviceGetTemperature", lambda h, kind: 41)
    api("nvmlDeviceGetEnforcedPowerLimit", lambda h: 700_000)
    api("nvmlDeviceGetMemoryInfo", lambda h: types.SimpleNamespace(total=80 << 30))
    api("nvmlDeviceGetPowerUsage", lambda h: int(watts * (index_of(h) + 1) * 1000))
    api("nvmlDeviceGetCudaComputeCapability", lambda h: capability)

    def energy(h: str) -> int:  # millijoules since the driver loaded
        if not energy_counter:
            raise FakeNVMLError("Not Supported")
        return int(watts * (index_of(h) + 1) * (time.perf_counter() - t0) * 1000) + 10**9

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


def test_tf32_and_bf16_need_ampere() -> None:
    assert ampere_gate(("fp32", "tf32", "fp16", "bf16"), (8, 0), "A100") == (
        ("fp32", "tf32", "fp16", "bf16"), {})
    precisions, dropped = ampere_gate(("fp32", "tf32", "fp16", "bf16"), (7, 0), "Tesla V100")
    assert precisions == ("fp32", "fp16") and set(dropped) == {"tf32", "bf16"}
    assert dropped["tf32"] == ("tf32 needs compute capability 8.0 (Ampere) or newer; Tesla V100 "
                               "has compute capability 7.0, where it would run fp32")
    assert "would be emulated" in dropped["bf16"]
    assert ampere_gate(("fp32", "tf32"), None, "GPU 0")[0] == ("fp32",)  # unknown: not offered


def _fake_cuda_torch(monkeypatch: pytest.MonkeyPatch, name: str, capability: tuple[int, int]
                     ) -> None:
    """torch as it looks on a host with one such GPU (the calls CudaVendor.probe makes)."""
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: name)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i=0: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)  # as on V100: emulated


def test_cuda_probe_offers_tf32_and_bf16_only_from_ampere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml())
    _fake_cuda_torch(monkeypatch, "Tesla V100-SXM2-16GB", (7, 0))
    probe = CudaVendor().probe()
    assert probe.available and probe.precisions == ("fp32", "fp16")
    assert "compute capability 7.0" in probe.unsupported["tf32"]
    assert "emulated" in probe.unsupported["bf16"] and "int8" in probe.unsupported
    _fake_cuda_torch(monkeypatch, "NVIDIA H100 80GB HBM3", (9, 0))
    assert CudaVendor().probe().precisions == ("fp32", "tf32", "fp16", "bf16")


def test_ort_cuda_probe_drops_tf32_below_ampere(monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(capability=(7, 5)))
    probe = OrtCudaVendor().probe()
    assert probe.available and probe.precisions == ("fp32", "fp16")
    assert "compute capability 7.5" in probe.unsupported["tf32"]
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(capability=(8, 6)))
    assert OrtCudaVendor().probe().precisions == ("fp32", "tf32", "fp16")


def test_cuda_devices_are_matched_to_nvml_by_uuid_not_by_number() -> None:
    from flagbench.vendors.nvml import nvml_index

    four = fake_pynvml(names=("NVIDIA H100 80GB HBM3",) * 4)
    # CUDA_VISIBLE_DEVICES=3: CUDA's device 0 is NVML's 3, and torch's UUID says so.
    assert nvml_index(four, 0, {"CUDA_VISIBLE_DEVICES": "3"},
                      torch_uuid=lambda i: "0003-aaaa") == (3, "by UUID (torch)")
    # Without torch: the UUID listed in CUDA_VISIBLE_DEVICES, or the order of identical GPUs.
    assert nvml_index(four, 1, {"CUDA_VISIBLE_DEVICES": "GPU-0000-aaaa,GPU-0002-aaaa"}) == (
        2, "by UUID (CUDA_VISIBLE_DEVICES)")
    assert nvml_index(four, 0, {"CUDA_VISIBLE_DEVICES": "3"})[0] == 3
    assert nvml_index(four, 2, {})[0] == 2
    index, why = nvml_index(four, 1, {"CUDA_VISIBLE_DEVICES": "3"})
    assert index is None and "not among CUDA_VISIBLE_DEVICES='3'" in why
    # Different models: CUDA puts the fastest first, so a number alone proves nothing.
    mixed = fake_pynvml(names=("Tesla T4", "NVIDIA H100 80GB HBM3"))
    index, why = nvml_index(mixed, 0, {})
    assert index is None and "CUDA_DEVICE_ORDER=PCI_BUS_ID" in why
    assert nvml_index(mixed, 0, {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"})[0] == 0


def test_the_device_option_meters_and_describes_that_gpu(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(
        watts=100.0, names=("NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3")))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    vendor = CudaVendor().with_options({"mode": "eager", "device": 1, "cudnn_benchmark": True})
    assert vendor.device == "cuda:1"
    (meter,) = vendor.meters(None)  # type: ignore[arg-type]
    meter.start()
    time.sleep(0.1)
    assert meter.stop().avg_watts == pytest.approx(200.0, rel=0.1)  # GPU 1's board, not 0's
    facts = vendor.details()["nvml"]
    assert facts["index"] == 1 and "same model" in facts["matched"]


def test_mig_says_the_counter_covers_the_whole_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(mig=True))
    vendor = CudaVendor()
    (meter,) = vendor.meters(None)  # type: ignore[arg-type]
    meter.start()
    assert "whole GPU" in meter.stop().scope
    assert "every MIG instance" in vendor.details()["nvml"]["mig"]


def test_a_device_index_beyond_the_gpus_is_a_skip_with_the_reason(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml())
    _fake_cuda_torch(monkeypatch, "NVIDIA H100 80GB HBM3", (9, 0))
    probe = CudaVendor().with_options(
        {"mode": "eager", "device": 3, "cudnn_benchmark": True}).probe()
    assert not probe.available and probe.reason == "no CUDA device 3: torch sees 1 (0–0)"
