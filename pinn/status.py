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
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch

from pinn.errors import ConfigError
from pinn.training.phase import SETTLED_STD, unsettled

# a state is near its own level when its Rayleigh quotient is within this fraction of the gap
# around that level (`on_own_levels`): one half, nearer its own level than any other. With a tenth,
# benchmarks/states.py --only-1d trained 111 s against 106 s (poschl_teller's weakly bound third
# state took every warm-up step to get there), every state ok either way
PLACED_FRACTION = 0.5

# the kind of each check, in the order of precedence of the statuses they produce
KINDS = {"finite": "unconverged", "estimate": "unconverged", "bound": "unconverged", "optimizer": "unconverged",
         "state": "wrong_state", "reference": "inaccurate", "containment": "inaccurate"}
STATUSES = ("ok", "unconverged", "wrong_state", "inaccurate")
# rms relative residual of a field problem above which its equations are not solved
RESIDUAL_LIMIT = 1e-2
# the smallest tolerance a dtype can be asked for: a hundred units in the last place
RESOLUTION_ULPS = 100.0


@dataclass(frozen=True)
class Criteria:
    """What a run is judged by: the relative eigenvalue tolerance, how training ended
    (`TrainResult.final`), and the training loss terms of the final stage on fixed nodes
    (`loss_terms()`, what the inverse layer's covariance linearizes)."""

    tolerance: float
    final: Mapping[str, Any] | None = None
    loss_terms: Callable[[], Mapping[str, Any]] | None = None


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


def level_groups(levels: Sequence[float], tol: float = 1e-6) -> list[list[int]]:
    """Indices of equal eigenvalues (relative tolerance tol), in order."""
    groups: list[list[int]] = []
    for j, E in enumerate(levels):
        if groups and abs(E - levels[groups[-1][0]]) <= tol * max(abs(E), 1.0):
            groups[-1].append(j)
        else:
            groups.append([j])
    return groups


def distinct_neighbours(levels: Sequence[float], n: int) -> tuple[list[float], list[float]]:
    """For states 0..n-1, the nearest distinct levels below and above their own (-inf below the
    lowest, nan past the last): a degenerate level, or a doublet split by less than the grouping
    tolerance (a deep double well: 1e-11), is one point of the spectrum for Kato-Temple."""
    groups = level_groups(levels)
    distinct = [float(levels[g[0]]) for g in groups]
    level_of = {j: k for k, g in enumerate(groups) for j in g}
    below = [distinct[level_of[j] - 1] if level_of[j] > 0 else -np.inf for j in range(n)]
    above = [distinct[level_of[j] + 1] if level_of[j] + 1 < len(distinct) else np.nan for j in range(n)]
    return below, above


def kato_temple_between(rayleigh, radius, below, above) -> list[list[float] | None]:
    """Kato-Temple intervals: if (a, b) holds only one point E of the spectrum (of any multiplicity)
    and a < R < b, then R - eta^2 / (b - R) <= E <= R + eta^2 / (R - a), with R the Rayleigh
    quotient and eta = ||H psi - R psi|| / ||psi||. For the lowest level (a = -inf) E <= R by the
    variational principle. Quadratic in the residual where Weinstein's interval is linear; None
    where R is outside (a, b)."""
    bounds: list[list[float] | None] = []
    for R, eta, a, b in zip(rayleigh, radius, below, above):
        if not a < R < b:
            bounds.append(None)
            continue
        upper = R if a == -np.inf else R + eta**2 / (R - a)
        bounds.append([float(R - eta**2 / (b - R)), float(upper)])
    return bounds


def skipped_levels(rayleigh: Sequence[float], upper_levels: Sequence[float]) -> list[tuple[int, float, float]]:
    """(state, its Galerkin level, the next distinct one) for every state that skipped a level, by
    an independent count: `upper_levels` are Ritz values of a Galerkin approximation (ascending,
    one more than the states), each above the true level of its index. A state j whose Rayleigh
    quotient lies beyond the midpoint between upper level j and the next distinct one is therefore
    on a higher level than j (or far from converged)."""
    levels = np.asarray(upper_levels, dtype=float)
    skipped = []
    for j, R in enumerate(rayleigh):
        above = [G for G in levels[j + 1:] if G > levels[j] + 1e-6 * max(abs(levels[j]), 1e-300)]
        if above and not R <= 0.5 * (levels[j] + above[0]):
            skipped.append((j, float(levels[j]), float(above[0])))
    return skipped


