"""ONNX Runtime on a device: no node on the CPU unasked, where nodes ran, TensorRT with CUDA
behind it, and a generation's KV cache left on the device (only logits cross to the host).

The GPU paths run against ``ort_fakes.FakeGpu`` (the real API's shape over the CPU session);
the same code on ort-cpu runs for real."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import toy_decoder
from ort_fakes import FakeGpu, FakeSession

from flagbench.api.contracts import Workload
from flagbench.api.errors import FlagbenchError
from flagbench.api.plugins import Registry
from flagbench.api.spec import MeasureConfig, RunSpec
from flagbench.measure.generation import GenerationSession
from flagbench.vendors.onnx_export import export_onnx
from flagbench.vendors.onnxruntime_ep import (
    OrtCpuVendor,
    OrtCudaVendor,
    OrtTensorRTVendor,
    OrtVendor,
)

CUDA, TRT, CPU = "CUDAExecutionProvider", "TensorrtExecutionProvider", "CPUExecutionProvider"
QUICK = MeasureConfig(warmup_s=0.05, min_time_s=0.1, max_time_s=0.5, min_iters=5)


def _mlp(plugin_site: Path, vendor: str = "ort-cuda") -> tuple[Workload, Counter[str]]:
    """tiny-mlp's workload and the op types of its (cached) export."""
    case = Registry.discover().case("tiny-mlp")
    spec = RunSpec(vendor=vendor, case="tiny-mlp", measure=QUICK)
    w = Workload(case=case, spec=spec, model=case.build_model())
    return w, Counter(n.op_type for n in onnx.load(export_onnx(w).path).graph.node)


