"""Serving runs against a real engine: llama-cpp-python's OpenAI-compatible server on
127.0.0.1, serving a tiny random-weight GPT-2 the test writes itself. Where the scripted
server (test_serving.py) pins the arithmetic to known timings, this pins the protocol to what
a real engine sends: its chunks, its logprobs, its lengths, its errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engines.llama_cpp_server import LlamaCppServer, require_engine
from engines.tiny_gguf import write_tiny_gpt2

from seeding import stored_runs

# Long enough for ten or more requests per scenario at a few per second, short enough that
# the test stays well under 20 s on a two-core runner.
ENGINE_QUICK = ["--warmup", "0", "--min-time", "1", "--max-time", "3", "--min-iters", "8",
                "--target-ci", "0", "--no-isolate"]
OUTPUT_TOKENS, INPUT_TOKENS, TARGET_QPS = 8, 8, 4


@pytest.fixture(scope="module")
def llama_cpp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's server on a fresh tiny GGUF; its URL once /v1/models answers."""
    require_engine()
    root = tmp_path_factory.mktemp("llama-cpp")
    server = LlamaCppServer(write_tiny_gpt2(root / "tiny-gpt2.gguf"), root / "server.log")
    try:
        assert server.wait_ready() == ["tiny-gpt2"]
        yield server.url
    finally:
        server.close()



def test_latency_and_server_runs_against_llama_cpp_store_the_serving_figures(
        flagbench: Any, llama_cpp_server: str, tmp_path: Path) -> None:
    db = tmp_path / "engine.db"
    out = flagbench("run", "--vendor", "openai", "-O", f"endpoint={llama_cpp_server}",
                    "--case", "llm-serve", "-o", f"output_tokens={OUTPUT_TOKENS}",
                    "-o", f"input_tokens={INPUT_TOKENS}", "--scenario",
                    "latency,throughput,server", "--concurrency", "1,2,4",
                    "--target-qps", str(TARGET_QPS), "--slo", "ttft_ms=2000,tpot_ms=1000",
                    "--db", str(db), *ENGINE_QUICK)
    assert out.returncode == 0, out.stdout + out.stderr
    runs = stored_runs(db)
    by_load = {(r.scenario, r.spec.get("concurrency")): r for r in runs}
    assert set(by_load) == {("latency", None), ("server", None), ("throughput", 1),
                            ("throughput", 2), ("throughput", 4)}
    server_run = by_load[("server", None)]
    for run in runs:
        assert run.status == "ok", run.reason
        assert run.actual["device"] == "tiny-gpt2"
        # The server streams one token per chunk with its logprobs, so each is counted exactly.
        assert run.actual["details"]["token_count"] == ["logprobs"]
        serving = run.environment["serving"]
        assert serving["errors"] == "" and serving["completed"] >= 8
        # min_tokens holds EOS back, max_tokens stops at the length: exactly what was asked.
        assert set(serving["output_tokens"]) == {OUTPUT_TOKENS}
        assert set(serving["asked_tokens"]) == {OUTPUT_TOKENS}
        assert run.metric("output_tokens_mean") == OUTPUT_TOKENS
        assert run.metric("request_errors") == 0
        for name in ("ttft", "tpot", "itl", "latency"):
            assert run.metric(f"{name}_median_s") > 0, name
        # E2E is TTFT plus the seven gaps after the first token, one of which is the TPOT.
        e2e = run.metric("latency_median_s")
        assert run.metric("ttft_median_s") < e2e
        assert run.metric("tpot_median_s") < e2e
        assert run.metric("output_tokens_per_s") > 0
        assert run.metric("goodput_rps") > 0
    assert server_run.metric("server_target_qps") == TARGET_QPS
    assert server_run.metric("server_achieved_qps") > 0

    report = tmp_path / "engine.html"
    out = flagbench("report", "--db", str(db), "--out", str(report))
    assert out.returncode == 0, out.stderr
    html = report.read_text()
    table = html[html.index('id="streaming-table"'):].split("</table>")[0]
    row = (f"<td>openai[endpoint={llama_cpp_server}]</td><td>llm-serve[input_tokens="
           f"{INPUT_TOKENS},output_tokens={OUTPUT_TOKENS},prompts=]</td>")
    assert table.count(row) == 5, table
