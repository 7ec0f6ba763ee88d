"""A tiny random-weight GPT-2 written as GGUF with the ``gguf`` package, so a real llama.cpp
engine can serve a model in a test without downloading one.

The vocabulary is made here: the 128 ASCII bytes in GPT-2's byte-to-unicode form, one merge
(``Ġ t``, because GGUF refuses an empty merges array and llama.cpp requires the key) and an
end token. ASCII only, because a random model decoding greedily over all 256 bytes emits
lone UTF-8 lead bytes, which llama-cpp-python's stream holds back until the character is
complete: chunks would bunch up for reasons of the toy vocabulary, not of the engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Small enough that a request of a few tokens takes well under a millisecond on a CPU, so
#: the test measures the engine's serving path rather than its arithmetic.
N_EMBD, N_HEAD, N_FF, N_LAYER, N_CTX = 32, 2, 64, 2, 256
END_TOKEN = "<|endoftext|>"


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's map of bytes to printable characters (the space is ``Ġ``, newline ``Ċ``)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    chars = {b: chr(b) for b in printable}
    shifted = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + shifted)
            shifted += 1
    return chars


def vocabulary() -> list[str]:
    """The token texts, by id: 128 ASCII bytes, one merged pair, the end token last."""
    chars = byte_to_unicode()
    return [chars[b] for b in range(128)] + [chars[ord(" ")] + "t", END_TOKEN]


def write_tiny_gpt2(path: Path, seed: int = 0) -> Path:
    """Write a GPT-2 of ``N_LAYER`` layers with seeded random weights to ``path`` (GGUF)."""
    import gguf

    tokens = vocabulary()
    n_vocab = len(tokens)
    writer = gguf.GGUFWriter(str(path), "gpt2")
    writer.add_name("flagbench-tiny-gpt2")
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_feed_forward_length(N_FF)
    writer.add_block_count(N_LAYER)
    writer.add_head_count(N_HEAD)
    writer.add_layer_norm_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.NORMAL] * (n_vocab - 1) + [gguf.TokenType.CONTROL])
    writer.add_token_merges([f"{tokens[ord(' ')]} t"])
    end = n_vocab - 1
    writer.add_bos_token_id(end)
    writer.add_eos_token_id(end)
    writer.add_add_bos_token(False)

    rng = np.random.default_rng(seed)

    def weight(*shape: int) -> np.ndarray:
        return rng.normal(0.0, 0.2, size=shape).astype(np.float32)

    ones, zeros = np.ones(N_EMBD, np.float32), np.zeros(N_EMBD, np.float32)
    # numpy shapes are GGUF's dimensions reversed: {n_embd, n_vocab} is (n_vocab, n_embd).
    writer.add_tensor("token_embd.weight", weight(n_vocab, N_EMBD))
    writer.add_tensor("position_embd.weight", weight(N_CTX, N_EMBD))
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output_norm.bias", zeros)
    for i in range(N_LAYER):
        blk = f"blk.{i}"
        writer.add_tensor(f"{blk}.attn_norm.weight", ones)
        writer.add_tensor(f"{blk}.attn_norm.bias", zeros)
        writer.add_tensor(f"{blk}.attn_qkv.weight", weight(3 * N_EMBD, N_EMBD))
        writer.add_tensor(f"{blk}.attn_qkv.bias", np.zeros(3 * N_EMBD, np.float32))
        writer.add_tensor(f"{blk}.attn_output.weight", weight(N_EMBD, N_EMBD))
        writer.add_tensor(f"{blk}.attn_output.bias", zeros)
        writer.add_tensor(f"{blk}.ffn_norm.weight", ones)
        writer.add_tensor(f"{blk}.ffn_norm.bias", zeros)
        writer.add_tensor(f"{blk}.ffn_up.weight", weight(N_FF, N_EMBD))
        writer.add_tensor(f"{blk}.ffn_up.bias", np.zeros(N_FF, np.float32))
        writer.add_tensor(f"{blk}.ffn_down.weight", weight(N_EMBD, N_FF))
        writer.add_tensor(f"{blk}.ffn_down.bias", zeros)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
