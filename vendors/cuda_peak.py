"""An NVIDIA GPU's theoretical peak FLOP/s and memory bandwidth, from its own properties.

FLOP/s = SMs × max SM clock (NVML) × FLOPs per clock per SM. Per-SM rates: float32 on the
CUDA cores from the CUDA C++ Programming Guide's arithmetic-throughput table (results per
clock × 2 for the fused multiply-add); dense tensor-core rates (tf32, fp16, bf16) from
NVIDIA's V100, A100 and H100 architecture whitepapers, so only for those generations.
Bandwidth = max memory clock (NVML) × 2 (double data rate) × bus width. Figures at the
maximum clocks: a GPU that throttles reaches less.
"""

from __future__ import annotations

from typing import Any

from flagbench.api.contracts import Peak

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
    """The peak at ``precision`` on device ``index``; None without NVML's clocks."""
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
    return Peak(flops_per_s=flops, bytes_per_s=bandwidth,
                source="theoretical: " + "; ".join(parts))


def torch_cuda_peak(precision: str) -> Peak | None:
    """``cuda_peak`` for torch's device 0."""
    import torch

    from flagbench.vendors.nvml import open_nvml

    props = torch.cuda.get_device_properties(0)
    nvml, _ = open_nvml()
    return cuda_peak(props.multi_processor_count, (props.major, props.minor), precision, nvml)
