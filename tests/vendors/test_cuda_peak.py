"""GPU peaks: NVIDIA's published dense figures by device name, and the labelled formula fallback
(fake NVML clocks with a real device's values; there is no GPU here)."""

from __future__ import annotations

import types

import pytest
import torch

from flagbench.vendors.cuda_peak import cuda_peak, gpu_peak, torch_cuda_peak
from flagbench.vendors.gpu_peaks import PUBLISHED, published_peak, published_peaks


class FakeNvml:
    """pynvml's shape, with one GPU's maximum clocks (MHz) and bus width."""

    NVML_CLOCK_SM, NVML_CLOCK_MEM = 1, 2

    def __init__(self, sm_mhz: int = 1410, mem_mhz: int = 1215, bus_bits: int = 5120) -> None:
        self.clocks = {1: sm_mhz, 2: mem_mhz}
        self.bus_bits = bus_bits

    def nvmlInit(self) -> None:
        pass

    def nvmlDeviceGetHandleByIndex(self, index: int) -> str:
        return f"gpu{index}"

    def nvmlDeviceGetMaxClockInfo(self, handle: str, clock: int) -> int:
        return self.clocks[clock]

    def nvmlDeviceGetMemoryBusWidth(self, handle: str) -> int:
        return self.bus_bits


H100_SXM_NVML = FakeNvml(sm_mhz=1980, mem_mhz=2619, bus_bits=5120)  # what NVML reports there


def test_the_h200_gets_nvidias_dense_figure_not_the_formulas() -> None:
    peak = gpu_peak("NVIDIA H200", 132, (9, 0), "bf16", H100_SXM_NVML)
    assert peak is not None and peak.confidence == "theoretical"
    assert peak.flops_per_s == pytest.approx(989.5e12)  # 1,979 "with sparsity", halved
    assert peak.bytes_per_s == pytest.approx(4.8e12)
    assert peak.source.startswith("published: NVIDIA H200 Tensor Core GPU datasheet")
    assert "dense bf16 989.5 TFLOP/s" in peak.source
    # The formula at NVML's 1,980 MHz is the 8 % overstatement the table is there to avoid.
    formula = cuda_peak(132, (9, 0), "bf16", H100_SXM_NVML)
    assert formula is not None and formula.flops_per_s == pytest.approx(1070.5e12, rel=1e-3)


@pytest.mark.parametrize(("name", "precision", "tflops", "tb_s"), [
    ("NVIDIA H100 80GB HBM3", "fp16", 989.5, 3.35),
    ("NVIDIA H100 PCIe", "tf32", 378, 2.0),
    ("NVIDIA A100-SXM4-80GB", "tf32", 156, 2.039),
    ("NVIDIA A100 80GB PCIe", "int8", 624, 1.935),
    ("NVIDIA A100-PCIE-40GB", "fp32", 19.5, 1.555),
    ("NVIDIA L4", "fp16", 121, 0.3),
    ("NVIDIA L40S", "bf16", 362.05, 0.864),
    ("NVIDIA A10", "fp16", 125, 0.6),
    ("Tesla T4", "fp16", 65, 0.32),
    ("Tesla V100-SXM2-32GB", "fp16", 125, 0.9),
    ("NVIDIA GeForce RTX 4090", "bf16", 165.2, 1.008),
])
def test_table_lookup_by_reported_name(name: str, precision: str, tflops: float,
                                       tb_s: float) -> None:
    peak = published_peak(name, precision)
    assert peak is not None
    assert peak.flops_per_s == pytest.approx(tflops * 1e12)
    assert peak.bytes_per_s == pytest.approx(tb_s * 1e12)


def test_names_match_whatever_the_case_and_spacing() -> None:
    assert published_peaks("  nvidia  h100 80gb hbm3 ") is PUBLISHED["NVIDIA H100 80GB HBM3"]
    assert published_peaks("NVIDIA H100") is None  # no guessing from a prefix