def on_own_levels(rayleigh: Sequence[float], upper_levels: Sequence[float], stride: int = 1,
                  fraction: float = PLACED_FRACTION) -> bool:
    """Whether every state's Rayleigh quotient R_j lies within `fraction` of the gap around the
    Galerkin level G_j of its index, the distance to the nearest distinct level among those it
    can mix with (every `stride`-th level: 2 where the states alternate in a parity built into
    them): each state found near its own level and no other, by the count of `skipped_levels`.
    A variational warm-up may end there (Problem.states_placed)."""
    levels = np.asarray(upper_levels, dtype=float)
    for j, R in enumerate(rayleigh):
        distinct = 1e-6 * max(abs(levels[j]), 1e-300)
        gaps = [abs(G - levels[j]) for G in levels[j % stride::stride] if abs(G - levels[j]) > distinct]
        if not gaps or not abs(R - levels[j]) <= fraction * min(gaps):
            return False
    return True


def resolution_check(refinement: int, agreed: bool, changes: Sequence[float]) -> Check:
    """The a-posteriori estimate resolved: doubling the finest quadrature tried (`refinement` times
    the estimator's own) moved each state's radius and estimated error by at most a tenth."""
    if agreed:
        return Check("estimate", True, f"the estimate is resolved by its quadrature ({refinement}x its nodes)")
    worst = int(np.argmax(changes))
    return Check("estimate", False, f"the estimate of state {worst} still moved by {100 * changes[worst]:.0f}% when its "
                                    f"quadrature went to {refinement}x its nodes: the network has a feature narrower "
                                    f"than the nodes, and no bound can be trusted")


def level_check(rayleigh: Sequence[float], upper_levels: Sequence[float]) -> Check:
    """No level skipped (see `skipped_levels`)."""
    skipped = [f"state {j} has its Rayleigh quotient {rayleigh[j]:.10g} above the midpoint between the Galerkin "
               f"level {j} ({level:.10g}, at or above the true one) and the next ({following:.10g}): "
               f"a lower level was skipped" for j, level, following in skipped_levels(rayleigh, upper_levels)]
    return Check("state", not skipped, "; ".join(skipped) or "no level skipped (independent Galerkin count)")


def eigen_checks(energies: np.ndarray, rayleigh: np.ndarray, radius: np.ndarray,
                 kato: Sequence[list[float] | None], references: Sequence[float], reference_errors: Sequence[float],
                 source: str, scale: float, criteria: Criteria, misplaced: Sequence[int] = (),
                 estimated: Sequence[float] | None = None) -> list[Check]:
    """The evidence of an eigenproblem run, state by state (see pinn.status):

    * finite: E, the Rayleigh quotient R and the Weinstein radius eta of every state;
    * estimate (reference-free): the a-posteriori estimate of each relative error (`estimated`)
      within the tolerance; without one, |E - R|, the trained eigenvalue agreeing with the
      quotient of its own wavefunction on an accurate rule (not the training nodes);
    * bound: the Kato-Temple interval exists (R lies between the neighbouring levels);
    * containment: the Weinstein and Kato-Temple intervals contain the reference, widened by its own
      error estimate and 64 rounding units;
    * reference: |E - E_ref| within the tolerance;
    * optimizer: the eigenvalues settled in the last phase (pinn.status.optimizer_check).

    States found on another level (`misplaced`, a `state` check of the caller) are left out of the
    bound and containment checks: their intervals surround that other level, as they should."""
    n = len(energies)
    floor = 1e-12 * scale
    checks = [finite_check({"E": energies, "Rayleigh quotients": rayleigh, "Weinstein radii": radius})]
    if estimated is None:
        loose = [f"state {j} is not converged: E = {energies[j]:.10g} and its Rayleigh quotient {rayleigh[j]:.10g} "
                 f"differ by {relative(energies[j], rayleigh[j], floor):.1e} (tolerance {criteria.tolerance:.2g})"
                 for j in range(n) if not relative(energies[j], rayleigh[j], floor) <= criteria.tolerance]
        met = "each E agrees with its Rayleigh quotient"
    else:
        loose = [f"state {j} is not converged: its estimated relative error is {estimated[j]:.1e} "
                 f"(tolerance {criteria.tolerance:.2g})" for j in range(n) if not estimated[j] <= criteria.tolerance]
        met = "each estimated relative error within the tolerance"
    checks.append(Check("estimate", not loose, "; ".join(loose) or met))
    placed = [j for j in range(n) if j not in misplaced]
    missing = [j for j in placed if kato[j] is None or not np.all(np.isfinite(kato[j]))]
    checks.append(Check("bound", not missing,
                        f"no Kato-Temple bound for state(s) {missing}: the Rayleigh quotient is not between the "
                        "neighbouring levels" if missing else "Kato-Temple bounds computed"))
    outside = []
    for j in placed:
        slack = abs(reference_errors[j]) + 64 * np.finfo(float).eps * abs(references[j])
        for name, interval in (("Weinstein", [rayleigh[j] - radius[j], rayleigh[j] + radius[j]]), ("Kato-Temple", kato[j])):
            if interval is not None and not (interval[0] - slack <= references[j] <= interval[1] + slack):
                outside.append(f"the {name} interval [{interval[0]:.10g}, {interval[1]:.10g}] of state {j} "
                               f"does not contain the reference {references[j]:.10g}")
    checks.append(Check("containment", not outside, "; ".join(outside) or "every interval contains its reference"))
    errors = [relative(energies[j], references[j], floor) for j in range(n)]
    checks.append(reference_check([f"E{j}" for j in range(n)], energies, references, errors, reference_errors,
                                  criteria.tolerance, source))
    checks.append(optimizer_check(criteria.final, criteria.tolerance, {f"E{j}": floor for j in range(n)}))
    return checks