def test_cuda_runs_every_node_and_says_so(plugin_site: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    w, ops = _mlp(plugin_site)
    gpu = FakeGpu(monkeypatch, {CUDA: None})
    session = OrtCudaVendor().prepare(w)
    (created,) = gpu.created  # fall-back disabled worked at once: one session
    assert [name for name, _ in created["providers"]] == [CUDA]  # the CPU is never listed
    assert created["config"]["session.disable_cpu_ep_fallback"] == "1"
    assert created["kwargs"]["enable_fallback"] == 0
    x = w.case.make_inputs(1, 3)
    (out,) = session.to_numpy(session.run(session.load(x)))
    with torch.inference_mode():
        assert abs(out - w.model(*x).numpy()).max() < 1e-5
    d = session.actual.details
    assert d["nodes_per_provider"] == {CUDA: sum(ops.values())}
    assert d["node_share"] == {CUDA: 1.0} and d["cpu_fallback"].startswith("disabled")
    assert d["cudnn_conv_algo_search"] == "EXHAUSTIVE"  # set, and read back from the session
    assert d["provider_options"][CUDA]["use_tf32"] == "0"  # fp32 means fp32
    assert d["io_binding"] == "cuda"


def test_nodes_the_provider_leaves_to_the_cpu_are_refused_with_their_share(
        plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w, ops = _mlp(plugin_site)
    left = sorted(ops)[0]
    gpu = FakeGpu(monkeypatch, {CUDA: set(ops) - {left}})
    with pytest.raises(FlagbenchError) as refused:
        OrtCudaVendor().prepare(w)
    total = sum(ops.values())
    assert str(refused.value) == (
        f"{CUDA} leaves {ops[left]} of {total} nodes to the CPU "
        f"({left}{'' if ops[left] == 1 else f' ×{ops[left]}'}): refusing a silent fall-back")
    # the diagnosis is a second session with the CPU allowed, after the strict one failed
    _strict, loose = gpu.created
    assert [n for n, _ in loose["providers"]] == [CUDA, CPU]
    assert loose["config"]["session.disable_cpu_ep_fallback"] is None


def test_an_onnxruntime_that_cannot_report_placement_still_refuses_a_fallback(
        plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w, ops = _mlp(plugin_site)
    monkeypatch.delattr(FakeSession, "get_provider_graph_assignment_info")
    FakeGpu(monkeypatch, {CUDA: None})
    d = OrtCudaVendor().prepare(w).actual.details
    assert d["nodes_per_provider"] is None and "not recorded" in d["node_placement"]
    FakeGpu(monkeypatch, {CUDA: set(ops) - {sorted(ops)[0]}})
    with pytest.raises(FlagbenchError, match=f"refused {CUDA} without CPU fall-back "
                       r"\(This session contains graph nodes that are assigned to the default"):
        OrtCudaVendor().prepare(w)


def test_tensorrt_has_cuda_behind_it_and_records_the_split(
        plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w, ops = _mlp(plugin_site, "ort-tensorrt")
    taken = {max(ops, key=lambda op: (ops[op], op))}  # TensorRT claims one op type
    gpu = FakeGpu(monkeypatch, {TRT: taken, CUDA: None})
    d = OrtTensorRTVendor().prepare(w).actual.details
    (created,) = gpu.created
    assert [n for n, _ in created["providers"]] == [TRT, CUDA]  # CUDA second, no CPU
    assert created["providers"][1][1]["use_tf32"] == "0"
    on_trt = sum(ops[op] for op in taken)
    assert d["nodes_per_provider"] == {TRT: on_trt, CUDA: sum(ops.values()) - on_trt}
    assert sum(d["node_share"].values()) == pytest.approx(1.0)
    assert d["providers"] == [TRT, CUDA, CPU] and d["cudnn_conv_algo_search"] == "EXHAUSTIVE"


def test_an_active_provider_given_no_node_is_refused(
        plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w, _ = _mlp(plugin_site, "ort-tensorrt")
    FakeGpu(monkeypatch, {TRT: set(), CUDA: None})
    with pytest.raises(FlagbenchError, match=f"{TRT} is active but was given no node"):
        OrtTensorRTVendor().prepare(w)


def test_tensorrt_needs_the_cuda_provider_too(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeGpu(monkeypatch, {TRT: None})
    probe = OrtTensorRTVendor().probe()
    assert not probe.available and f"has no {CUDA}" in probe.reason


def test_a_real_provider_that_takes_nothing_is_refused(plugin_site: Path) -> None:
    # onnxruntime's own Azure provider claims no node here: the real strict session fails,
    # and the real placement says the CPU would have run the whole graph.
    if "AzureExecutionProvider" not in ort.get_available_providers():
        pytest.skip("this onnxruntime has no AzureExecutionProvider")

    class AzureVendor(OrtVendor):
        provider = "AzureExecutionProvider"

    w, _ = _mlp(plugin_site, "ort-cpu")
    with pytest.raises(FlagbenchError, match=r"leaves (\d+) of \1 nodes to the CPU"):
        AzureVendor().prepare(w)


def test_cpu_sessions_record_their_placement(plugin_site: Path) -> None:
    w, _ = _mlp(plugin_site, "ort-cpu")
    d = OrtCpuVendor().prepare(w).actual.details
    assert set(d["nodes_per_provider"]) == {CPU} and d["nodes_per_provider"][CPU] >= 1
    assert d["node_share"] == {CPU: 1.0} and d["cpu_fallback"].startswith("none")
    assert "cudnn_conv_algo_search" not in d  # no cuDNN here


class HostOrtVendor(OrtCpuVendor):
    """ort-cpu without IO binding: numpy in, numpy out (the path of the other providers)."""

    bind_device = None


def _generation(vendor: OrtVendor, tmp_path: Path, batch: int, prompt: int,
                new_tokens: int) -> GenerationSession:
    prefill, step = toy_decoder.build(tmp_path, batch, prompt, new_tokens)
    return GenerationSession(vendor.open(prefill, "fp32", ("input_ids",)),
                             vendor.open(step, "fp32", ("token", "position", "cache")),
                             new_tokens)


@pytest.mark.parametrize("vendor", [OrtCpuVendor(), HostOrtVendor()], ids=["bound", "host"])
def test_generation_carries_the_cache_on_the_cpu(tmp_path: Path, vendor: OrtVendor) -> None:
    prompt = torch.tensor([[1, 2, 3], [2, 2, 4]])
    gen = _generation(vendor, tmp_path, 2, 3, 5)
    assert gen.actual.details["state_transfer"] == "carry (left on the device)"
    loaded = gen.load([prompt])
    for _ in range(2):  # the prefill binding is reused: its outputs are overwritten in place
        out = gen.generate(loaded)
        np.testing.assert_array_equal(out.tokens, toy_decoder.expected_tokens(prompt.numpy(), 5))
    gen.close()


def test_generation_on_the_gpu_copies_only_tokens_in_and_logits_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = FakeGpu(monkeypatch, {CUDA: None})
    batch, prompt_len, new = 2, 3, 6
    prompt = torch.tensor([[1, 2, 3], [2, 2, 4]])
    gen = _generation(OrtCudaVendor(), tmp_path, batch, prompt_len, new)
    loaded = gen.load([prompt])
    assert gpu.h2d == [batch * prompt_len * 8]  # the prompt, int64
    gpu.h2d.clear()
    for _ in range(2):
        out = gen.generate(loaded)
        np.testing.assert_array_equal(out.tokens,
                                      toy_decoder.expected_tokens(prompt.numpy(), new))
    # per request: prefill and new - 1 steps; each step sends its token [B, 1] and position
    # [1] (int64), and each run returns only its logits [B, V] (float32): never the cache
    assert gpu.runs == 2 * new
    assert gpu.h2d == 2 * (new - 1) * [batch * 8, 8]
    assert gpu.d2h == 2 * new * [batch * toy_decoder.VOCAB * 4]


def test_the_device_option_puts_the_session_and_its_buffers_on_that_gpu(
        plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w, _ = _mlp(plugin_site)
    gpu = FakeGpu(monkeypatch, {CUDA: None})
    vendor = OrtCudaVendor().with_options({"device": 1})
    assert OrtCudaVendor().cuda_index == 0  # a configured copy
    session = vendor.prepare(w)
    (created,) = gpu.created
    assert created["providers"][0][1]["device_id"] == "1"
    session.run(session.load(w.case.make_inputs(1, 3)))
    assert gpu.device_ids == {1}  # every input and output buffer on device 1
    trt = OrtTensorRTVendor().with_options({"device": 2}).providers("fp32")
    assert [opts["device_id"] for _, opts in trt] == [2, "2"]