def test_table_rates_are_dense_by_the_published_boost_clocks() -> None:
    # A known truth independent of the table: SMs × dense tensor FLOPs/clock/SM × the boost
    # clock NVIDIA quotes them at (A100 1,410 MHz; H100 SXM 1,830 MHz; H100 PCIe 1,620 MHz).
    for name, sms, per_clock, mhz in (("NVIDIA A100-SXM4-40GB", 108, 2048, 1410),
                                      ("NVIDIA H100 80GB HBM3", 132, 4096, 1830),
                                      ("NVIDIA H100 PCIe", 114, 4096, 1620)):
        fp16 = PUBLISHED[name].flops["fp16"]
        assert fp16 == pytest.approx(sms * per_clock * mhz * 1e6, rel=0.002), name
    # The shape of a dense table: tf32 half of fp16, int8 twice (2 %: the L40S datasheet's
    # dense fp16 362.05 is 1 % under half its sparse 733, which its tf32 183 and int8 733 follow).
    for name, entry in PUBLISHED.items():
        f = entry.flops
        if "tf32" in f and not name.startswith("NVIDIA GeForce"):
            assert f["tf32"] == pytest.approx(f["fp16"] / 2, rel=0.02), name
        if "int8" in f and not name.startswith("NVIDIA GeForce"):
            assert f["int8"] == pytest.approx(2 * f["fp16"], rel=0.02), name
        assert f["fp32"] < f["fp16"], name


def test_a_listed_device_without_a_figure_keeps_its_bandwidth() -> None:
    peak = gpu_peak("Tesla V100-PCIE-16GB", 80, (7, 0), "int8", FakeNvml())
    assert peak is not None and peak.flops_per_s is None
    assert peak.bytes_per_s == pytest.approx(0.9e12) and "no int8 figure" in peak.source


def test_an_unlisted_device_falls_back_to_the_labelled_formula() -> None:
    peak = gpu_peak("NVIDIA H100 NVL", 132, (9, 0), "fp16", FakeNvml(sm_mhz=1785))
    assert peak is not None and peak.confidence == "estimate"
    assert peak.source.startswith("no published peak for 'NVIDIA H100 NVL' in flagbench's table; "
                                  "formula at NVML's maximum clocks")
    assert peak.flops_per_s == pytest.approx(132 * 4096 * 1785e6)
    assert gpu_peak("NVIDIA H100 NVL", 132, (9, 0), "fp16", None) is None  # no NVML, no clocks


def test_formula_matches_the_published_a100_figures() -> None:
    fp32 = cuda_peak(108, (8, 0), "fp32", FakeNvml())
    assert fp32 is not None and fp32.confidence == "estimate"
    assert fp32.flops_per_s == pytest.approx(19.5e12, rel=0.01)  # NVIDIA: 19.5 TFLOPS
    assert fp32.bytes_per_s == pytest.approx(1.555e12, rel=0.01)  # NVIDIA: 1,555 GB/s
    fp16 = cuda_peak(108, (8, 0), "fp16", FakeNvml())
    assert fp16 is not None and fp16.flops_per_s == pytest.approx(312e12, rel=0.01)
    assert "whitepaper" in fp16.source
    unknown = cuda_peak(40, (7, 5), "bf16", FakeNvml())  # no bf16 tensor rate known: bandwidth only
    assert unknown is not None and unknown.flops_per_s is None and unknown.bytes_per_s
    assert cuda_peak(108, (8, 0), "fp32", None) is None


def test_torch_cuda_peak_looks_up_the_name_torch_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    props = types.SimpleNamespace(name="NVIDIA H100 80GB HBM3", multi_processor_count=132,
                                  major=9, minor=0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: props)
    monkeypatch.setattr("flagbench.vendors.nvml.open_nvml", lambda: (H100_SXM_NVML, ""))
    peak = torch_cuda_peak("fp16")
    assert peak is not None and peak.flops_per_s == pytest.approx(989.5e12)
    props.name = "NVIDIA Hypothetical GPU"
    peak = torch_cuda_peak("fp16")
    assert peak is not None and peak.confidence == "estimate"
    assert peak.flops_per_s == pytest.approx(1070.5e12, rel=1e-3)
