"""GPT-2 small greedy decoding with a static KV cache, in plain torch.

Parameter names match Hugging Face's ``GPT2Model`` state dict (``wte.weight``, ``wpe.weight``,
``h.0.ln_1.weight``, ``h.0.attn.c_attn.weight`` in Conv1D's [in, out] layout,
``h.0.mlp.c_fc.weight``, ``ln_f.weight`` …), and the LM head is tied to ``wte`` as in
``GPT2LMHeadModel``, so a GPT-2 checkpoint saved from ``GPT2Model.state_dict()`` loads with
``--weights``.

A request is served as a serving stack serves it: a *prefill* graph (the prompt → logits of
its last position and the KV cache) and a *decode step* graph (one token, its position and
the cache → logits and the updated cache), each exported and prepared by the vendor like any
model. The cache is preallocated at ``prompt_len + new_tokens`` positions, so both graphs have
static shapes; the step writes its key and value at ``position`` with a mask (no scatter) and
attends over every slot, masking those after ``position``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flagbench.api.contracts import CaseOption, Generation, OnnxExport, OptionValue

if TYPE_CHECKING:
    import torch

VOCAB = 50257
POSITIONS = 1024
HIDDEN = 768
LAYERS = 12
HEADS = 12
HEAD_DIM = HIDDEN // HEADS
LAYER_NORM_EPS = 1e-5


def _build(layers: int = LAYERS) -> torch.nn.Module:
    """Define and build GPT-2 small (with fewer blocks for tests that need only its shape);
    torch is imported here so listing cases stays fast."""
    import math

    import torch
    from torch import Tensor, nn

    class Conv1D(nn.Module):
        """GPT-2's linear layer: weight stored [in, out], as in the published checkpoints."""

        def __init__(self, n_in: int, n_out: int) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.empty(n_in, n_out))
            self.bias = nn.Parameter(torch.zeros(n_out))
            nn.init.normal_(self.weight, std=0.02)

        def forward(self, x: Tensor) -> Tensor:
            return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(
                *x.shape[:-1], self.weight.shape[1])

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_attn = Conv1D(HIDDEN, 3 * HIDDEN)
            self.c_proj = Conv1D(HIDDEN, HIDDEN)

        def forward(self, x: Tensor, cache: tuple[Tensor, Tensor, Tensor] | None,
                    mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
            """Attend from x's positions over themselves (prefill, ``cache`` None) or over the
            cache after writing x's key and value into the slot ``write`` [T, 1] selects."""
            b, s, _ = x.shape

            def heads(t: Tensor) -> Tensor:
                return t.view(b, s, HEADS, HEAD_DIM).transpose(1, 2)

            q, k, v = (heads(t) for t in self.c_attn(x).split(HIDDEN, dim=2))
            if cache is not None:
                k_cache, v_cache, write = cache
                k = torch.where(write, k, k_cache)
                v = torch.where(write, v, v_cache)
            scores = q @ k.transpose(-1, -2) / math.sqrt(HEAD_DIM) + mask
            context = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, s, HIDDEN)
            return self.c_proj(context), k, v

    class Mlp(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_fc = Conv1D(HIDDEN, 4 * HIDDEN)
            self.c_proj = Conv1D(4 * HIDDEN, HIDDEN)
            self.act = nn.GELU(approximate="tanh")  # GPT-2's "gelu_new"

        def forward(self, x: Tensor) -> Tensor:
            out: Tensor = self.c_proj(self.act(self.c_fc(x)))
            return out

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln_1 = nn.LayerNorm(HIDDEN, eps=LAYER_NORM_EPS)
            self.attn = Attention()
            self.ln_2 = nn.LayerNorm(HIDDEN, eps=LAYER_NORM_EPS)
            self.mlp = Mlp()

    class GPT2(nn.Module):
        """GPT2Model's parameters plus the tied LM head; ``run`` is one forward over a chunk."""

        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(VOCAB, HIDDEN)
            self.wpe = nn.Embedding(POSITIONS, HIDDEN)
            self.h = nn.ModuleList(Block() for _ in range(layers))
            self.ln_f = nn.LayerNorm(HIDDEN, eps=LAYER_NORM_EPS)
            nn.init.normal_(self.wte.weight, std=0.02)
            nn.init.normal_(self.wpe.weight, std=0.01)
            for name, p in self.named_parameters():  # GPT-2's scaled residual projections
                if name.endswith("c_proj.weight"):
                    nn.init.normal_(p, std=0.02 / math.sqrt(2 * layers))

        def run(self, ids: Tensor, positions: Tensor, mask: Tensor,
                cache: tuple[Tensor, Tensor, Tensor] | None = None
                ) -> tuple[Tensor, Tensor, Tensor]:
            """Logits of the chunk's last position, and the per-layer keys and values; with
            ``cache`` (keys, values, write slot) the chunk is one token attending over it."""
            x = self.wte(ids) + self.wpe(positions)
            keys, values = [], []
            block: Any
            for i, block in enumerate(self.h):
                layer_cache = None if cache is None else (cache[0][i], cache[1][i], cache[2])
                a, k, v = block.attn(block.ln_1(x), layer_cache, mask)
                x = x + a
                x = x + block.mlp(block.ln_2(x))
                keys.append(k)
                values.append(v)
            last = self.ln_f(x[:, -1])
            logits = last @ self.wte.weight.t()  # the LM head is tied to the embedding
            return logits, torch.stack(keys), torch.stack(values)

    return GPT2()


def _stages(model: torch.nn.Module, cache_len: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The prefill and decode-step modules, sharing ``model``'s parameters."""
    import torch
    from torch import Tensor, nn

    class Prefill(nn.Module):
        """input_ids [B, P] → logits [B, V], k_cache and v_cache [L, B, H, T, D]."""

        def __init__(self) -> None:
            super().__init__()
            self.gpt: Any = model

        def forward(self, input_ids: Tensor) -> tuple[Tensor, Tensor, Tensor]:
            b, p = input_ids.shape
            positions = torch.arange(p, device=input_ids.device)
            causal = torch.ones(p, p, dtype=torch.bool, device=input_ids.device).tril()
            dtype = self.gpt.wte.weight.dtype
            mask = torch.zeros(p, p, dtype=dtype, device=input_ids.device).masked_fill(
                ~causal, torch.finfo(dtype).min)
            logits, k, v = self.gpt.run(input_ids, positions, mask)
            pad = (0, 0, 0, cache_len - p)  # the static cache: slots P..T-1 still empty
            return logits, nn.functional.pad(k, pad), nn.functional.pad(v, pad)

    class DecodeStep(nn.Module):
        """token [B, 1], position [1], caches → logits [B, V] and the caches with the token."""

        def __init__(self) -> None:
            super().__init__()
            self.gpt: Any = model

        def forward(self, token: Tensor, position: Tensor, k_cache: Tensor,
                    v_cache: Tensor) -> tuple[Tensor, Tensor, Tensor]:
            slots = torch.arange(cache_len, device=token.device)
            write = (slots == position).view(cache_len, 1)
            dtype = k_cache.dtype
            mask = torch.zeros(cache_len, dtype=dtype, device=token.device).masked_fill(
                slots > position, torch.finfo(dtype).min)
            logits, k, v = self.gpt.run(token, position.view(1, 1), mask,
                                        (k_cache, v_cache, write))
            return logits, k, v

    return Prefill().eval(), DecodeStep().eval()


@dataclasses.dataclass
class _Stage:
    """One graph of a generation, shaped as a Case so vendors prepare it like any model."""

    name: str
    description: str
    module: torch.nn.Module
    inputs: Callable[[int, int], tuple[torch.Tensor, ...]]
    onnx_export: OnnxExport
    task: str = "generation-stage"

    def build_model(self) -> torch.nn.Module:
        """The stage module, sharing the parent model's (possibly loaded) weights."""
        return self.module

    def make_inputs(self, batch_size: int, seed: int) -> tuple[torch.Tensor, ...]:
        """Realistic inputs of this stage (export shapes, int8 calibration)."""
        return self.inputs(batch_size, seed)


@dataclasses.dataclass(frozen=True)
class GptDecodeCase:
    """Greedy generation of ``new_tokens`` tokens after a ``prompt_len``-token prompt."""

    name = "gpt-decode"
    description = "GPT-2 small greedy decoding, static KV cache: TTFT, TPOT, tokens/s"
    task = "generation"
    onnx_export = OnnxExport(input_names=("input_ids",),
                             output_names=("logits", "k_cache", "v_cache"))
    options = {
        "prompt_len": CaseOption(32, "prompt tokens, run by prefill", minimum=1,
                                 maximum=POSITIONS - 2),
        "new_tokens": CaseOption(32, "tokens generated per request, the first by prefill",
                                 minimum=2, maximum=POSITIONS - 1),
    }
    #: Seed of the random weights used when no checkpoint is given.
    weight_seed = 0
    prompt_len: int = 32
    new_tokens: int = 32

    def with_options(self, values: Mapping[str, OptionValue]) -> GptDecodeCase:
        """The case at the given prompt length and generation length; both must fit GPT-2's
        1,024 positions."""
        from flagbench.api.errors import FlagbenchError

        prompt, new = int(values["prompt_len"]), int(values["new_tokens"])
        if prompt + new > POSITIONS:
            raise FlagbenchError(f"gpt-decode: prompt_len + new_tokens = {prompt + new} "
                                 f"exceeds GPT-2's {POSITIONS} positions")
        return dataclasses.replace(self, prompt_len=prompt, new_tokens=new)

    def build_model(self) -> torch.nn.Module:
        """GPT-2 small with deterministic random weights (GPT-2's init), in eval mode."""
        from flagbench.run.weights import build_seeded

        return build_seeded(_build, self.weight_seed)

    def make_inputs(self, batch_size: int, seed: int) -> tuple[torch.Tensor, ...]:
        """Prompts of random token ids (int64 [B, prompt_len]) from a private generator."""
        import torch

        gen = torch.Generator().manual_seed(seed)
        return (torch.randint(0, VOCAB, (batch_size, self.prompt_len), generator=gen),)

    def generation(self, model: torch.nn.Module) -> Generation:
        """The prefill and decode-step graphs over ``model``'s weights."""
        import torch

        prefill, step = _stages(model, self.prompt_len + self.new_tokens)

        def step_inputs(batch_size: int, seed: int) -> tuple[torch.Tensor, ...]:
            # A real cache: the step after prefilling a seeded prompt.
            with torch.no_grad():
                logits, k, v = prefill(*self.make_inputs(batch_size, seed))
            token = logits.argmax(dim=-1, keepdim=True)
            return token, torch.tensor([self.prompt_len]), k, v

        stem = f"{self.name}-p{self.prompt_len}-n{self.new_tokens}"
        return Generation(
            prefill=_Stage(f"{stem}.prefill", "GPT-2 prefill", prefill, self.make_inputs,
                           self.onnx_export),
            step=_Stage(f"{stem}.step", "GPT-2 decode step", step, step_inputs,
                        OnnxExport(("token", "position", "k_cache", "v_cache"),
                                   ("logits", "k_cache_out", "v_cache_out"))),
            new_tokens=self.new_tokens,
        )
