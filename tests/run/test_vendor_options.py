"""Vendor options: declared by the vendor, checked in the plan, part of the cell, stored; the
torch vendors' compile modes compile in set-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from flagbench.api.contracts import Workload
from flagbench.api.errors import FlagbenchError
from flagbench.api.plugins import Registry
from flagbench.api.spec import RunSpec
from flagbench.run.plan import Request, build_plan
from flagbench.store import Store
from flagbench.vendors import torch_eager
from flagbench.vendors.torch_eager import CpuVendor, CudaVendor


def _plan(**vendor_options: dict[str, str]) -> list[RunSpec]:
    return build_plan(Request(vendors=("cpu",), cases=("tiny-mlp",),
                              vendor_options=vendor_options), Registry.discover())


def test_only_options_off_their_default_name_the_cell(plugin_site: Path) -> None:
    (default,) = _plan()
    (same,) = _plan(cpu={"mode": "eager"})  # the default, given: the same cell
    (compiled,) = _plan(cpu={"mode": "inductor"})
    assert default.vendor_options == same.vendor_options == ()
    assert compiled.vendor_options == (("mode", "inductor"),)
    assert default.cell == same.cell != compiled.cell
    assert compiled.vendor_label == "cpu[mode=inductor]"
    assert compiled.label.startswith("cpu[mode=inductor] × tiny-mlp")


@pytest.mark.parametrize(("given", "error"), [
    ({"cpu": {"mode": "jit"}}, "vendor option mode='jit': choose from eager, inductor"),
    ({"cpu": {"speed": "1"}}, "vendor 'cpu' has no option 'speed' (its options: mode)"),
    ({"cuda": {"device": "1"}}, "--vendor-option names vendor 'cuda', which is not being run"),
])
def test_bad_vendor_options_are_refused_before_anything_runs(
        plugin_site: Path, given: dict[str, dict[str, str]], error: str) -> None:
    with pytest.raises(FlagbenchError, match=error.replace("(", r"\(").replace(")", r"\)")):
        _plan(**given)


def test_cuda_declares_its_device_and_tuning() -> None:
    options = CudaVendor().options
    assert options["device"].default == 0 and options["cudnn_benchmark"].default is True
    assert options["mode"].choices == ("eager", "inductor", "cudagraphs")
    with pytest.raises(FlagbenchError, match="must be ≥ 0"):
        options["device"].parse("device", "-1", "vendor option")


class _Recorder(torch.nn.Module):
    """Stands in for a compiled module: records each call's input shapes."""

    def __init__(self, inner: torch.nn.Module, calls: list[Any]) -> None:
        super().__init__()
        self.inner, self.calls = inner, calls

    def forward(self, *args: torch.Tensor) -> Any:
        self.calls.append([tuple(a.shape) for a in args])
        return self.inner(*args)


def test_a_compiled_mode_compiles_in_set_up_with_the_cases_inputs(
        plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    backends: list[str] = []

    def fake_compile(model: torch.nn.Module, backend: str) -> torch.nn.Module:
        backends.append(backend)
        return _Recorder(model, calls)

    monkeypatch.setattr(torch, "compile", fake_compile)
    case = Registry.discover().case("tiny-mlp")
    spec = RunSpec(vendor="cpu", case="tiny-mlp", batch_size=3,
                   vendor_options=(("mode", "inductor"),))
    vendor = CpuVendor().with_options({"mode": "inductor"})
    session = vendor.prepare(Workload(case=case, spec=spec, model=case.build_model()))
    assert backends == ["inductor"]
    assert calls == [[tuple(t.shape) for t in case.make_inputs(3, 0)]]  # the lazy first call
    assert session.actual.details["compile_s"] >= 0
    assert session.actual.details["mode"] == "torch.compile(backend='inductor'), inference_mode"
    assert CpuVendor().mode == "eager"  # with_options configured a copy


def test_cudagraphs_refuses_a_generation_case(plugin_site: Path) -> None:
    registry = Registry.discover()
    case = registry.case("gpt-decode-2l")
    spec = RunSpec(vendor="cpu", case="gpt-decode-2l")
    vendor = CpuVendor()
    vendor.mode = "cudagraphs"
    with pytest.raises(FlagbenchError, match="mode=cudagraphs cannot run a generation case"):
        vendor.prepare(Workload(case=case, spec=spec, model=case.build_model()))


def test_a_vendor_option_is_its_own_report_column_and_is_stored(
        flagbench: Any, quick: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Real torch.compile (dynamo tracing), with its plain "eager" backend standing in for
    # inductor: inductor's C++ build takes about 30 s here, a cost the lines tested share.
    monkeypatch.setitem(torch_eager.COMPILE_BACKENDS, "inductor", "eager")
    db = tmp_path / "v.db"
    for extra in ([], ["-O", "mode=inductor"]):
        out = flagbench("run", "--vendor", "cpu", "--case", "tiny-mlp", "--db", str(db),
                        *quick, *extra)
        assert out.returncode == 0, out.stderr
    store = Store.open(str(db), create=False)
    compiled, eager = store.runs()
    store.close()
    assert compiled.status == eager.status == "ok"
    assert compiled.vendor == "cpu" and compiled.vendor_label == "cpu[mode=inductor]"
    assert compiled.environment["vendor_options"] == {"mode": "inductor"}
    assert eager.environment["vendor_options"] == {"mode": "eager"}
    assert compiled.actual is not None and compiled.actual["details"]["compile_s"] > 0
    assert compiled.metric("setup_s") >= compiled.actual["details"]["compile_s"]  # type: ignore[operator]
    report = tmp_path / "r.html"
    out = flagbench("report", "--db", str(db), "--out", str(report))
    assert out.returncode == 0, out.stderr
    html = report.read_text()
    assert "cpu[mode=inductor]" in html and ">cpu<" in html
    out = flagbench("list", "vendors")
    assert "mode=eager" in out.stdout
