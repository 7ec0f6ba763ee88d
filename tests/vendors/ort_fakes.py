"""A GPU build of onnxruntime for a host without one: the real API's names and behaviour
(provider lists, the CPU fall-back and its config keys, node placement, IO binding, OrtValues
on a device) over the real CPU session, with every host-device copy counted in bytes."""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest

CPU = "CPUExecutionProvider"
REAL_SESSION = ort.InferenceSession
DEFAULT_OPTIONS = {"CUDAExecutionProvider": {"device_id": "0", "use_tf32": "1",
                                             "cudnn_conv_algo_search": "EXHAUSTIVE"}}


class Fail(Exception):
    """onnxruntime's ``Fail`` and ``InvalidArgument``: plain Exceptions, not RuntimeErrors."""


class DeviceValue:
    """An OrtValue: an array on ``device``; reading a device one to the host is a copy."""

    def __init__(self, gpu: FakeGpu, array: np.ndarray, device: str) -> None:
        self.gpu, self.array, self.device = gpu, array, device

    def device_name(self) -> str:
        return self.device

    def numpy(self) -> np.ndarray:
        if self.device != "cpu":
            self.gpu.d2h.append(self.array.nbytes)
            return self.array.copy()
        return self.array


class OrtValueApi:
    """``ort.OrtValue``'s factory: numpy to the device is a copy, to the CPU a view."""

    def __init__(self, gpu: FakeGpu) -> None:
        self.gpu = gpu

    def ortvalue_from_numpy(self, array: np.ndarray, device_type: str = "cpu",
                            device_id: int = 0) -> DeviceValue:
        if device_type != "cpu":
            self.gpu.h2d.append(array.nbytes)
            self.gpu.device_ids.add(device_id)
            return DeviceValue(self.gpu, np.array(array), device_type)
        return DeviceValue(self.gpu, array, "cpu")


class Binding:
    """``IOBinding``: a run writes into the outputs of the binding's last run, as ORT does."""

    def __init__(self, session: FakeSession) -> None:
        self.session = session
        self.inputs: dict[str, DeviceValue] = {}
        self.devices: dict[str, str] = {}
        self.outputs: list[DeviceValue] = []

    def bind_ortvalue_input(self, name: str, value: DeviceValue) -> None:
        self.inputs[name] = value

    def bind_output(self, name: str, device_type: str = "cpu", device_id: int = 0) -> None:
        self.devices[name] = device_type
        if device_type != "cpu":
            self.session.gpu.device_ids.add(device_id)

    def get_outputs(self) -> list[DeviceValue]:
        return list(self.outputs)

    def copy_outputs_to_cpu(self) -> list[np.ndarray]:
        return [v.numpy().copy() for v in self.outputs]


class FakeSession:
    """``InferenceSession`` on the fake providers; computes with the real CPU session."""

    def __init__(self, gpu: FakeGpu, path: str, options: Any, providers: list[Any],
                 **kwargs: Any) -> None:
        self.gpu = gpu
        given = [(p, {}) if isinstance(p, str) else p for p in providers]
        self.config = {key: _entry(options, key) for key in (
            "session.disable_cpu_ep_fallback", "session.record_ep_graph_assignment_info")}
        gpu.created.append({"providers": given, "config": self.config, "kwargs": kwargs})
        # Like ORT: a provider this build lacks is dropped (with a warning); CPU is implied.
        self.listed = [(n, o) for n, o in given if n in gpu.support or n == CPU]
        strict = self.config["session.disable_cpu_ep_fallback"] == "1"
        if strict and any(n == CPU for n, _ in self.listed):
            raise Fail("Conflicting session configuration: explicitly added the CPU EP to the "
                       "session, but also disabled fallback to the CPU EP")
        self.placed: dict[str, list[Any]] = {}
        for node in onnx.load(path).graph.node:
            ep = next((n for n, _ in self.listed if n == CPU or gpu.claims(n, node.op_type)), CPU)
            self.placed.setdefault(ep, []).append(
                types.SimpleNamespace(name=node.name, op_type=node.op_type, domain=node.domain))
        if strict and CPU in self.placed:
            raise Fail("This session contains graph nodes that are assigned to the default CPU "
                       "EP, but fallback to CPU EP has been explicitly disabled by the user.")
        self.real = REAL_SESSION(path, providers=[CPU])

    def get_providers(self) -> list[str]:
        names = [n for n, _ in self.listed]
        return names if CPU in names else [*names, CPU]

    def get_provider_options(self) -> dict[str, dict[str, str]]:
        return {n: {**DEFAULT_OPTIONS.get(n, {}), **{k: str(v) for k, v in o.items()}}
                for n, o in self.listed}

    def get_provider_graph_assignment_info(self) -> list[Any]:
        if self.config["session.record_ep_graph_assignment_info"] != "1":
            raise Fail("'session.record_ep_graph_assignment_info' must be set to \"1\"")
        return [types.SimpleNamespace(ep_name=ep, get_nodes=lambda nodes=nodes: nodes)
                for ep, nodes in self.placed.items()]

    def get_inputs(self) -> Any:
        return self.real.get_inputs()

    def get_outputs(self) -> Any:
        return self.real.get_outputs()

    def run(self, names: Any, feeds: dict[str, np.ndarray]) -> Any:
        self.gpu.h2d.extend(a.nbytes for a in feeds.values())
        results = self.real.run(names, feeds)
        self.gpu.d2h.extend(r.nbytes for r in results)
        return results

    def io_binding(self) -> Binding:
        return Binding(self)

    def run_with_iobinding(self, binding: Binding) -> None:
        self.gpu.runs += 1
        self.gpu.h2d.extend(v.array.nbytes for v in binding.inputs.values() if v.device == "cpu")
        feeds = {n: v.array for n, v in binding.inputs.items()}
        names = [o.name for o in self.real.get_outputs()]
        results = self.real.run(names, feeds)
        if binding.outputs:  # the buffers of the last run are reused in place
            for value, result in zip(binding.outputs, results, strict=True):
                np.copyto(value.array, result)
        else:
            binding.outputs = [DeviceValue(self.gpu, r, binding.devices[n])
                               for n, r in zip(names, results, strict=True)]
        self.gpu.d2h.extend(v.array.nbytes for v in binding.outputs if v.device == "cpu")


def _entry(options: Any, key: str) -> str | None:
    try:
        value: str = options.get_session_config_entry(key)
    except RuntimeError:  # the real SessionOptions: "does not have configuration with key"
        return None
    return value


class FakeGpu:
    """Installs the fake GPU build: ``support`` maps each provider to the op types it claims
    (None: every op). ``h2d``/``d2h`` list the bytes of each copy across the bus."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch,
                 support: dict[str, set[str] | None]) -> None:
        self.support = support
        self.h2d: list[int] = []
        self.device_ids: set[int] = set()
        """The device ids buffers were placed on (inputs made and outputs bound)."""
        self.d2h: list[int] = []
        self.runs = 0
        self.created: list[dict[str, Any]] = []
        def session(path: str, options: Any = None, providers: Any = (),
                    **kwargs: Any) -> FakeSession:
            return FakeSession(self, path, options, list(providers), **kwargs)

        monkeypatch.setattr(ort, "InferenceSession", session)
        monkeypatch.setattr(ort, "OrtValue", OrtValueApi(self))
        monkeypatch.setattr(ort, "get_available_providers", lambda: [*support, CPU])
        monkeypatch.setattr(ort, "get_device", lambda: "GPU")

    def claims(self, provider: str, op_type: str) -> bool:
        ops = self.support.get(provider, set())
        return ops is None or op_type in ops
