"""A tiny real classification case: runs in milliseconds, exercises the whole path."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


class TinyMlpCase:
    name = "tiny-mlp"
    description = "two-layer MLP, 16 features, 10 classes"
    task = "classification"

    def build_model(self) -> torch.nn.Module:
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = torch.nn.Sequential(
                torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
            )
        return model.eval()

    def make_inputs(self, batch_size: int, seed: int) -> tuple[torch.Tensor, ...]:
        import torch

        return (torch.randn(batch_size, 16, generator=torch.Generator().manual_seed(seed)),)
