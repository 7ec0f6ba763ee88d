"""The float32 CPU reference of a run and the vendor's agreement with it (fidelity inputs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flagbench.api.contracts import Case, Session
from flagbench.api.measurement import Fidelity
from flagbench.run.fidelity import compare_outputs

if TYPE_CHECKING:
    import numpy as np
    import torch


#: Seed of the fidelity inputs: fixed, and apart from the timing inputs' seed.
FIDELITY_SEED = 10_000
#: Fidelity compares at least this many samples (several batches when the batch is small),
#: so that top-1 agreement is a fraction and not a coin toss.
FIDELITY_MIN_SAMPLES = 8


def as_arrays(outputs: Any) -> list[np.ndarray]:
    """Float32 host copies of a torch module's outputs."""
    import torch

    items = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    return [t.detach().to("cpu", torch.float32).numpy() for t in items]


def concat(batches: Sequence[list[np.ndarray]]) -> list[np.ndarray]:
    """Per-batch output lists joined output by output along the batch axis."""
    import numpy as np

    return [np.concatenate([b[i] for b in batches]) for i in range(len(batches[0]))]


def reference_outputs(
    model: torch.nn.Module, inputs: Sequence[tuple[torch.Tensor, ...]], key: Mapping[str, Any]
) -> tuple[list[np.ndarray], float, str]:
    """Float32 CPU outputs of the untouched model, FLOPs per sample counted by torch (cached
    under ``key`` and the model's structure, see flops.py) and how the count was obtained."""
    import torch

    from flagbench.run.flops import counted, structure_digest

    first, *rest = inputs
    with torch.inference_mode():
        key = {**key, "structure": structure_digest([model], first)}
        out, flops, how = counted(key, lambda: as_arrays(model(*first)))
        outs = [out, *(as_arrays(model(*batch)) for batch in rest)]
    return concat(outs), flops / first[0].shape[0], how


def session_fidelity(
    session: Session, case: Case, inputs: Sequence[tuple[torch.Tensor, ...]],
    reference: list[np.ndarray],
) -> Fidelity:
    """The session's outputs on the fidelity inputs against the reference's."""
    outs = []
    for batch in inputs:
        result = session.run(session.load(batch))
        session.synchronize()
        outs.append(session.to_numpy(result))
    return compare_outputs(reference, concat(outs), classification=case.task == "classification")


