"""Serving runs end to end: `flagbench run --vendor openai --case llm-serve` against a scripted
OpenAI-compatible server with known timings, stored and reported like every run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scripted_sse import Reply, ScriptedServer, models, steady

from seeding import stored_runs

SERVE_QUICK = ["--warmup", "0", "--min-time", "0.5", "--max-time", "2", "--min-iters", "5",
               "--target-ci", "0", "--no-isolate"]


def _engine(request: dict[str, Any]) -> Reply:
    if request["_path"] == "/v1/models":
        return models("tiny-llama")
    # TTFT 50 ms, then one token every 10 ms, as many as asked for.
    return steady(0.05, 0.01, chunks=request["max_tokens"] - 1, per_chunk=1)


@pytest.fixture
def engine() -> Iterator[ScriptedServer]:
    server = ScriptedServer(_engine)
    yield server
    server.close()



def test_latency_and_server_runs_store_the_serving_figures(
        flagbench: Any, engine: ScriptedServer, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    out = flagbench("run", "--vendor", "openai", "-O", f"endpoint={engine.url}",
                    "--case", "llm-serve", "-o", "output_tokens=6", "-o", "input_tokens=4",
                    "--scenario", "latency,server", "--target-qps", "20", "--db", str(db),
                    *SERVE_QUICK)
    assert out.returncode == 0, out.stdout + out.stderr
    server_run, latency_run = stored_runs(db)
    for run in (latency_run, server_run):
        assert run.status == "ok", run.reason
        assert run.actual["device"] == "tiny-llama"
        assert run.actual["details"]["token_count"] == ["logprobs"]
        assert run.metric("output_tokens_mean") == 6
        assert run.metric("request_errors") == 0
        assert run.metric("ttft_median_s") == pytest.approx(0.05, rel=0.5)
        assert run.metric("itl_median_s") == pytest.approx(0.01, rel=0.5)
        assert run.metric("tpot_median_s") == pytest.approx(0.01, rel=0.5)
    # 5 tokens after the first, 10 ms apart: E2E is TTFT + 50 ms, one request at a time.
    assert latency_run.metric("latency_median_s") == pytest.approx(0.1, rel=0.5)
    assert server_run.metric("server_target_qps") == 20
    assert 0 < server_run.metric("server_achieved_qps") <= 40
    asked = [r for r in engine.requests if r["_path"] == "/v1/completions"]
    assert {r["max_tokens"] for r in asked} == {6} and asked[0]["stream"] is True
    assert asked[0]["min_tokens"] == 6 and asked[0]["logprobs"] == 1
    assert asked[0]["prompt"].count(" ") == 3  # four words: about four tokens
    report = tmp_path / "r.html"
    out = flagbench("report", "--db", str(db), "--out", str(report))
    assert out.returncode == 0, out.stderr
    html = report.read_text()
    assert 'id="streaming-table"' in html and "tiny-llama" not in html.split("streaming")[0]
    row = (f"<td>openai[endpoint={engine.url}]</td><td>llm-serve[input_tokens=4,"
           "output_tokens=6,prompts=]</td>")
    table = html[html.index('id="streaming-table"'):].split("</table>")[0]
    assert table.count(row) == 2, table


@pytest.mark.parametrize(("options", "reason"), [
    (["model=gpt-9"], "model 'gpt-9' is not served at"),
    (["endpoint=http://127.0.0.1:9"], "cannot be reached"),
])
def test_a_server_that_cannot_serve_the_run_is_a_failed_run_with_the_reason(
        flagbench: Any, engine: ScriptedServer, tmp_path: Path, options: list[str],
        reason: str) -> None:
    db = tmp_path / "f.db"
    given = dict(o.split("=", 1) for o in [f"endpoint={engine.url}", *options])
    vendor_options = [a for k, v in given.items() for a in ("-O", f"{k}={v}")]
    out = flagbench("run", "--vendor", "openai", *vendor_options,
                    "--case", "llm-serve", "--db", str(db), *SERVE_QUICK)
    (run,) = stored_runs(db)
    assert run.status == "failed" and reason in run.reason, run.reason
    assert out.returncode != 0


@pytest.mark.parametrize(("args", "error"), [
    (["--vendor", "openai", "-O", "endpoint=ftp://x", "--case", "llm-serve"],
     "endpoint='ftp://x': expected http(s)://HOST[:PORT]"),
    (["--vendor", "cpu", "--case", "llm-serve"], "cpu cannot run llm-serve"),
    (["--vendor", "openai", "-O", "endpoint=http://h", "--case", "resnet50"],
     "openai cannot run resnet50"),
    (["--vendor", "openai", "-O", "endpoint=http://h", "--case", "llm-serve", "-o",
      "output_tokens=9-3"], "output_tokens='9-3'"),
])
def test_bad_serving_input_is_one_line_and_nothing_stored(
        flagbench: Any, tmp_path: Path, args: list[str], error: str) -> None:
    db = tmp_path / "b.db"
    out = flagbench("run", *args, "--db", str(db), *SERVE_QUICK)
    assert out.returncode == 2 and error in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not db.exists()


def test_a_server_that_fails_every_request_ends_the_run_early_as_failed(
        flagbench: Any, tmp_path: Path) -> None:
    def broken(request: dict[str, Any]) -> Reply:
        if request["_path"] == "/v1/models":
            return models("m")
        return Reply([(0.0, b"overloaded")], status="503 Service Unavailable",
                     content_type="text/plain")

    server = ScriptedServer(broken)
    try:
        db = tmp_path / "e.db"
        out = flagbench("run", "--vendor", "openai", "-O", f"endpoint={server.url}",
                        "--case", "llm-serve", "--db", str(db), "--max-time", "30",
                        *SERVE_QUICK[:2], "--min-time", "0.5", "--min-iters", "5",
                        "--target-ci", "0", "--no-isolate")
        (run,) = stored_runs(db)
        assert out.returncode != 0
        assert run.status == "failed"
        assert run.reason == "5 of 5 requests failed; the first: HTTP 503: overloaded"
        assert run.environment["serving"]["completed"] == 0
    finally:
        server.close()


def test_a_concurrency_sweep_is_one_cell_per_value_with_goodput(
        flagbench: Any, engine: ScriptedServer, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    out = flagbench("run", "--vendor", "openai", "-O", f"endpoint={engine.url}",
                    "--case", "llm-serve", "-o", "output_tokens=4", "--scenario", "throughput",
                    "--concurrency", "1,4", "--slo", "ttft_ms=10000,tpot_ms=10000",
                    "--db", str(db), *SERVE_QUICK)
    assert out.returncode == 0, out.stdout + out.stderr
    runs = {r.spec["concurrency"]: r for r in stored_runs(db)}
    assert set(runs) == {1, 4}
    for c, run in runs.items():
        assert run.status == "ok", run.reason
        assert run.metric("request_errors") == 0
        # Bounds no stall of a busy test machine reaches: every request meets them, so
        # goodput is the completion rate (the bounds' arithmetic is test_openai_stream's).
        assert run.metric("slo_met_share") == 1.0
        assert run.metric("goodput_rps") == pytest.approx(
            run.metric("requests_completed") / run.metric("loop_s"))
        assert f"throughput@c{c}" in out.stdout or "throughput" in out.stdout
    # Four in flight against a server that overlaps them serves about four times the rate.
    assert runs[4].metric("throughput_sps") > 2 * runs[1].metric("throughput_sps")


@pytest.mark.parametrize(("args", "error"), [
    (["--scenario", "throughput"], "give --concurrency N[,N…]"),
    (["--scenario", "latency", "--concurrency", "2"], "--concurrency applies to --scenario "
     "throughput"),
    (["--slo", "ttft=5"], "expected NAME_ms=VALUE"),
    (["--slo", "ttft_ms=nan"], "above 0 and finite"),
    (["--slo", "speed_ms=5"], "SLO speed="),
])
def test_bad_load_options_are_one_line(flagbench: Any, tmp_path: Path, args: list[str],
                                       error: str) -> None:
    db = tmp_path / "b.db"
    out = flagbench("run", "--vendor", "openai", "-O", "endpoint=http://h", "--case",
                    "llm-serve", *args, "--db", str(db), *SERVE_QUICK)
    assert out.returncode == 2 and error in out.stderr, out.stderr
    assert not db.exists()


def test_a_client_that_fell_behind_or_ran_hot_is_warned_about() -> None:
    from flagbench.api.spec import RunSpec
    from flagbench.measure.serving import ServingWindow
    from flagbench.measure.stream import Chunk, StreamRecord
    from flagbench.run.serving import client_warnings

    def window(late_s: float, cpu_s: float) -> ServingWindow:
        records = tuple(StreamRecord(i * 0.1, i * 0.1 + late_s, (Chunk(i * 0.1 + 0.05, 1),))
                        for i in range(20))
        return ServingWindow(records, (), 2.0, "max_time", 10.0, cpu_s)

    spec = RunSpec(vendor="openai", case="llm-serve", scenario="server", target_qps=10.0)
    assert client_warnings(window(0.0, 0.2), spec) == []
    (late,) = client_warnings(window(0.02, 0.2), spec)
    assert "20.0 ms after their scheduled arrival" in late
    (hot,) = client_warnings(window(0.0, 1.8), spec)
    assert "0.90 CPUs" in hot and "bottleneck" in hot


def test_the_api_key_is_sent_from_its_variable_and_never_stored(
        flagbench: Any, engine: ScriptedServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FB_TEST_KEY", "sk-very-secret-123")
    db = tmp_path / "k.db"
    out = flagbench("run", "--vendor", "openai", "-O", f"endpoint={engine.url}",
                    "-O", "api_key_env=FB_TEST_KEY", "--case", "llm-serve", "-o",
                    "output_tokens=3", "--db", str(db), *SERVE_QUICK)
    assert out.returncode == 0, out.stderr
    assert {r["_authorization"] for r in engine.requests} == {"Bearer sk-very-secret-123"}
    for stored in tmp_path.glob("k.db*"):  # the database and any WAL beside it
        assert b"sk-very-secret-123" not in stored.read_bytes()
    assert "sk-very-secret-123" not in out.stdout + out.stderr
    monkeypatch.delenv("FB_TEST_KEY")
    out = flagbench("run", "--vendor", "openai", "-O", f"endpoint={engine.url}",
                    "-O", "api_key_env=FB_TEST_KEY", "--case", "llm-serve", "--db", str(db),
                    *SERVE_QUICK)
    failed = stored_runs(db)[0]
    assert failed.status == "failed" and "FB_TEST_KEY: that variable is not set" in failed.reason
