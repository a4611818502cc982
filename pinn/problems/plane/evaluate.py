"""The reference of a two-dimensional problem (exact box levels, Richardson FD) and the evaluation
of a trained model against it.

Degenerate levels are compared as subspaces: the PINN states of a level and the FD eigenvectors of
that level, both on the FD grid, and the largest principal angle between their spans."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.linalg import subspace_angles

from pinn.reference.plane import PlaneReference, solve_richardson
from pinn.status import (Check, Criteria, distinct_neighbours, eigen_checks, kato_temple_between, level_check,
                         level_groups, record, relative, resolution_check)


@dataclass(frozen=True)
class Reference:
    fd: PlaneReference           # n_states + 2 levels, so that a level cut by n_states is a group
    exact: np.ndarray | None     # the exact levels where known (the box)


def plane_reference(problem) -> Reference:
    return Reference(solve_richardson(problem.potential, problem.bounds, problem.n_states + 2), problem.exact_levels())


def evaluate_plane(problem, model, criteria: Criteria, ref: Reference) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metrics and arrays of a PlaneProblem's PlaneModel."""
    n = problem.n_states
    fd, exact = ref.fd, ref.exact
    reference = np.asarray(exact) if exact is not None else fd.eigenvalues[:n]
    source = "analytic" if exact is not None else "finite_difference"
    param = model.energy_raw
    device, dtype = param.device, param.dtype

    def on_model(x: np.ndarray, y: np.ndarray):
        xt, yt = (torch.as_tensor(v.ravel(), device=device, dtype=dtype) for v in (x, y))
        out = [problem.psi(model, j, xt, yt) for j in range(n)]
        return [np.stack([o[k].detach().double().cpu().numpy() for o in out]) for k in range(4)]

    # Rayleigh quotients and Weinstein radii on the estimator's tensor Gauss rule
    resolution = problem.estimator.resolved(model)
    estimate = resolution.estimate
    rayleigh, radius = estimate.rayleigh, estimate.radius
    energies = model.energies.detach().double().cpu().numpy()

    fine = fd.levels[-1]
    FX, FY = np.meshgrid(fine.x, fine.y)
    psi_grid = on_model(FX, FY)[0]
    angles = []
    groups = [g for g in level_groups(fd.eigenvalues) if g[0] < n]
    for group in groups:
        inside = [j for j in group if j < n]
        A = psi_grid[inside].reshape(len(inside), -1).T
        B = fine.vectors[group].reshape(len(group), -1).T
        angles.append(float(np.max(subspace_angles(A, B))) if len(inside) == len(group) else float("nan"))
    all_levels = level_groups(fd.eigenvalues)
    distinct = [float(fd.eigenvalues[g[0]]) for g in all_levels]
    level_of = {j: k for k, g in enumerate(all_levels) for j in g}
    below, above = distinct_neighbours(fd.eigenvalues, n)
    scale = problem.energy_scale
    kato = kato_temple_between(rayleigh, radius, below, above)
    metrics: dict[str, Any] = {
        "eigenvalues": energies.tolist(),
        "reference_eigenvalues": [float(r) for r in reference],
        "relative_errors": [relative(energies[j], reference[j], 1e-12 * scale) for j in range(n)],
        "rayleigh_quotients": rayleigh.tolist(),
        "rayleigh_relative_errors": [relative(rayleigh[j], reference[j], 1e-12 * scale) for j in range(n)],
        "eigenvalue_bounds": [[float(rayleigh[j] - radius[j]), float(rayleigh[j] + radius[j])] for j in range(n)],
        "eigenvalue_bounds_kato_temple": kato,
        "estimated_relative_errors": estimate.relative_error.tolist(),
        "estimate_rule_refinement": resolution.refinement,
        "galerkin_levels": estimate.galerkin_levels[:n].tolist(),
        "levels": groups,
        "subspace_angles": angles,
        "reference_source": source,
        "fd_eigenvalues": fd.eigenvalues[:n].tolist(),
        "fd_error_estimates": fd.error_estimate[:n].tolist(),
    }
    # a state is on another level when its Weinstein interval leaves out its own level and its
    # Rayleigh quotient is nearest another one (a wide interval is a state not converged yet)
    nearest = [int(np.argmin(np.abs(np.asarray(distinct) - rayleigh[j]))) for j in range(n)]
    misplaced = [j for j in range(n) if np.isfinite(rayleigh[j]) and nearest[j] != level_of[j]
                 and abs(rayleigh[j] - distinct[level_of[j]]) > radius[j]]
    identity = "; ".join(f"state {j} has its Rayleigh quotient {rayleigh[j]:.10g} at the reference level "
                         f"{distinct[nearest[j]]:.10g}, not at level {distinct[level_of[j]]:.10g} of reference "
                         f"state {j}" for j in misplaced)
    reference_errors = np.zeros(n) if exact is not None else fd.error_estimate[:n]
    checks = [Check("state", not misplaced, identity or "every state lies on the level of its index"),
              level_check(rayleigh, estimate.galerkin_levels),
              resolution_check(resolution.refinement, resolution.agreed, resolution.changes),
              *eigen_checks(energies, rayleigh, radius, kato, reference, reference_errors, source, scale, criteria,
                            misplaced=misplaced, estimated=estimate.relative_error)]
    record(metrics, checks)
    arrays = {"x": fine.x, "y": fine.y, "psi2d": psi_grid.reshape(n, fine.y.size, fine.x.size),
              "psi2d_ref": fine.vectors[:n], "eigenvalues": energies, "reference_eigenvalues": np.asarray(reference)}
    return metrics, arrays
