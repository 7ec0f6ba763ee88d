"""The standard language cases with two of their twelve blocks: the same code end to end, at
an ONNX export and a reference that a test can afford (GPT-2 small's two graphs take about
50 s to export here; two blocks, a sixth of that)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from flagbench.cases import bert, gpt_decode
from flagbench.run.weights import build_seeded

if TYPE_CHECKING:
    import torch

LAYERS = 2


@dataclasses.dataclass(frozen=True)
class ShallowBertCase(bert.BertCase):
    """BERT-base geometry with two encoder layers."""

    name = "bert-2l"
    description = "bert with 2 of its 12 layers (tests)"

    def build_model(self) -> torch.nn.Module:
        return build_seeded(lambda: bert._build(LAYERS), self.weight_seed)


@dataclasses.dataclass(frozen=True)
class ShallowGptDecodeCase(gpt_decode.GptDecodeCase):
    """GPT-2 small geometry with two blocks."""

    name = "gpt-decode-2l"
    description = "gpt-decode with 2 of its 12 blocks (tests)"

    def build_model(self) -> torch.nn.Module:
        return build_seeded(lambda: gpt_decode._build(LAYERS), self.weight_seed)
