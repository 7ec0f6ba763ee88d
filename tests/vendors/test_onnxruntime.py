"""ONNX Runtime vendors: probe, export cache, provider check, fp32 and static int8."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from flagbench.api.contracts import Workload
from flagbench.api.errors import FlagbenchError
from flagbench.api.plugins import Registry
from flagbench.api.spec import MeasureConfig, RunSpec
from flagbench.run.runner import Runner
from flagbench.store import Store
from flagbench.vendors.onnx_export import export_onnx
from flagbench.vendors.onnxruntime_ep import OrtCpuVendor, OrtCudaVendor
from flagbench.vendors.torch_eager import CudaVendor

QUICK = MeasureConfig(warmup_s=0.05, min_time_s=0.1, max_time_s=0.5, min_iters=5)


def _workload(plugin_site: Path, precision: str = "fp32") -> Workload:
    case = Registry.discover().case("tiny-mlp")
    spec = RunSpec(vendor="ort-cpu", case="tiny-mlp", precision=precision, measure=QUICK)
    return Workload(case=case, spec=spec, model=case.build_model())


def test_probes_say_which_providers_exist() -> None:
    cpu = OrtCpuVendor().probe()
    assert cpu.available and cpu.precisions == ("fp32", "int8")
    assert "fp16" in cpu.unsupported
    cuda = OrtCudaVendor().probe()
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert not cuda.available
        assert "has no CUDAExecutionProvider" in cuda.reason
        assert "CPUExecutionProvider" in cuda.reason  # and says what it does offer


def test_export_is_cached_and_keyed_by_weights(plugin_site: Path) -> None:
    w = _workload(plugin_site)
    first, second = export_onnx(w), export_onnx(w)
    assert not first.cached and second.cached and first.path == second.path
    assert first.path.parent == Path(os.environ["FLAGBENCH_CACHE"]) / "onnx"
    with torch.no_grad():
        w.model[0].weight.add_(1.0)
    changed = export_onnx(w)
    assert changed.path != first.path and not changed.cached


def test_fp32_session_matches_torch_and_records_what_ran(plugin_site: Path) -> None:
    w = _workload(plugin_site)
    session = OrtCpuVendor().prepare(w)
    x = w.case.make_inputs(1, 3)  # exports have static shapes: the spec's batch size
    (out,) = session.to_numpy(session.run(session.load(x)))
    with torch.inference_mode():
        ref = w.model(*x).numpy()
    assert abs(out - ref).max() < 1e-5
    details = session.actual.details
    assert details["providers"] == ["CPUExecutionProvider"]
    assert details["graph_optimization_level"] == "ORT_ENABLE_ALL"
    assert "session_create_s" in details and "export_s" in details


def test_silent_fallback_to_cpu_is_refused(plugin_site: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this host really has the CUDA provider")
    w = _workload(plugin_site)
    with pytest.raises(FlagbenchError, match="refusing a silent fall-back"):
        OrtCudaVendor().prepare(w)


def test_int8_static_qdq_runs_and_stays_close(plugin_site: Path) -> None:
    result = Runner(Registry.discover()).run(
        RunSpec(vendor="ort-cpu", case="tiny-mlp", precision="int8", measure=QUICK))
    assert result.status.value == "ok", result.reason
    assert result.actual is not None and result.actual.precision == "int8"
    q = result.actual.details["quantization"]
    assert (q["format"], q["activations"], q["weights"], q["per_channel"]) == (
        "QDQ", "QUInt8", "QInt8", True)
    assert result.actual.details["model"].startswith("tiny-mlp-bs1-int8-")
    assert result.fidelity is not None and result.fidelity.cosine > 0.9
    assert result.fidelity.max_abs_err > 0  # quantised: not bit-identical to the reference


def test_matrix_of_vendors_and_precisions(flagbench, quick, tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    out = flagbench("run", "--vendor", "cpu,ort-cpu,cuda,ttbuda", "--case", "tiny-mlp",
                    "--precision", "fp32,int8", "--db", str(db), *quick)
    assert out.returncode == 0, out.stderr + out.stdout
    store = Store.open(str(db), create=False)
    got = {(r.vendor, r.precision): r for r in store.runs()}
    store.close()
    ok = {k for k, r in got.items() if r.status == "ok"}
    gpu = CudaVendor().probe().available  # on a GPU host cuda runs fp32 instead of skipping
    assert ok == {("cpu", "fp32"), ("ort-cpu", "fp32"), ("ort-cpu", "int8"),
                  *([("cuda", "fp32")] if gpu else [])}
    skipped = {k: r.reason for k, r in got.items() if r.status == "skipped"}
    assert set(skipped) == {("cpu", "int8"), ("cuda", "int8"), ("ttbuda", "fp32"),
                            ("ttbuda", "int8"), *([] if gpu else [("cuda", "fp32")])}
    assert "pybuda is not installed" in skipped[("ttbuda", "fp32")]
    assert "cpu cannot run int8" in skipped[("cpu", "int8")]
    html = tmp_path / "v.html"
    assert flagbench("report", "--db", str(db), "--out", str(html)).returncode == 0
    page = html.read_text()
    assert page.count('<tr class="run"') == 8 and page.count("status-skipped") >= 5


def test_a_corrupt_export_is_exported_again_and_the_key_has_every_version(
        plugin_site: Path) -> None:
    from importlib.metadata import version

    import onnx

    w = _workload(plugin_site)
    first = export_onnx(w)
    for package in ("torch", "onnxscript", "onnx", "onnxruntime"):
        assert first.details[package] == (torch.__version__ if package == "torch"
                                          else version(package))
    first.path.write_bytes(first.path.read_bytes()[:-10])  # a truncated copy
    again = export_onnx(w)
    assert not again.cached and again.path == first.path
    onnx.checker.check_model(onnx.load(again.path))
    assert export_onnx(w).cached
