"""Square matrix multiply: how many FLOP/s a vendor reaches on its best-case kernel.

A micro case: ``batch_size`` independent n×n by n×n products per sample batch, 2·n³ FLOPs
each (counted by torch's FLOP counter like any case). The matrices' dtype is the run's
``--precision``: the inputs are float32 by the case contract and the vendor converts them, as
it converts every case, so ``--precision bf16`` on a vendor that offers it gives a bf16 GEMM.
Its best run on a host × vendor × precision is flagbench's measured FLOP/s peak there; the
default size suits a CPU, and a large GPU needs a larger one (see ``options``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from flagbench.api.contracts import CaseOption, OnnxExport, OptionValue

if TYPE_CHECKING:
    import torch


def _build() -> torch.nn.Module:
    from torch import Tensor, nn

    class MatMul(nn.Module):
        def forward(self, a: Tensor, b: Tensor) -> Tensor:
            return a @ b

    return MatMul()


def gemm_flops(n: int) -> int:
    """FLOPs of one n×n by n×n product: n² outputs, each n multiplies and n adds."""
    return 2 * n**3


@dataclasses.dataclass(frozen=True)
class GemmCase:
    """C = A·B for square matrices of side ``size``."""

    name = "gemm"
    description = "square matrix multiply C = A·B, n×n, dtype = --precision (micro: FLOP/s)"
    task = "micro"
    onnx_export = OnnxExport(input_names=("a", "b"), output_names=("c",))
    options = {
        # 1024: 2.1 GFLOP per product, large enough to leave the launch cost behind on a CPU
        # and small enough for a quick run. On a large GPU it is launch-bound: at 989 TFLOP/s
        # (H100/H200 bf16) a 1024 product takes about 2 µs, the order of a kernel launch, so
        # its best run is far below the real peak. There use -o gemm.size=8192 (1.1 TFLOP,
        # about 1.1 ms a product: launch cost well under 1 %), or sweep: the measured peak is
        # the best probe run per host × vendor × precision, so runs at several sizes pick the
        # size that sustains the most (benchmarks/gpu_check.sh runs 2048, 4096 and 8192).
        "size": CaseOption(1024, "matrix side n", minimum=1, maximum=65536),
    }
    peak_probe = "flops"
    size: int = 1024

    def with_options(self, values: Mapping[str, OptionValue]) -> GemmCase:
        """The case at another matrix size."""
        return dataclasses.replace(self, size=int(values["size"]))

    def build_model(self) -> torch.nn.Module:
        """A parameter-free matmul module."""
        return _build().eval()

    def make_inputs(self, batch_size: int, seed: int) -> tuple[torch.Tensor, ...]:
        """Two batches of matrices, A's entries N(0, 1/n) and B's N(0, 1), so the product's
        entries are near unit scale (no overflow at fp16)."""
        import torch

        gen = torch.Generator().manual_seed(seed)
        shape = (batch_size, self.size, self.size)
        scale = self.size ** -0.5
        return (torch.randn(shape, generator=gen) * scale, torch.randn(shape, generator=gen))