def field_checks(name: str, value: float, ref: float, ref_error: float, rms: float, fields: dict[str, Any],
                 source: str, criteria: Criteria, residual_limit: float = RESIDUAL_LIMIT) -> list[Check]:
    """The evidence of a field problem's run (a flame): finite fields, the rms relative residual of
    the equations on points the optimizer never saw below `residual_limit`, the eigenvalue within
    the tolerance of the reference, and the eigenvalue and unknowns settled in the last phase."""
    solved = rms <= residual_limit
    return [
        finite_check({name: value, "residual": rms, **fields}),
        Check("estimate", bool(solved), f"the rms relative residual {rms:.1e} " + (
            f"is within {residual_limit:g}" if solved else
            f"exceeds {residual_limit:g}: the network has not solved the equations (more steps, or a wider network)")),
        reference_check([name], [value], [ref], [abs(value / ref - 1.0)], [ref_error], criteria.tolerance, source),
        optimizer_check(criteria.final, criteria.tolerance),
    ]


def interval_checks(inferred: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str],
                    check: Mapping[str, Any] | None, final: Mapping[str, Any] | None) -> list[Check]:
    """Whether an inverse run's stated intervals describe its estimate: every `inferred` value
    (metrics.json's block, each with its `std`) settled to within SETTLED_STD of its standard error
    over the last logged steps (`final`, pinn.training.phase.settling; an unknown is logged under
    its label), and `check`, the profile check of the least determined unknown
    (pinn.numerics.uncertainty.interval_check), linear and centred."""
    checks = []
    moves, window = (final or {}).get("moves", {}), (final or {}).get("window", 0)
    items = {labels.get(name, name): item for name, item in inferred.items() if item.get("std") is not None}
    moving = [f"{label} moved {moves[label]:.3g}{_unit(items[label])} ({moves[label] / items[label]['std']:.1f} "
              f"standard errors)" for label in unsettled(moves, {label: item["std"] for label, item in items.items()})]
    if moving:
        checks.append(Check("optimizer", False, f"{', '.join(moving)} over the last {window} steps: the estimate is "
                                                f"still on its way, so its interval does not say where it ends "
                                                f"(train longer)"))
    elif moves:
        checks.append(Check("optimizer", True, f"every inferred value moved by less than {SETTLED_STD:g} of its "
                                               f"standard error over the last {window} steps"))
    if check is None:
        return checks
    name = check["unknown"]
    if check["linear"] and check["centred"]:
        checks.append(Check("bound", True, f"the interval of {name} is verified by the misfit's profile"))
        return checks
    rises = [r for r in check["rise"] if r is not None]
    why = (f"the misfit rises by {' and '.join(f'{r:.3g}' for r in rises)} at its ends, not about {check['expected']:.3g}"
           if rises else "the equations could not be restored at its ends")
    if rises and max(abs(r) for r in rises) < 0.01 * check["expected"]:
        why += (" (moving it there changes the equations' solution by less than their own residual: the data "
                "determine it more finely than the equations are solved, so the stated error, the noise's alone, "
                "leaves out the model's own)")
    checks.append(Check("bound", False, f"the 95% interval of {name} is not verified: {why}"))
    return checks


def _unit(item: Mapping[str, Any]) -> str:
    return f" {item['unit']}" if item.get("unit") else ""
