"""llm-serve: a serving workload for LLM engines over HTTP, the same requests on every engine.

Each request is a prompt of ``input_tokens`` and asks for exactly ``output_tokens`` (a fixed
value, or a range ``A-B`` drawn per request from the seed). Synthetic prompts are words, one
per asked token, so no tokenizer is needed on the client; the server's ``usage`` says what its
own tokenizer made of them. ``prompts`` names a JSONL file of ``{"prompt": "..."}`` lines to
use instead, in order. Request ``i`` is the same for the same seed whatever the engine.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flagbench.api.contracts import Option, OptionValue, ServingRequest
from flagbench.api.errors import FlagbenchError

#: Common short English words: prompts made of them tokenise to about one token each.
_WORDS = ("the", "of", "and", "to", "in", "is", "it", "that", "for", "on", "as", "with",
          "was", "he", "be", "at", "by", "this", "had", "not", "are", "but", "from", "or")
MAX_TOKENS = 1 << 20
"""A bound no engine's context reaches: larger asks are typing errors."""


def parse_length(key: str, text: str) -> tuple[int, int]:
    """``"128"`` → (128, 128); ``"64-256"`` → (64, 256); FlagbenchError if bad."""
    low, sep, high = str(text).partition("-")
    try:
        a, b = int(low), int(high) if sep else int(low)
    except ValueError:
        raise FlagbenchError(f"case option {key}={text!r}: expected N or A-B tokens") from None
    if not 1 <= a <= b <= MAX_TOKENS:
        raise FlagbenchError(f"case option {key}={text!r}: expected 1 ≤ A ≤ B ≤ {MAX_TOKENS}")
    return a, b


def read_prompts(path: str) -> tuple[str, ...]:
    """The prompts of a JSONL file, each line ``{"prompt": "..."}``; FlagbenchError if bad."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise FlagbenchError(f"case option prompts={path!r}: not a file")
    prompts = []
    with p.open(encoding="utf-8", errors="strict") as f:
        try:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    raise FlagbenchError(f"{p.name}:{n}: not JSON") from None
                if not isinstance(row, dict) or not isinstance(row.get("prompt"), str):
                    raise FlagbenchError(f'{p.name}:{n}: expected {{"prompt": "..."}}')
                prompts.append(row["prompt"])
        except UnicodeDecodeError:
            raise FlagbenchError(f"{p.name}: not UTF-8 text") from None
    if not prompts:
        raise FlagbenchError(f"{p.name}: no prompts")
    return tuple(prompts)


class LlmServeCase:
    """Prompts and output lengths for a serving engine; no model on the client."""

    name = "llm-serve"
    description = ("LLM serving over HTTP: synthetic or given prompts, exact output lengths "
                   "(run with --vendor openai)")
    task = "generation"
    options: Mapping[str, Option] = {
        "input_tokens": Option("128", "prompt length in tokens: N, or A-B drawn per request"),
        "output_tokens": Option("128", "tokens asked per request: N, or A-B drawn per "
                                "request"),
        "prompts": Option("", "a JSONL file of {\"prompt\": ...} lines instead of synthetic "
                          "prompts"),
    }

    def __init__(self, values: Mapping[str, OptionValue] | None = None) -> None:
        values = values or {k: o.default for k, o in self.options.items()}
        self.input_tokens = parse_length("input_tokens", str(values["input_tokens"]))
        self.output_tokens = parse_length("output_tokens", str(values["output_tokens"]))
        self.prompts = read_prompts(str(values["prompts"])) if values["prompts"] else ()

    def with_options(self, values: Mapping[str, OptionValue]) -> LlmServeCase:
        """The case with these lengths and prompts, checked."""
        return LlmServeCase(values)

    def serving_request(self, index: int, seed: int) -> ServingRequest:
        """Request ``index`` of the workload seeded ``seed``: the same on every engine."""
        rng = random.Random(f"llm-serve:{seed}:{index}")
        out = rng.randint(*self.output_tokens)
        if self.prompts:
            prompt = self.prompts[index % len(self.prompts)]
            return ServingRequest(prompt, out, len(prompt.split()))
        n = rng.randint(*self.input_tokens)
        start = rng.randrange(len(_WORDS))
        words = [_WORDS[(start + 7 * k) % len(_WORDS)] for k in range(n)]
        return ServingRequest(" ".join(words), out, n)

    def build_model(self) -> Any:
        """A serving case has no client-side model."""
        raise FlagbenchError("llm-serve runs against a serving engine: use --vendor openai")

    def make_inputs(self, batch_size: int, seed: int) -> Any:
        """A serving case has no tensor inputs."""
        raise FlagbenchError("llm-serve runs against a serving engine: use --vendor openai")
