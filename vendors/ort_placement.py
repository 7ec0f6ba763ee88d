"""Creating an ONNX Runtime session that runs no node on the CPU unasked, and recording where
its nodes went.

ONNX Runtime gives each node to the first listed provider that claims it and every other node
to the CPU provider, which it adds even when it is not listed; the list of active providers
cannot show that. So a device provider's session is created with
``session.disable_cpu_ep_fallback`` (creation fails if any node would land on the CPU), and
every session records which provider got each node (``session.record_ep_graph_assignment_info``,
read back with ``get_provider_graph_assignment_info`` where onnxruntime offers it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flagbench.api.errors import FlagbenchError

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
NO_CPU_FALLBACK = "session.disable_cpu_ep_fallback"
RECORD_PLACEMENT = "session.record_ep_graph_assignment_info"
REFUSE = "refusing a silent fall-back"

Providers = list[tuple[str, dict[str, Any]]]


def node_placement(session: Any) -> dict[str, Counter[str]] | None:
    """Op types of the nodes each provider was given, as ONNX Runtime recorded them at
    creation; None where this onnxruntime cannot say."""
    getter = getattr(session, "get_provider_graph_assignment_info", None)
    if getter is None:
        return None
    try:
        subgraphs = getter()
    except Exception:  # an onnxruntime that ignores the config key refuses to report
        return None
    placed: dict[str, Counter[str]] = {}
    for subgraph in subgraphs:
        placed.setdefault(subgraph.ep_name, Counter()).update(
            node.op_type for node in subgraph.get_nodes())
    return placed or None


def _ops(ops: Counter[str], most: int = 5) -> str:
    """``Shape ×2, Gather`` for the commonest op types."""
    text = ", ".join(op if n == 1 else f"{op} ×{n}" for op, n in ops.most_common(most))
    return text + (", …" if len(ops) > most else "")


def placement_record(placed: dict[str, Counter[str]] | None) -> dict[str, Any]:
    """Nodes per provider and their share of the graph, for ``actual.details``."""
    if placed is None:
        return {"nodes_per_provider": None,
                "node_placement": "not recorded: this onnxruntime cannot report it"}
    counts = {ep: sum(ops.values()) for ep, ops in placed.items()}
    total = sum(counts.values())
    return {"nodes_per_provider": counts,
            "node_share": {ep: round(n / total, 4) for ep, n in counts.items()}}


def _create(ort: Any, path: Path, options: Any, providers: Providers) -> Any:
    options.add_session_config_entry(RECORD_PLACEMENT, "1")
    # enable_fallback=0: otherwise onnxruntime's Python layer answers a provider that fails to
    # start by retrying on the CPU (printing to stdout); the provider's own error is the reason.
    return ort.InferenceSession(str(path), options, providers=providers, enable_fallback=0)


def _wrong_provider(session: Any, requested: str) -> str | None:
    active = session.get_providers()
    if active and active[0] == requested:
        return None
    return f"{requested} was requested but ONNX Runtime runs {', '.join(active)}: {REFUSE}"


def _why_refused(loose: Any, requested: str, refused: Exception) -> str:
    """Why the session without CPU fall-back failed, learnt from one that allows it."""
    wrong = _wrong_provider(loose, requested)
    if wrong:
        return wrong
    placed = node_placement(loose)
    if placed is not None and placed.get(CPU):
        total = sum(sum(ops.values()) for ops in placed.values())
        cpu = placed[CPU]
        return (f"{requested} leaves {sum(cpu.values())} of {total} nodes to the CPU "
                f"({_ops(cpu)}): {REFUSE}")
    first = (str(refused).strip().splitlines() or [type(refused).__name__])[0]
    return f"ONNX Runtime refused {requested} without CPU fall-back ({first}): {REFUSE}"


def open_session(ort: Any, path: Path, options: Callable[[], Any],
                 providers: Providers) -> tuple[Any, dict[str, Any]]:
    """A session on ``providers`` (the first is the one asked for), and where its nodes went.

    Unless that provider is the CPU's, the CPU is never listed and fall-back to it is
    disabled; a graph it cannot fully take is refused with the share it would leave to the
    CPU. A provider that is active but given no node is refused too. ``options`` makes a
    fresh ``SessionOptions`` for each attempt."""
    requested = providers[0][0]
    if requested == CPU:
        session = _create(ort, path, options(), providers)
        fallback = "none: the CPU is the provider"
    else:
        strict = options()
        strict.add_session_config_entry(NO_CPU_FALLBACK, "1")
        try:
            session = _create(ort, path, strict, providers)
        except Exception as refused:
            # Learn what would have run where from the session with the CPU allowed; that it
            # fails too (the provider cannot start at all) is its own, truer error.
            loose = _create(ort, path, options(), [*providers, (CPU, {})])
            raise FlagbenchError(_why_refused(loose, requested, refused)) from refused
        fallback = f"disabled ({NO_CPU_FALLBACK}=1)"
    wrong = _wrong_provider(session, requested)
    if wrong:
        raise FlagbenchError(wrong)
    placed = node_placement(session)
    if placed is not None and not placed.get(requested):
        shares = ", ".join(f"{ep} {sum(ops.values())}" for ep, ops in placed.items())
        raise FlagbenchError(f"{requested} is active but was given no node ({shares}): {REFUSE}")
    return session, {"providers": session.get_providers(), "cpu_fallback": fallback,
                     **placement_record(placed)}


def conv_algo_search(session: Any) -> str | None:
    """How the CUDA provider picks convolution algorithms (``cudnn_conv_algo_search``:
    EXHAUSTIVE benchmarks cuDNN's algorithms per shape, as torch's ``cudnn.benchmark`` does;
    HEURISTIC and DEFAULT do not), as the session reports it; None without that provider."""
    options = session.get_provider_options().get(CUDA)
    if options is None:
        return None
    value: str = options.get("cudnn_conv_algo_search", "EXHAUSTIVE (onnxruntime's default)")
    return value
