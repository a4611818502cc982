"""A run's status, decided from evidence.

Every run collects checks, each with a verdict and a sentence: agreement with the independent
reference within the tolerance, the a-posteriori bounds (present, and containing the reference),
a reference-free consistency estimate, and the optimizer's own convergence. The status is `ok`
only when every check passed; otherwise the most basic failure names it:

* `unconverged`: evidence from the run alone (non-finite values, an estimate above the
  tolerance, a bound that cannot be computed, an eigenvalue still moving when training stopped)
  says the answer is not there yet; which level a state will end on is then still open;
* `wrong_state`: a converged state sits on another level than the one it stands for;
* `inaccurate`: the run looked converged on the right level, but the reference (or a bound
  against it) disagrees beyond the tolerance.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping, Sequence

import torch

from pinn.errors import ConfigError

# the kind of each check, in the order of precedence of the statuses they produce
KINDS = {"finite": "unconverged", "estimate": "unconverged", "bound": "unconverged", "optimizer": "unconverged",
         "state": "wrong_state", "reference": "inaccurate", "containment": "inaccurate"}
STATUSES = ("ok", "unconverged", "wrong_state", "inaccurate")
# the smallest tolerance a dtype can be asked for: a hundred units in the last place
RESOLUTION_ULPS = 100.0


@dataclass(frozen=True)
class Criteria:
    """What a run is judged by: the relative eigenvalue tolerance and how training ended
    (`TrainResult.final`)."""

    tolerance: float
    final: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Check:
    kind: str      # one of KINDS
    passed: bool
    detail: str


def decide(checks: Iterable[Check]) -> tuple[str, str]:
    """(status, one line naming every failed check)."""
    checks = list(checks)
    failed = [c for c in checks if not c.passed]
    if not failed:
        return "ok", ""
    order = list(KINDS)
    worst = min(failed, key=lambda c: order.index(c.kind))
    return KINDS[worst.kind], "; ".join(c.detail for c in failed)


def record(metrics: dict[str, Any], checks: Sequence[Check]) -> dict[str, Any]:
    """Write status, status_detail and the checks into metrics (in place) and return it."""
    status, detail = decide(checks)
    metrics["status"] = status
    if detail:
        metrics["status_detail"] = detail
    metrics["checks"] = [asdict(c) for c in checks]
    return metrics


def resolution(dtype: torch.dtype) -> float:
    return RESOLUTION_ULPS * torch.finfo(dtype).eps


def effective_tolerance(requested: Any, default: float, dtype: torch.dtype) -> tuple[float, str]:
    """The relative eigenvalue tolerance a run is judged by, and where it came from.

    `requested` None takes the problem's default, raised to what the dtype resolves; a requested
    value below that resolution is refused."""
    floor = resolution(dtype)
    name = str(dtype).replace("torch.", "")
    if requested is None:
        if default < floor:
            return floor, f"the default {default:g} raised to what {name} resolves"
        return default, "the problem's default"
    if isinstance(requested, bool) or not isinstance(requested, (int, float)) or not math.isfinite(requested) \
            or not 0 < requested < 1:
        raise ConfigError(f"tolerance={requested!r} must be a number between 0 and 1 (relative eigenvalue "
                          "accuracy), or null for the problem's default")
    if requested < floor:
        raise ConfigError(f"tolerance={requested:g} is below what {name} resolves ({floor:.1e}); "
                          f"ask for tolerance >= {floor:.1e}" + (" or use dtype=float64" if name != "float64" else ""))
    return float(requested), "tolerance setting"


def relative(value: float, reference: float, floor: float = 0.0) -> float:
    """|value - reference| / max(|reference|, floor)."""
    return abs(value - reference) / max(abs(reference), floor, 1e-300)


def reference_check(names: Sequence[str], values: Sequence[float], references: Sequence[float],
                    errors: Sequence[float], reference_errors: Sequence[float], tolerance: float,
                    source: str) -> Check:
    """Each relative error within the tolerance, the reference's own error estimate added to it
    (a comparison is no sharper than its reference)."""
    bad = []
    for name, value, ref, err, ref_err in zip(names, values, references, errors, reference_errors):
        allowed = tolerance + abs(ref_err) / max(abs(ref), 1e-300)
        if not (err <= allowed):
            bad.append(f"{name} = {value:.10g} is {err:.1e} from the {source} reference {ref:.10g} "
                       f"(tolerance {tolerance:.2g})")
    if bad:
        return Check("reference", False, "; ".join(bad))
    return Check("reference", True, f"within {tolerance:.2g} of the {source} reference")


def finite_check(values: Mapping[str, Any], what: str = "the trained model") -> Check:
    """Every number in `values` (scalars or arrays) finite."""
    import numpy as np

    bad = [name for name, v in values.items() if not np.all(np.isfinite(np.asarray(v, dtype=float)))]
    if bad:
        return Check("finite", False, f"{what} gives non-finite {', '.join(bad)}")
    return Check("finite", True, "all values finite")


def optimizer_check(final: Mapping[str, Any] | None, tolerance: float,
                    floors: Mapping[str, float] | None = None) -> Check:
    """The optimizer's own convergence: the last phase stopped because it could not improve, or
    every observable it logged (the eigenvalues, the inferred unknowns) moved by less than the
    tolerance over the last steps of that phase, relative to its value (or to `floors[name]` when
    that is larger: an eigenvalue near zero)."""
    if not final:
        return Check("optimizer", False, "no training step was taken")
    phase, done = final["phase"], final["steps"]
    if final.get("stopped"):
        return Check("optimizer", True, f"phase {phase} stopped after {done} steps: no further decrease")
    window = final.get("window", 0)
    if window < 2:
        return Check("optimizer", False, f"phase {phase} ran {done} step(s), too few to tell convergence: "
                                         f"give trainer.phases.{phase}.steps more steps")
    moving = []
    for name, move in final.get("moves", {}).items():
        scale = max(abs(final["last"][name]), (floors or {}).get(name, 0.0), 1e-300)
        if not move / scale <= tolerance:
            moving.append(f"{name} moved {move / scale:.1e}")
    if moving:
        return Check("optimizer", False, f"phase {phase} used all its {done} steps and {', '.join(moving)} "
                                         f"(relative) over the last {window}: train longer "
                                         f"(trainer.phases.{phase}.steps)")
    return Check("optimizer", True, f"phase {phase}: every logged value moved by less than {tolerance:.2g} "
                                    f"over its last {window} steps")
