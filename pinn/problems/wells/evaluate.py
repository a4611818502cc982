"""The reference of a one-dimensional Schrödinger problem (exact roots where they exist, a converged
Legendre-Galerkin solve for a smooth V, converged finite differences always) and the evaluation
of a trained model against it."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from pinn.reference import analytic, spectral
from pinn.reference.finite_difference import RichardsonResult, interpolate_state, solve_richardson
from pinn.status import (Check, Criteria, distinct_neighbours, eigen_checks, kato_temple_between, level_check, record,
                         relative, resolution_check)

# extra reference states beyond the solved ones, to recognise a run that ended in a higher state
EXTRA_STATES = 2
# relative error estimate a Legendre-Galerkin solve must reach to be the reference of a smooth V
SPECTRAL_ACCURACY = 1e-12


@dataclass(frozen=True)
class Reference:
    eigenvalues: np.ndarray
    eigenfunctions: Sequence[Callable[[np.ndarray], np.ndarray]]
    source: str
    fd: RichardsonResult
    error_estimate: np.ndarray  # of `eigenvalues`; zeros for exact roots


def schrodinger_reference(problem, n_states: int) -> Reference:
    """Exact eigenpairs where the problem names a known family; else, for a V without jumps, a
    Legendre-Galerkin solve converged to SPECTRAL_ACCURACY; else Richardson-extrapolated FD (~1e-10;
    computed always, its levels and error estimates are reported beside the reference)."""
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
        if not any(a < p < b for p in problem.breakpoints):
            galerkin = spectral.solve_converged(problem.potential, a, b, n_states)
            size = np.maximum(np.abs(galerkin.eigenvalues), problem.energy_scale)
            if np.all(galerkin.error_estimate <= SPECTRAL_ACCURACY * size):
                functions = [functools.partial(galerkin.eigenfunction, k) for k in range(n_states)]
                return Reference(galerkin.eigenvalues, functions, "spectral", fd, galerkin.error_estimate)
        finest = fd.finest
        functions = [functools.partial(interpolate_state, finest, k) for k in range(n_states)]
        return Reference(fd.eigenvalues, functions, "finite_difference", fd, fd.error_estimate)
    return Reference(exact.eigenvalues, exact.eigenfunctions, "analytic", fd, np.zeros(n_states))


def kato_temple(rayleigh: np.ndarray, radius: np.ndarray, levels: np.ndarray) -> list[list[float] | None]:
    """Kato-Temple intervals of the states, the gap estimates the neighbouring distinct
    finite-difference levels (see `kato_temple_between`, `distinct_neighbours`)."""
    return kato_temple_between(rayleigh, radius, *distinct_neighbours(levels, len(rayleigh)))


def evaluate_schrodinger(problem, model, criteria: Criteria, ref: Reference,
                         n_grid: int = 2001) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metrics (eigenvalues, errors, Rayleigh quotients, state identification) and arrays to save
    of a SchrodingerProblem's EigenModel."""
    n = problem.n_states
    param = next(model.parameters())
    device, dtype = param.device, param.dtype

    def on_model(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        psi, dpsi = problem.wavefunctions(model, torch.as_tensor(x, device=device, dtype=dtype))
        return psi.double().cpu().numpy(), dpsi.double().cpu().numpy()

    resolution = problem.estimator.resolved(model)
    estimate = resolution.estimate
    rayleigh, radius = estimate.rayleigh, estimate.radius
    xq, wq = problem.estimator.rule
    psi_q, _ = on_model(xq)
    norms = (psi_q**2) @ wq
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
        "estimated_relative_errors": estimate.relative_error.tolist(),
        "estimate_rule_refinement": resolution.refinement,
        "galerkin_levels": estimate.galerkin_levels[:n].tolist(),
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
    reference_errors = ref.error_estimate[:n]
    checks = [Check("state", not wrong, identity or "every state matches the reference state of its index"),
              level_check(rayleigh, estimate.galerkin_levels),
              resolution_check(resolution.refinement, resolution.agreed, resolution.changes),
              *eigen_checks(energies, rayleigh, radius, kato, ref.eigenvalues[:n], reference_errors, ref.source,
                            scale, criteria, misplaced=wrong, estimated=estimate.relative_error)]
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
