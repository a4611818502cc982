"""Compare a trained Schrödinger model with the independent references (the only PINN module
that imports pinn.reference, apart from run.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from pinn.problems.wells.eigenproblem import EigenModel, SchrodingerProblem
from pinn.reference import analytic
from pinn.status import Check, Criteria, finite_check, optimizer_check, record, reference_check, relative
from pinn.reference.finite_difference import RichardsonResult, interpolate_state, solve_richardson

# extra reference states beyond the solved ones, to recognise a run that ended in a higher state
EXTRA_STATES = 2


@dataclass(frozen=True)
class Reference:
    eigenvalues: np.ndarray
    eigenfunctions: Sequence[Callable[[np.ndarray], np.ndarray]]
    source: str
    fd: RichardsonResult


def schrodinger_reference(problem: SchrodingerProblem, n_states: int) -> Reference:
    """Exact eigenpairs where the problem names a known family, Richardson-extrapolated FD always."""
    a, b = problem.domain
    grid = np.linspace(a, b, 4001)
    spread = float(np.ptp(problem.potential(grid)))
    n_cells = int(min(20000, max(1000, 8 * math.sqrt(spread) * (b - a))))
    fd = solve_richardson(problem.potential, a, b, n_states, problem.breakpoints, n_cells=n_cells)
    spec = problem.reference_spec()
    family = spec.get("family")
    if family == "infinite_well":
        exact = analytic.infinite_well(spec["L"], n_states)
    elif family == "symmetric_step_well":
        exact = analytic.symmetric_step_well(spec["V_in"], spec["V_out"], spec["a"], spec["L"], n_states)
    else:
        finest = fd.finest
        functions = [lambda x, k=k: interpolate_state(finest, k, np.asarray(x, float)) for k in range(n_states)]
        return Reference(fd.eigenvalues, functions, "finite_difference", fd)
    return Reference(exact.eigenvalues, exact.eigenfunctions, "analytic", fd)


def weinstein_radius(problem: SchrodingerProblem, model: EigenModel, xq: np.ndarray, wq: np.ndarray,
                     psi_q: np.ndarray, norms: np.ndarray, rayleigh: np.ndarray) -> np.ndarray:
    """eta = ||(H - R) psi|| / ||psi|| per state, by the same composite Gauss quadrature.

    Weinstein's theorem: for any psi satisfying the boundary conditions (the trial functions do,
    exactly, and are C1 with psi'' jumping only where V jumps) the interval [R - eta, R + eta]
    around its Rayleigh quotient R contains an eigenvalue of H. When psi is matched to state j
    (`matched_reference_states`) and the interval is narrower than the gaps to the neighbouring
    levels, that eigenvalue is E_j."""
    param = next(model.parameters())
    x = torch.as_tensor(xq, device=param.device, dtype=param.dtype)
    residual = problem.residuals(model, x).double().cpu().numpy()
    energies = model.energies.detach().double().cpu().numpy()
    shifted = residual + (energies - rayleigh)[:, None] * psi_q
    return np.sqrt((shifted**2) @ wq / norms)


def kato_temple(rayleigh: np.ndarray, radius: np.ndarray, levels: np.ndarray) -> list[list[float] | None]:
    """Kato-Temple intervals of non-degenerate states, the gap estimates a = E_{j-1}, b = E_{j+1}
    from the finite-difference levels (see `kato_temple_between`)."""
    below = [levels[j - 1] if j > 0 else -np.inf for j in range(len(rayleigh))]
    above = [levels[j + 1] for j in range(len(rayleigh))]
    return kato_temple_between(rayleigh, radius, below, above)


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


def eigen_checks(energies: np.ndarray, rayleigh: np.ndarray, radius: np.ndarray,
                 kato: Sequence[list[float] | None], references: Sequence[float], reference_errors: Sequence[float],
                 source: str, scale: float, criteria: Criteria, misplaced: Sequence[int] = ()) -> list[Check]:
    """The evidence of an eigenproblem run, state by state (see pinn.status):

    * finite: E, the Rayleigh quotient R and the Weinstein radius eta of every state;
    * estimate (reference-free): |E - R| within the tolerance, the trained eigenvalue agreeing with
      the quotient of its own wavefunction on an accurate rule (not the training nodes);
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
    loose = [f"state {j} is not converged: E = {energies[j]:.10g} and its Rayleigh quotient {rayleigh[j]:.10g} "
             f"differ by {relative(energies[j], rayleigh[j], floor):.1e} (tolerance {criteria.tolerance:.2g})"
             for j in range(n) if not relative(energies[j], rayleigh[j], floor) <= criteria.tolerance]
    checks.append(Check("estimate", not loose, "; ".join(loose) or "each E agrees with its Rayleigh quotient"))
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


