"""The TT-Buda adapter against a fake ``pybuda`` with the real API's shape (no card here)."""

from __future__ import annotations

import copy
import enum
import queue
import subprocess
import sys
import types
from typing import Any

import numpy as np
import pytest
import torch

from flagbench.api.contracts import Session, Vendor, Workload
from flagbench.api.spec import RunSpec
from flagbench.vendors.ttbuda import TTBudaVendor


class DataFormat(enum.Enum):
    """Members of ``pybuda._C.DataFormat`` (a pybind11 enum: members carry ``.name``)."""

    Float32 = 0
    Float16 = 1
    Float16_b = 2
    Int8 = 3


class BackendDevice(enum.Enum):
    """Members of ``pybuda._C.backend_api.BackendDevice``."""

    Grayskull = 0
    Wormhole_B0 = 1


class FakeTensor:
    """A ``pybuda.Tensor`` off the output queue: ``value()`` gives the torch tensor."""

    def __init__(self, value: torch.Tensor) -> None:
        self._value = value

    def value(self) -> torch.Tensor:
        return self._value


def fake_pybuda(chips: list[BackendDevice]) -> Any:
    """A pybuda that runs the placed torch module on the CPU at the configured data format."""
    pb: Any = types.ModuleType("pybuda")
    pb.__version__ = "0.19.3"
    pb.DataFormat, pb.BackendDevice = DataFormat, BackendDevice
    pb.options, pb.devices, pb.calls, pb.compiled, pb.failed = {}, [], [], [], False
    pb.config = types.ModuleType("pybuda.config")
    pb.config.set_configuration_options = lambda **kw: pb.options.update(kw)
    pb.detect_available_devices = lambda: list(chips)
    pb.error_raised = lambda: pb.failed

    class PyTorchModule:
        def __init__(self, name: str, module: torch.nn.Module) -> None:
            self.name, self.module = name, module

    class TTDevice:
        def __init__(self, name: str, module: PyTorchModule | None = None,
                     fp32_fallback: DataFormat = DataFormat.Float16_b, **_: Any) -> None:
            self.name, self.fp32_fallback, self.arch = name, fp32_fallback, None
            self.modules = [module] if module else []
            self.inputs: queue.Queue[tuple[torch.Tensor, ...]] = queue.Queue()
            pb.devices.append(self)

        def push_to_inputs(self, *tensors: Any) -> None:
            if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
                tensors = tuple(tensors[0])
            self.inputs.put(tensors)

    def initialize_pipeline(training: bool, sample_inputs: tuple[torch.Tensor, ...] = (),
                            **_: Any) -> queue.Queue[list[FakeTensor]]:
        assert not training and len(pb.devices) == 1
        (device,) = pb.devices
        dtype = torch.bfloat16 if pb.options.get("default_df_override") is DataFormat.Float16_b \
            else torch.float32
        pb.net = copy.deepcopy(device.modules[0].module).to(dtype)
        pb.dtype, pb.output_q, device.arch = dtype, queue.Queue(), chips[0]
        pb.compiled.append([tuple(t.shape) for t in sample_inputs])
        return pb.output_q

    def run_forward(input_count: int = 1, _sequential: bool = False) -> None:
        for _ in range(input_count):
            inputs = pb.devices[0].inputs.get()
            if pb.failed:
                return
            with torch.no_grad():
                out = pb.net(*(t.to(pb.dtype) for t in inputs))
            pb.output_q.put([FakeTensor(o) for o in (out if isinstance(out, tuple) else (out,))])

    def pybuda_reset() -> None:
        pb.devices.clear()
        pb.options.clear()
        pb.calls.append("reset")

    pb.PyTorchModule, pb.TTDevice = PyTorchModule, TTDevice
    pb.initialize_pipeline, pb.run_forward, pb.pybuda_reset = (
        initialize_pipeline, run_forward, pybuda_reset)
    pb.shutdown = lambda: pb.calls.append("shutdown")
    return pb


