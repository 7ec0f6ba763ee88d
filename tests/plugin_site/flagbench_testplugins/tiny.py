"""A tiny real classification case: runs in milliseconds, exercises the whole path."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from flagbench.api.contracts import CaseOption, OptionValue

if TYPE_CHECKING:
    import torch


@dataclasses.dataclass(frozen=True)
class TinyMlpCase:
    name = "tiny-mlp"
    description = "two-layer MLP, 16 features, 10 classes"
    task = "classification"
    options = {
        "hidden": CaseOption(32, "hidden width", minimum=1, maximum=4096),
        "activation": CaseOption("relu", "activation", choices=("relu", "gelu")),
    }
    hidden: int = 32
    activation: str = "relu"

    def with_options(self, values: Mapping[str, OptionValue]) -> TinyMlpCase:
        return dataclasses.replace(self, **values)  # type: ignore[arg-type]

    def build_model(self) -> torch.nn.Module:
        import torch

        act = torch.nn.ReLU() if self.activation == "relu" else torch.nn.GELU()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = torch.nn.Sequential(
                torch.nn.Linear(16, self.hidden), act, torch.nn.Linear(self.hidden, 10)
            )
        return model.eval()

    def make_inputs(self, batch_size: int, seed: int) -> tuple[torch.Tensor, ...]:
        import torch

        return (torch.randn(batch_size, 16, generator=torch.Generator().manual_seed(seed)),)
