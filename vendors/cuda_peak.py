"""An NVIDIA GPU's peak FLOP/s and memory bandwidth: NVIDIA's published figure, else a formula.

``gpu_peak`` takes the published dense peak from ``gpu_peaks`` for a device it lists, and
falls back to the formula of ``cuda_peak`` for any other, labelled as such. The formula:
FLOP/s = SMs × max SM clock (NVML) × FLOPs per clock per SM. Per-SM rates: float32 on the
CUDA cores from the CUDA C++ Programming Guide's arithmetic-throughput table (results per
clock × 2 for the fused multiply-add); dense tensor-core rates (tf32, fp16, bf16) from
NVIDIA's V100, A100 and H100 architecture whitepapers, so only for those generations.
Bandwidth = max memory clock (NVML) × 2 (double data rate) × bus width. Figures at the
maximum clocks: a GPU that throttles reaches less. NVML's maximum SM clock can be above the
clock NVIDIA quotes tensor peaks at (H100 SXM: 1,980 against 1,830 MHz, so the formula gives
1,070 TFLOP/s fp16 where NVIDIA publishes 989), which is why the formula is an ``estimate``
and the published table comes first.
"""

from __future__ import annotations

from typing import Any

from flagbench.api.contracts import Peak
from flagbench.vendors.gpu_peaks import published_peak

#: float32 FMA results per clock per SM by compute capability (Programming Guide).
_FP32_PER_SM = {(6, 0): 64, (6, 1): 128, (7, 0): 64, (7, 5): 64, (8, 0): 64, (8, 6): 128,
                (8, 7): 128, (8, 9): 128, (9, 0): 128}
#: Dense tensor-core FLOPs per clock per SM (whitepapers: V100, A100, H100).
_TENSOR_PER_SM = {
    (7, 0): {"fp16": 1024},
    (8, 0): {"tf32": 1024, "fp16": 2048, "bf16": 2048},
    (9, 0): {"tf32": 2048, "fp16": 4096, "bf16": 4096},
}


def cuda_peak(sm_count: int, capability: tuple[int, int], precision: str,
              nvml: Any, index: int = 0) -> Peak | None:
    """The formula's peak at ``precision`` on device ``index`` (an ``estimate``); None
    without NVML's clocks."""
    if nvml is None:
        return None
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    try:
        sm_mhz = float(nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM))
    except Exception:
        return None
    parts = []
    flops = None
    cc = f"{capability[0]}.{capability[1]}"
    if precision == "fp32" and capability in _FP32_PER_SM:
        per_clock = 2 * _FP32_PER_SM[capability]
        flops = sm_count * sm_mhz * 1e6 * per_clock
        parts.append(f"{sm_count} SMs × {sm_mhz:.0f} MHz max SM clock × {per_clock} fp32 "
                     f"FLOP/clock/SM (CUDA Programming Guide, cc {cc})")
    elif precision in _TENSOR_PER_SM.get(capability, {}):
        per_clock = _TENSOR_PER_SM[capability][precision]
        flops = sm_count * sm_mhz * 1e6 * per_clock
        parts.append(f"{sm_count} SMs × {sm_mhz:.0f} MHz max SM clock × {per_clock} dense "
                     f"{precision} tensor FLOP/clock/SM (NVIDIA whitepaper, cc {cc})")
    bandwidth = None
    try:
        mem_mhz = float(nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_MEM))
        bus_bits = int(nvml.nvmlDeviceGetMemoryBusWidth(handle))
        bandwidth = mem_mhz * 1e6 * 2 * bus_bits / 8
        parts.append(f"{mem_mhz:.0f} MHz max memory clock × 2 × {bus_bits}-bit bus (NVML)")
    except Exception:
        pass
    if flops is None and bandwidth is None:
        return None
    return Peak(flops_per_s=flops, bytes_per_s=bandwidth, confidence="estimate",
                source="formula at NVML's maximum clocks (can exceed the clock NVIDIA quotes "
                       "its peaks at): " + "; ".join(parts))


def gpu_peak(name: str, sm_count: int, capability: tuple[int, int], precision: str,
             nvml: Any, index: int = 0) -> Peak | None:
    """NVIDIA's published dense peak for a device ``gpu_peaks`` lists by ``name``, else the
    formula (``cuda_peak``), its source saying that no published figure was found."""
    published: Peak | None = published_peak(name, precision)
    if published is not None:
        return published
    formula = cuda_peak(sm_count, capability, precision, nvml, index)
    if formula is None:
        return None
    return Peak(formula.flops_per_s, formula.bytes_per_s, confidence=formula.confidence,
                source=f"no published peak for {name.strip()!r} in flagbench's table; "
                       f"{formula.source}")


def torch_cuda_peak(precision: str, cuda_index: int = 0,
                    nvml_index: int | None = 0) -> Peak | None:
    """``gpu_peak`` for torch's device ``cuda_index``, whose NVML index is ``nvml_index``
    (they differ where CUDA_VISIBLE_DEVICES reorders: ``nvidia.nvml_index`` matches them);
    None where no NVML device is known to be it, so no other GPU's clocks are used."""
    import torch

    from flagbench.vendors.nvml import open_nvml

    props = torch.cuda.get_device_properties(cuda_index)
    nvml, _ = open_nvml() if nvml_index is not None else (None, "")
    return gpu_peak(props.name, props.multi_processor_count, (props.major, props.minor),
                    precision, nvml, nvml_index or 0)
