"""How closely a vendor's outputs match the float32 CPU reference on the same inputs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


from flagbench.api.errors import FlagbenchError
from flagbench.api.measurement import Fidelity


class FidelityError(FlagbenchError, ValueError):
    """The outputs cannot be compared with the reference's (count or shape): the run fails,
    and its reason says that the fidelity check failed, not the vendor."""


def compare_outputs(
    reference: Sequence[np.ndarray], actual: Sequence[np.ndarray], classification: bool
) -> Fidelity:
    """Compare outputs tensor by tensor; for classification, also argmax on the last axis.

    Non-finite outputs give infinite error and NaN cosine rather than an exception, so a
    numerically broken vendor is stored with figures that say so. Outputs must have the
    reference's shapes: the right number of elements in another shape (a dropped batch axis)
    would otherwise compare as perfect.
    """
    import numpy as np

    if len(reference) != len(actual):
        raise FidelityError(f"fidelity check: {len(actual)} outputs, the reference has "
                            f"{len(reference)}")
    for i, (r, a) in enumerate(zip(reference, actual, strict=True)):
        if np.shape(r) != np.shape(a):
            raise FidelityError(f"fidelity check: output {i} has shape {tuple(np.shape(a))}, "
                                f"the reference {tuple(np.shape(r))}")
    ref = np.concatenate([np.asarray(r, dtype=np.float64).ravel() for r in reference])
    got = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in actual])
    diff = np.abs(ref - got)
    finite = bool(np.all(np.isfinite(got)))
    denom = float(np.linalg.norm(ref) * np.linalg.norm(got))
    cosine = float(ref @ got / denom) if denom > 0 and finite else math.nan
    samples = int(reference[0].shape[0]) if reference[0].ndim else 1
    top1 = None
    if classification:
        r1 = np.asarray(reference[0]).reshape(samples, -1).argmax(axis=1)
        a1 = np.asarray(actual[0]).reshape(samples, -1).argmax(axis=1)
        top1 = float(np.mean(r1 == a1))
    return Fidelity(
        samples=samples,
        max_abs_err=float(diff.max()) if finite else math.inf,
        mean_abs_err=float(diff.mean()) if finite else math.inf,
        cosine=cosine,
        top1_agreement=top1,
    )
