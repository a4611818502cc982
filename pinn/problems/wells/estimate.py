"""The a-posteriori error estimate of a trained one-dimensional state, from the network alone.

The residual r = (H - R) psi of each state on a fine Gauss rule (nodes the optimizer never saw),
measured in the H^-1 norm of a sine Galerkin approximation of H (pinn.numerics.aposteriori); the
eigenvalue parameter E is a further |E - R| from the quotient R. The Galerkin levels are also an
independent count of the levels: as Ritz values they lie above the true levels, so a state whose
quotient lies well above the Galerkin level of its index has skipped a level (pinn.status.level_check).

Nothing here looks at the reference: the estimate may steer training and decide the status.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np
import torch

from pinn.numerics.aposteriori import Estimate, Resolved, quotient_error, resolved
from pinn.numerics.quadrature import gauss_legendre

# nodes of each Gauss-Legendre piece of the estimator's rule, and nodes per sine mode
PIECE_NODES = 24
NODES_PER_MODE = 6


def sine_galerkin(potential, a: float, b: float, x: np.ndarray, w: np.ndarray,
                  modes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigenpairs of -d^2/dx^2 + V on [a, b] (Dirichlet) in the basis sqrt(2/l) sin(m pi (x - a) / l),
    m = 1..modes, with V integrated by the rule (x, w). Returns the levels (ascending), the
    coefficient vectors (modes x modes, one per column) and the basis at the nodes (modes x len(x))."""
    length = b - a
    m = np.arange(1, modes + 1)
    basis = math.sqrt(2 / length) * np.sin(np.outer(m, x - a) * np.pi / length)
    H = (basis * (w * potential(x))) @ basis.T + np.diag((m * np.pi / length) ** 2)
    levels, vectors = np.linalg.eigh(0.5 * (H + H.T))
    return levels, vectors, basis


class ResidualEstimator:
    """The a-posteriori estimate of a SchrodingerProblem's trained states (see the module text)."""

    def __init__(self, problem, modes: int = 400):
        self.problem = problem
        self.modes = modes
        self._rules: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def rule(self) -> tuple[np.ndarray, np.ndarray]:
        """Composite Gauss rule on the full domain, split at the jumps of V, with about
        NODES_PER_MODE nodes per sine mode spread over the regions by their lengths."""
        return self.rule_at(1)

    def rule_at(self, refinement: int) -> tuple[np.ndarray, np.ndarray]:
        """`rule` with `refinement` times its pieces."""
        if refinement not in self._rules:
            self._rules[refinement] = self._composite_rule(refinement)
        return self._rules[refinement]

    def _composite_rule(self, refinement: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.problem.domain
        cuts = [a] + sorted(p for p in set(self.problem.breakpoints) if a < p < b) + [b]
        nodes, weights = gauss_legendre(PIECE_NODES)
        total_pieces = refinement * NODES_PER_MODE * self.modes / PIECE_NODES
        xs, ws = [], []
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            pieces = max(2, int(math.ceil(total_pieces * (hi - lo) / (b - a))))
            edges = np.linspace(lo, hi, pieces + 1)
            for p, q in zip(edges[:-1], edges[1:]):
                xs.append(0.5 * (q - p) * nodes + 0.5 * (q + p))
                ws.append(0.5 * (q - p) * weights)
        return np.concatenate(xs), np.concatenate(ws)

    @cached_property
    def galerkin_solution(self) -> tuple[np.ndarray, np.ndarray]:
        """Galerkin levels and coefficient vectors (one per column)."""
        x, w = self.rule
        levels, vectors, _ = sine_galerkin(self.problem.potential, *self.problem.domain, x, w, self.modes)
        return levels, vectors

    @cached_property
    def galerkin(self) -> tuple[np.ndarray, np.ndarray]:
        """Galerkin levels and their eigenfunctions at the rule's nodes (modes x nodes)."""
        return self.galerkin_at(1)

    def galerkin_at(self, refinement: int) -> tuple[np.ndarray, np.ndarray]:
        """`galerkin` at the nodes of `rule_at(refinement)` (computed afresh: at the finer rules it is large)."""
        levels, _ = self.galerkin_solution
        return levels, self.galerkin_function(np.arange(self.modes), self.rule_at(refinement)[0])

    def galerkin_function(self, states, x: np.ndarray, slope: bool = False) -> np.ndarray:
        """The Galerkin eigenfunctions `states` (an index or indices) at the points x, or with
        `slope` their derivatives."""
        a, b = self.problem.domain
        _, vectors = self.galerkin_solution
        k = np.arange(1, self.modes + 1) * np.pi / (b - a)
        phase = np.outer(k, x - a)
        basis = math.sqrt(2 / (b - a)) * (k[:, None] * np.cos(phase) if slope else np.sin(phase))
        return vectors[:, states].T @ basis

    def resolved(self, model) -> Resolved:
        """The estimate on the coarsest refinement of the rule that resolves the trained states
        (pinn.numerics.aposteriori.resolved): the one a run reports."""
        return resolved(lambda refinement: self(model, refinement))

    def __call__(self, model, refinement: int = 1) -> Estimate:
        problem = self.problem
        x, w = self.rule_at(refinement)
        param = next(model.parameters())
        xt = torch.as_tensor(x, device=param.device, dtype=param.dtype)
        psi, dpsi = (v.double().cpu().numpy() for v in problem.wavefunctions(model, xt))
        residual = problem.residuals(model, xt).double().cpu().numpy()
        energies = model.energies.detach().double().cpu().numpy()
        norms = np.sqrt((psi**2) @ w)
        psi, dpsi = psi / norms[:, None], dpsi / norms[:, None]
        rayleigh = (dpsi**2 + problem.potential(x) * psi**2) @ w
        r = residual / norms[:, None] + (energies - rayleigh)[:, None] * psi  # (H - R) psi
        radius = np.sqrt((r**2) @ w)
        levels, functions = self.galerkin if refinement == 1 else self.galerkin_at(refinement)
        projection = (functions * w).T
        distance = quotient_error(r @ projection, psi @ projection, levels, rayleigh, radius)
        floor = 1e-12 * problem.energy_scale
        relative_error = (np.abs(energies - rayleigh) + distance) / np.maximum(np.abs(energies), floor)
        n = problem.n_states
        return Estimate(rayleigh, radius, distance, relative_error, levels[:n + 1].copy())
