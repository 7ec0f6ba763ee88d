"""BERT-base encoder (uncased geometry) in plain torch.

Parameter names match Hugging Face's ``BertModel`` state dict (``embeddings.word_embeddings
.weight``, ``encoder.layer.0.attention.self.query.weight``, ``pooler.dense.weight`` …), so a
``bert-base-uncased`` BertModel checkpoint saved with ``torch.save(model.state_dict())`` loads
with ``--weights``. The output is the encoder's last hidden state, the figure fidelity checks;
the pooler is built so checkpoints fit, and is not run (it is one 768×768 layer on [CLS]).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from flagbench.api.contracts import CaseOption, OnnxExport, OptionValue

if TYPE_CHECKING:
    import torch

VOCAB = 30522
HIDDEN = 768
LAYERS = 12
HEADS = 12
INTERMEDIATE = 3072
MAX_POSITIONS = 512
TYPE_VOCAB = 2
LAYER_NORM_EPS = 1e-12
# WordPiece ids of bert-base-uncased's special tokens; ids below 1000 are [unused] slots,
# so random words are drawn above them, as real text would be.
CLS_ID, SEP_ID, FIRST_WORD_ID = 101, 102, 1000


def _build(layers: int = LAYERS) -> torch.nn.Module:
    """Define and build the encoder (with fewer layers for tests that need only its shape);
    torch is imported here so listing cases stays fast."""
    import math

    from torch import Tensor, nn

    class Embeddings(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.word_embeddings = nn.Embedding(VOCAB, HIDDEN, padding_idx=0)
            self.position_embeddings = nn.Embedding(MAX_POSITIONS, HIDDEN)
            self.token_type_embeddings = nn.Embedding(TYPE_VOCAB, HIDDEN)
            self.LayerNorm = nn.LayerNorm(HIDDEN, eps=LAYER_NORM_EPS)

        def forward(self, input_ids: Tensor, token_type_ids: Tensor) -> Tensor:
            import torch

            positions = torch.arange(input_ids.shape[1], device=input_ids.device)
            x = (self.word_embeddings(input_ids) + self.position_embeddings(positions)
                 + self.token_type_embeddings(token_type_ids))
            out: Tensor = self.LayerNorm(x)
            return out

    class SelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.query = nn.Linear(HIDDEN, HIDDEN)
            self.key = nn.Linear(HIDDEN, HIDDEN)
            self.value = nn.Linear(HIDDEN, HIDDEN)

        def forward(self, x: Tensor, mask: Tensor) -> Tensor:
            b, s, _ = x.shape
            d = HIDDEN // HEADS

            def heads(t: Tensor) -> Tensor:
                return t.view(b, s, HEADS, d).transpose(1, 2)

            q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
            # Explicit matmuls (HF's "eager" attention): FLOPs are counted exactly and the
            # ONNX graph has plain MatMul nodes that int8 quantisation understands.
            scores = q @ k.transpose(-1, -2) / math.sqrt(d) + mask
            context = scores.softmax(dim=-1) @ v
            out: Tensor = context.transpose(1, 2).reshape(b, s, HIDDEN)
            return out

    class AttentionOutput(nn.Module):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.dense = nn.Linear(width, HIDDEN)
            self.LayerNorm = nn.LayerNorm(HIDDEN, eps=LAYER_NORM_EPS)

        def forward(self, x: Tensor, residual: Tensor) -> Tensor:
            out: Tensor = self.LayerNorm(self.dense(x) + residual)
            return out

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.self = SelfAttention()
            self.output = AttentionOutput(HIDDEN)

        def forward(self, x: Tensor, mask: Tensor) -> Tensor:
            out: Tensor = self.output(self.self(x, mask), x)
            return out

    class Intermediate(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dense = nn.Linear(HIDDEN, INTERMEDIATE)
            self.intermediate_act_fn = nn.GELU()  # exact (erf) GELU, as BERT's "gelu"

        def forward(self, x: Tensor) -> Tensor:
            out: Tensor = self.intermediate_act_fn(self.dense(x))
            return out

    class Layer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attention = Attention()
            self.intermediate = Intermediate()
            self.output = AttentionOutput(INTERMEDIATE)

        def forward(self, x: Tensor, mask: Tensor) -> Tensor:
            a = self.attention(x, mask)
            out: Tensor = self.output(self.intermediate(a), a)
            return out

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = nn.ModuleList(Layer() for _ in range(layers))

        def forward(self, x: Tensor, mask: Tensor) -> Tensor:
            for layer in self.layer:
                x = layer(x, mask)
            return x

    class Pooler(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dense = nn.Linear(HIDDEN, HIDDEN)
            self.activation = nn.Tanh()

    class BertModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embeddings = Embeddings()
            self.encoder = Encoder()
            self.pooler = Pooler()
            for m in self.modules():  # BertPreTrainedModel._init_weights
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(m.weight, std=0.02)
                if isinstance(m, nn.Linear):
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Embedding) and m.padding_idx is not None:
                    nn.init.zeros_(m.weight[m.padding_idx])

        def forward(self, input_ids: Tensor, attention_mask: Tensor,
                    token_type_ids: Tensor) -> Tensor:
            import torch

            x = self.embeddings(input_ids, token_type_ids)
            # 1 keeps a key, 0 masks it: an additive bias of the dtype's lowest value.
            keep = attention_mask[:, None, None, :].to(x.dtype)
            mask = (1.0 - keep) * torch.finfo(x.dtype).min
            out: Tensor = self.encoder(x, mask)
            return out

    return BertModel()


@dataclasses.dataclass(frozen=True)
class BertCase:
    """BERT-base encoder on synthetic sentence pairs of ``seq_len`` WordPiece tokens."""

    name = "bert"
    description = "BERT-base encoder (uncased geometry), last hidden state, seq_len tokens"
    task = "encoder"
    onnx_export = OnnxExport(input_names=("input_ids", "attention_mask", "token_type_ids"),
                             output_names=("last_hidden_state",))
    options = {
        "seq_len": CaseOption(128, "tokens per sequence, up to BERT's 512 positions",
                              minimum=1, maximum=MAX_POSITIONS),
    }
    #: Seed of the random weights used when no checkpoint is given.
    weight_seed = 0
    seq_len: int = 128

    def with_options(self, values: Mapping[str, OptionValue]) -> BertCase:
        """The case at the given sequence length."""
        return dataclasses.replace(self, seq_len=int(values["seq_len"]))

    def build_model(self) -> torch.nn.Module:
        """Build with deterministic random weights, in eval mode, without touching global RNG."""
        from flagbench.run.weights import build_seeded

        return build_seeded(_build, self.weight_seed)

    def make_inputs(self, batch_size: int, seed: int) -> tuple[torch.Tensor, ...]:
        """Sentence pairs ``[CLS] a [SEP] b [SEP]`` of random words, segment ids 0/1, and a
        padded tail of up to a quarter of the sequence in some samples, so the mask matters.
        All int64, from a private generator."""
        import torch

        s, gen = self.seq_len, torch.Generator().manual_seed(seed)
        ids = torch.randint(FIRST_WORD_ID, VOCAB, (batch_size, s), generator=gen)
        mask = torch.ones(batch_size, s, dtype=torch.int64)
        types = torch.zeros(batch_size, s, dtype=torch.int64)
        pads = torch.randint(0, s // 4 + 1, (batch_size,), generator=gen)
        for row, pad in enumerate(pads.tolist()):
            length = s - pad
            mask[row, length:] = 0
            ids[row, length:] = 0  # [PAD]
            ids[row, 0] = CLS_ID
            ids[row, length - 1] = SEP_ID
            if length >= 4:
                middle = length // 2
                ids[row, middle] = SEP_ID
                types[row, middle + 1:length] = 1
        return ids, mask, types
