"""The micro cases: gemm's FLOPs are 2n³, membw's bytes are read + written, both give peaks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from flagbench.api.plugins import Registry
from flagbench.api.spec import MeasureConfig
from flagbench.cases.gemm import GemmCase, gemm_flops
from flagbench.cases.membw import MembwCase
from flagbench.run.plan import Request, build_plan
from flagbench.run.runner import Runner
from flagbench.store import Store

FAST = MeasureConfig(warmup_s=0, min_time_s=0, min_iters=3, target_ci=0)


def test_gemm_computes_a_matmul_and_counts_2n3_flops() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    case = GemmCase().with_options({"size": 48})
    a, b = case.make_inputs(3, 0)
    assert a.shape == b.shape == (3, 48, 48)
    with FlopCounterMode(display=False) as counter:
        c = case.build_model()(a, b)
    assert torch.allclose(c, torch.bmm(a, b))
    assert counter.get_total_flops() == 3 * gemm_flops(48) == 3 * 2 * 48**3


def test_membw_copies_and_counts_bytes_read_and_written() -> None:
    case = MembwCase().with_options({"size_mb": 2})
    (x,) = case.make_inputs(2, 0)
    assert x.shape == (2, 500_000) and x.dtype == torch.float32  # 2 MB of float32 per sample
    y = case.build_model()(x)
    assert torch.equal(x, y) and y.data_ptr() != x.data_ptr()
    assert case.bytes_moved("fp32") == 2 * 2e6
    assert case.bytes_moved("bf16") == 2 * 1e6
    assert case.bytes_moved("int8") is None


def _run(case: str, vendor: str, options: dict[str, str]) -> dict[str, float]:
    registry = Registry.discover()
    (spec,) = build_plan(Request(vendors=(vendor,), cases=(case,), batch_sizes=(2,),
                                 measure=FAST, case_options={case: options}), registry)
    result = Runner(registry).run(spec)
    assert result.status.value == "ok", result.reason
    assert result.environment["peak_probe"] == ("flops" if case == "gemm" else "bytes")
    metrics = {m.name: m.value for m in result.metrics()}
    assert result.throughput is not None
    metrics["throughput"] = result.throughput
    return metrics


@pytest.mark.parametrize("vendor", ["cpu", "ort-cpu"])
def test_gemm_achieved_flops(vendor: str) -> None:
    m = _run("gemm", vendor, {"size": "64"})
    assert m["flops_per_sample"] == 2 * 64**3
    assert m["achieved_flops"] == pytest.approx(2 * 64**3 * m["throughput"])
    assert "achieved_bytes_per_s" not in m


@pytest.mark.parametrize("vendor", ["cpu", "ort-cpu"])
def test_membw_achieved_bandwidth(vendor: str) -> None:
    m = _run("membw", vendor, {"size_mb": "1"})
    assert m["bytes_per_sample"] == 2 * 1e6
    assert m["achieved_bytes_per_s"] == pytest.approx(2e6 * m["throughput"])
    assert "achieved_flops" not in m  # a copy does no arithmetic


def test_show_states_measured_peaks(flagbench, quick, tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    for size in ("32", "96"):
        out = flagbench("run", "--vendor", "cpu", "--case", "gemm", "-o", f"size={size}",
                        "--db", str(db), *quick)
        assert out.returncode == 0, out.stderr
        assert "FLOP/s" in out.stdout
    out = flagbench("run", "--vendor", "cpu", "--case", "tiny-mlp", "--db", str(db), *quick)
    assert out.returncode == 0, out.stderr
    store = Store.open(str(db), create=False)
    runs = {(r.case, r.spec["options"][0][1] if r.spec["options"] else None): r
            for r in store.runs()}
    store.close()
    best = max((runs[("gemm", 32)], runs[("gemm", 96)]),
               key=lambda r: r.metric("achieved_flops") or 0)
    tiny = runs[("tiny-mlp", "relu")]
    show = flagbench("show", str(tiny.id), "--db", str(db))
    assert show.returncode == 0, show.stderr
    assert "% of peak" in show.stdout
    assert f"measured: best gemm[size={best.spec['options'][0][1]}] bs1 run (#{best.id})" in (
        " ".join(show.stdout.split()))