class LinearCase:
    """A tiny case: ``Linear(4, 3)`` on random rows."""

    name = "tiny-linear"
    description = "one linear layer"
    task = "regression"

    def build_model(self) -> torch.nn.Module:
        torch.manual_seed(0)
        return torch.nn.Linear(4, 3).eval()

    def make_inputs(self, batch_size: int, seed: int) -> tuple[torch.Tensor, ...]:
        return (torch.randn(batch_size, 4, generator=torch.Generator().manual_seed(seed)),)


def install(monkeypatch: pytest.MonkeyPatch, chips: list[BackendDevice]) -> Any:
    pb = fake_pybuda(chips)
    monkeypatch.setitem(sys.modules, "pybuda", pb)
    return pb


def test_probe_without_pybuda_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pybuda", None)  # makes `import pybuda` raise ImportError
    probe = TTBudaVendor().probe()
    assert not probe.available
    assert "pybuda is not installed" in probe.reason and "TT-Forge" in probe.reason


def test_probe_without_a_card_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, [])
    probe = TTBudaVendor().probe()
    assert not probe.available
    assert "no Tenstorrent device" in probe.reason


def test_probe_with_a_card(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, [BackendDevice.Wormhole_B0, BackendDevice.Wormhole_B0])
    probe = TTBudaVendor().probe()
    assert probe.available
    assert probe.devices == ("wormhole_b0:0", "wormhole_b0:1")
    assert probe.versions == {"pybuda": "0.19.3"}
    assert probe.precisions == ("fp32", "bf16")
    assert {"fp16", "tf32", "int8"} <= set(probe.unsupported)


@pytest.mark.parametrize(("precision", "data_format", "atol"),
                         [("fp32", DataFormat.Float32, 1e-6), ("bf16", DataFormat.Float16_b, 3e-2)])
def test_session_runs_the_model(monkeypatch: pytest.MonkeyPatch, precision: str,
                                data_format: DataFormat, atol: float) -> None:
    pb = install(monkeypatch, [BackendDevice.Wormhole_B0])
    vendor = TTBudaVendor()
    assert isinstance(vendor, Vendor)
    case = LinearCase()
    model = case.build_model()
    spec = RunSpec(vendor="ttbuda", case="x", precision=precision, batch_size=2)
    session = vendor.prepare(Workload(case=case, spec=spec, model=model))
    assert isinstance(session, Session)

    # Compiled during prepare, from the case's own inputs, at the requested data format.
    assert pb.compiled == [[(2, 4)]]
    assert pb.options["default_df_override"] is data_format
    assert pb.devices[0].fp32_fallback is data_format
    assert session.actual.device == "wormhole_b0:0"
    assert session.actual.precision == precision
    assert session.actual.details["data_format"] == data_format.name
    assert session.actual.details["arch"] == "Wormhole_B0"

    # Two runs in flight, one synchronize: each result goes back to its own run.
    batches = [case.make_inputs(2, seed) for seed in (1, 2)]
    pending = [session.run(session.load(b)) for b in batches]
    session.synchronize()
    for batch, handle in zip(batches, pending, strict=True):
        (out,) = session.to_numpy(handle)
        assert out.dtype == np.float32 and out.shape == (2, 3)
        with torch.no_grad():
            np.testing.assert_allclose(out, model(*batch).numpy(), atol=atol, rtol=0)

    session.close()
    assert pb.calls[-2:] == ["shutdown", "reset"] and pb.devices == []


def test_device_error_fails_instead_of_hanging(monkeypatch: pytest.MonkeyPatch) -> None:
    pb = install(monkeypatch, [BackendDevice.Grayskull])
    case = LinearCase()
    spec = RunSpec(vendor="ttbuda", case="x", precision="bf16")
    session = TTBudaVendor().prepare(Workload(case=case, spec=spec, model=case.build_model()))
    pb.failed = True
    session.run(session.load(case.make_inputs(1, 0)))
    with pytest.raises(RuntimeError, match="device error"):
        session.synchronize()


def test_importing_the_adapter_stays_light() -> None:
    code = ("import sys, flagbench.vendors.ttbuda; "
            "print('torch' in sys.modules, 'pybuda' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