def evaluate_schrodinger(problem: SchrodingerProblem, model: EigenModel, criteria: Criteria,
                         n_grid: int = 2001) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metrics (eigenvalues, errors, Rayleigh quotients, state identification) and arrays to save."""
    n = problem.n_states
    ref = schrodinger_reference(problem, n + EXTRA_STATES)
    param = next(model.parameters())
    device, dtype = param.device, param.dtype

    def on_model(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        psi, dpsi = problem.wavefunctions(model, torch.as_tensor(x, device=device, dtype=dtype))
        return psi.double().cpu().numpy(), dpsi.double().cpu().numpy()

    xq, wq = problem.quadrature(96)
    psi_q, dpsi_q = on_model(xq)
    V_q = problem.potential(xq)
    norms = (psi_q**2) @ wq
    rayleigh = ((dpsi_q**2 + V_q * psi_q**2) @ wq) / norms
    radius = weinstein_radius(problem, model, xq, wq, psi_q, norms, rayleigh)
    ref_q = np.array([f(xq) for f in ref.eigenfunctions])
    overlaps = (psi_q / np.sqrt(norms)[:, None]) @ (ref_q * wq).T
    matches = [int(np.argmax(np.abs(row))) for row in overlaps]
    l2 = []
    for j in range(n):
        k = j
        sign = 1.0 if overlaps[j, k] >= 0 else -1.0
        aligned = sign * psi_q[j] / math.sqrt(norms[j])
        l2.append(float(math.sqrt(((aligned - ref_q[k]) ** 2) @ wq)))

    energies = model.energies.detach().double().cpu().numpy()
    scale = problem.energy_scale
    x = np.linspace(*problem.domain, n_grid)
    psi_x, _ = on_model(x)
    aligned_x = np.sign(overlaps[np.arange(n), np.arange(n)])[:, None] * psi_x / np.sqrt(norms)[:, None]
    residual = problem.residuals(model, torch.as_tensor(x, device=device, dtype=dtype)).double().cpu().numpy()
    wrong = [j for j in range(n) if matches[j] != j]
    kato = kato_temple(rayleigh, radius, ref.fd.eigenvalues)
    metrics: dict[str, Any] = {
        "eigenvalues": energies.tolist(),
        "reference_eigenvalues": ref.eigenvalues[:n].tolist(),
        "relative_errors": [relative(energies[j], ref.eigenvalues[j], 1e-12 * scale) for j in range(n)],
        "wavefunction_l2_errors": l2,
        "rayleigh_quotients": rayleigh.tolist(),
        "rayleigh_relative_errors": [relative(rayleigh[j], ref.eigenvalues[j], 1e-12 * scale) for j in range(n)],
        "eigenvalue_bounds": [[float(rayleigh[j] - radius[j]), float(rayleigh[j] + radius[j])] for j in range(n)],
        "eigenvalue_bounds_kato_temple": kato,
        "residual_rms": (np.sqrt(np.mean(residual**2, axis=1)) / scale).tolist(),
        "eigenvalue_trained": bool(model.energy_raw.requires_grad),
        "matched_reference_states": matches,
        "reference_source": ref.source,
        "fd_eigenvalues": ref.fd.eigenvalues[:n].tolist(),
        "fd_error_estimates": ref.fd.error_estimate[:n].tolist(),
        "fd_observed_order": ref.fd.observed_order[:n].tolist(),
    }
    identity = "; ".join(f"state {j} converged to reference state {matches[j]} (E={energies[j]:.10g}, "
                         f"reference E_{matches[j]}={ref.eigenvalues[matches[j]]:.10g})" for j in wrong)
    reference_errors = ref.fd.error_estimate[:n] if ref.source == "finite_difference" else np.zeros(n)
    checks = [Check("state", not wrong, identity or "every state matches the reference state of its index"),
              *eigen_checks(energies, rayleigh, radius, kato, ref.eigenvalues[:n], reference_errors, ref.source,
                            scale, criteria, misplaced=wrong)]
    record(metrics, checks)
    arrays = {
        "x": x,
        "psi": aligned_x,
        "psi_ref": np.array([f(x) for f in ref.eigenfunctions[:n]]),
        "V": problem.potential(x),
        "residual": residual,
        "eigenvalues": energies,
        "reference_eigenvalues": ref.eigenvalues[:n],
    }
    return metrics, arrays
