"""A large copy: how many bytes per second a vendor moves through memory.

A micro case: each sample is a float32 buffer of ``size_mb`` megabytes (10⁶ bytes) copied
to a fresh output, so a sample reads and writes the buffer once (2 × its bytes at the run's
precision: half as many at fp16/bf16, whose vendors convert the same elements). Its best run
on a host × vendor × precision is flagbench's measured bandwidth peak there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from flagbench.api.contracts import CaseOption, OnnxExport, OptionValue

if TYPE_CHECKING:
    import torch

#: Bytes per element at each precision. int8 is absent: quantising a copy leaves no int8
#: op, so an "int8" copy would move float32 bytes and no honest figure can be given.
ELEMENT_BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2}


def _build() -> torch.nn.Module:
    from torch import Tensor, nn

    class Copy(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return x.clone()

    return Copy()


@dataclasses.dataclass(frozen=True)
class MembwCase:
    """Copy a ``size_mb`` MB buffer per sample; achieved B/s counts bytes read and written."""

    name = "membw"
    description = "large memory copy, size_mb MB per sample (micro: bytes read + written per s)"
    task = "micro"
    onnx_export = OnnxExport(input_names=("x",), output_names=("y",))
    options = {
        # 64 MB is twice the last-level cache here, so the copy goes to DRAM; raise it above
        # a big server's cache (size_mb=1024). Fidelity keeps 8 samples of in- and output.
        "size_mb": CaseOption(64, "buffer size in MB (10^6 bytes) at float32", minimum=1,
                              maximum=65536),
    }
    peak_probe = "bytes"
    size_mb: int = 64

    @property
    def elements(self) -> int:
        """float32 elements in one sample's buffer."""
        return self.size_mb * 10**6 // 4

    def with_options(self, values: Mapping[str, OptionValue]) -> MembwCase:
        """The case with another buffer size."""
        return dataclasses.replace(self, size_mb=int(values["size_mb"]))

    def build_model(self) -> torch.nn.Module:
        """A parameter-free copy module."""
        return _build().eval()

    def make_inputs(self, batch_size: int, seed: int) -> tuple[torch.Tensor, ...]:
        """One buffer per sample, random so that no layer can compress or skip it."""
        import torch

        gen = torch.Generator().manual_seed(seed)
        return (torch.randn(batch_size, self.elements, generator=gen),)

    def bytes_moved(self, precision: str) -> float | None:
        """Read once and written once, at the run's element size; None for int8."""
        size = ELEMENT_BYTES.get(precision)
        return None if size is None else 2.0 * self.elements * size
