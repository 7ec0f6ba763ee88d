"""NVIDIA's published dense peaks for well-known GPUs, matched on the name the device reports.

The figures are NVIDIA's own, from the datasheet (or architecture whitepaper) named with each
entry: dense rates, never the "with sparsity" ones. Where a datasheet gives only sparse
tensor figures (H100, H200, L4: "shown with sparsity; specifications are one-half lower
without"), the entry holds half of them. fp32 is the non-tensor CUDA-core rate (flagbench's
fp32 on CUDA turns TF32 off); tf32, fp16, bf16 and int8 (op/s) are tensor-core rates with
fp32 accumulation, which is what torch's GEMMs use. A precision a device has no figure for
is absent, and a device not listed gets the formula in ``cuda_peak`` instead. Devices whose
figures could not be checked against NVIDIA's documents (H100 NVL, H200 NVL) are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flagbench.api.contracts import Peak

TERA = 1e12  # the tables are in TFLOP/s (TOPS for int8) and TB/s


@dataclass(frozen=True)
class PublishedPeaks:
    """One device's dense peak per precision and its memory bandwidth, and the document."""

    flops: Mapping[str, float]
    """precision -> FLOP/s (int8: integer op/s)."""
    bytes_per_s: float
    document: str


def _peaks(document: str, bandwidth_tb: float, **tflops: float) -> PublishedPeaks:
    return PublishedPeaks({p: v * TERA for p, v in tflops.items()}, bandwidth_tb * TERA, document)


def _a100(bandwidth_tb: float) -> PublishedPeaks:
    # The same compute figures for SXM4 and PCIe, 40 and 80 GB; only the memory differs.
    return _peaks("NVIDIA A100 Tensor Core GPU datasheet", bandwidth_tb,
                  fp32=19.5, tf32=156, fp16=312, bf16=312, int8=624)


def _h100_sxm(document: str, bandwidth_tb: float) -> PublishedPeaks:
    # Datasheets: TF32 989*, FP16/BF16 1,979*, INT8 3,958* (*with sparsity), FP32 67.
    return _peaks(document, bandwidth_tb,
                  fp32=67, tf32=494.5, fp16=989.5, bf16=989.5, int8=1979)


def _v100(document: str, fp32: float, fp16: float) -> PublishedPeaks:
    # Volta: no tf32, bf16 or int8 tensor cores; "Tensor Performance" is fp16 (dense).
    return _peaks(document, 0.9, fp32=fp32, fp16=fp16)


#: Device name as torch and NVML report it (``torch.cuda.get_device_name``) -> its peaks.
PUBLISHED: Mapping[str, PublishedPeaks] = {
    "NVIDIA A100-SXM4-40GB": _a100(1.555),
    "NVIDIA A100-SXM4-80GB": _a100(2.039),
    "NVIDIA A100-PCIE-40GB": _a100(1.555),
    "NVIDIA A100 80GB PCIe": _a100(1.935),
    "NVIDIA H100 80GB HBM3": _h100_sxm("NVIDIA H100 Tensor Core GPU datasheet (H100 SXM)",
                                       3.35),
    # PCIe: TF32 756*, FP16/BF16 1,513*, INT8 3,026*, FP32 51; 2 TB/s.
    "NVIDIA H100 PCIe": _peaks("NVIDIA H100 Tensor Core GPU datasheet (H100 PCIe)", 2.0,
                               fp32=51, tf32=378, fp16=756.5, bf16=756.5, int8=1513),
    "NVIDIA H200": _h100_sxm("NVIDIA H200 Tensor Core GPU datasheet (H200 SXM)", 4.8),
    # L4: TF32 120*, FP16/BF16 242*, INT8 485* (*with sparsity), FP32 30.3; 300 GB/s.
    "NVIDIA L4": _peaks("NVIDIA L4 Tensor Core GPU datasheet", 0.3,
                        fp32=30.3, tf32=60, fp16=121, bf16=121, int8=242.5),
    # L40S states dense and sparse: TF32 183 | 366*, FP16/BF16 362.05 | 733*, INT8 733 | 1,466*
    # (its dense fp16 is 1 % under half the sparse figure; the stated dense one is kept).
    "NVIDIA L40S": _peaks("NVIDIA L40S datasheet", 0.864,
                          fp32=91.6, tf32=183, fp16=362.05, bf16=362.05, int8=733),
    # A10: TF32 62.5 | 125*, FP16/BF16 125 | 250*, INT8 250 | 500*.
    "NVIDIA A10": _peaks("NVIDIA A10 Tensor Core GPU datasheet", 0.6,
                         fp32=31.2, tf32=62.5, fp16=125, bf16=125, int8=250),
    # T4: "mixed precision (FP16/FP32)" 65, INT8 130 TOPS; Turing has no tf32 or bf16.
    "Tesla T4": _peaks("NVIDIA T4 Tensor Core GPU datasheet", 0.32, fp32=8.1, fp16=65, int8=130),
    "Tesla V100-SXM2-16GB": _v100("NVIDIA Tesla V100 datasheet (V100 SXM2)", 15.7, 125),
    "Tesla V100-SXM2-32GB": _v100("NVIDIA Tesla V100 datasheet (V100 SXM2)", 15.7, 125),
    "Tesla V100-PCIE-16GB": _v100("NVIDIA Tesla V100 datasheet (V100 PCIe)", 14, 112),
    "Tesla V100-PCIE-32GB": _v100("NVIDIA Tesla V100 datasheet (V100 PCIe)", 14, 112),
    # GeForce runs fp16 tensor math with fp32 accumulation at half the fp16-accumulate rate
    # (330.3 TFLOPS); torch accumulates in fp32, so 165.2 is the peak its GEMMs can reach.
    "NVIDIA GeForce RTX 4090": _peaks(
        "NVIDIA Ada Lovelace GPU Architecture whitepaper (GeForce RTX 4090)", 1.008,
        fp32=82.6, tf32=82.6, fp16=165.2, bf16=165.2, int8=660.6),
}


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


_BY_KEY = {_key(name): peaks for name, peaks in PUBLISHED.items()}


def published_peaks(device_name: str) -> PublishedPeaks | None:
    """The table's entry for a device name (case and spacing ignored), or None."""
    return _BY_KEY.get(_key(device_name))


def published_peak(device_name: str, precision: str) -> Peak | None:
    """The published dense peak at ``precision`` and the memory bandwidth, or None for a
    device the table does not list; a listed device without a figure at ``precision`` keeps
    its bandwidth."""
    entry = published_peaks(device_name)
    if entry is None:
        return None
    flops = entry.flops.get(precision)
    unit = "TOPS" if precision == "int8" else "TFLOP/s"
    rate = (f"dense {precision} {flops / TERA:g} {unit}" if flops is not None
            else f"no {precision} figure")
    return Peak(flops_per_s=flops, bytes_per_s=entry.bytes_per_s, confidence="theoretical",
                source=f"published: {entry.document} for {device_name.strip()}: {rate}, "
                       f"{entry.bytes_per_s / 1e9:g} GB/s memory bandwidth")
