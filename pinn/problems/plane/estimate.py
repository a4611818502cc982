"""The a-posteriori error estimate of trained two-dimensional states, from the network alone.

As in one dimension: the residual r = (H - R) psi on a tensor Gauss
rule, measured in the H^-1 norm of a Galerkin approximation of H (pinn.numerics.aposteriori), here
in the products of box sines sin(m pi u) sin(n pi v), with more modes along the longer side so that
both directions reach the same kinetic energy. Its levels, Ritz values above the true ones, are
the independent count of levels that tells a state which skipped one (pinn.status.level_check).
Nothing here looks at the reference.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np
import torch

from pinn.numerics.aposteriori import Estimate, Resolved, quotient_error, resolved
from pinn.numerics.quadrature import gauss_legendre

# sine modes in all (the product of the modes per axis stays near this), and at most per axis
MODES, MAX_PER_AXIS = 900, 60
# Gauss nodes per axis: at least this, and at least NODES_PER_MODE per sine mode of that axis
MIN_NODES, NODES_PER_MODE = 96, 3
# the finest rule the reported estimate may take: this many times the nodes per axis (16x the points)
MAX_REFINEMENT_2D = 4


def sine_axis(lo: float, hi: float, modes: int, nodes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A Gauss rule of `nodes` points on [lo, hi] and the orthonormal box sines 1..modes there."""
    t, w = gauss_legendre(nodes)
    x, w = 0.5 * (hi - lo) * t + 0.5 * (hi + lo), 0.5 * (hi - lo) * w
    m = np.arange(1, modes + 1)
    return x, w, math.sqrt(2 / (hi - lo)) * np.sin(np.outer(m, x - lo) * np.pi / (hi - lo))


def box_sine_galerkin(potential, bounds, modes_x: int, modes_y: int, nodes_x: int, nodes_y: int):
    """Levels (ascending) and coefficient vectors (columns, index my * modes_x + mx) of
    -Laplace + V on the rectangle in the basis S_m(x) S_n(y), S orthonormal box sines, with V
    integrated by a tensor Gauss rule; and that rule's nodes, weights and sines per axis."""
    axes = [(*sine_axis(lo, hi, modes, nodes), (np.arange(1, modes + 1) * np.pi / (hi - lo)) ** 2)
            for (lo, hi), modes, nodes in zip(bounds, (modes_x, modes_y), (nodes_x, nodes_y))]
    (x, wx, Sx, kx), (y, wy, Sy, ky) = axes
    X, Y = np.meshgrid(x, y)
    weighted = potential(X, Y) * np.outer(wy, wx)                      # [iy, ix]
    # <n m | V | n' m'> = sum_iy,ix Sy[n, iy] Sx[m, ix] V Sy[n', iy] Sx[m', ix]
    inner = (Sy[:, None, :] * Sy[None, :, :]).reshape(modes_y * modes_y, -1) @ weighted
    outer = (Sx[:, None, :] * Sx[None, :, :]).reshape(modes_x * modes_x, -1)
    V = (inner @ outer.T).reshape(modes_y, modes_y, modes_x, modes_x).transpose(0, 2, 1, 3)
    H = V.reshape(modes_y * modes_x, -1) + np.diag(np.add.outer(ky, kx).ravel())
    levels, vectors = np.linalg.eigh(0.5 * (H + H.T))
    return levels, vectors, axes


class PlaneEstimator:
    """The a-posteriori estimate of a PlaneProblem's trained states (see the module text)."""

    def __init__(self, problem, modes: int = MODES):
        self.problem = problem
        (x0, x1), (y0, y1) = problem.bounds
        aspect = (x1 - x0) / (y1 - y0)
        self.modes_x = min(MAX_PER_AXIS, max(2, int(round(math.sqrt(modes * aspect)))))
        self.modes_y = min(MAX_PER_AXIS, max(2, int(round(modes / self.modes_x))))

    @cached_property
    def galerkin(self):
        nodes = [max(MIN_NODES, NODES_PER_MODE * m) for m in (self.modes_x, self.modes_y)]
        return box_sine_galerkin(self.problem.potential, self.problem.bounds, self.modes_x, self.modes_y, *nodes)

    def galerkin_function(self, state: int, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The Galerkin eigenfunction `state` and its x and y derivatives at the points (x, y)."""
        _, vectors, _ = self.galerkin
        axes = []
        for p, (lo, hi), modes in ((x, self.problem.bounds[0], self.modes_x), (y, self.problem.bounds[1], self.modes_y)):
            k = np.arange(1, modes + 1) * np.pi / (hi - lo)
            phase = np.outer(k, p - lo)
            axes.append((math.sqrt(2 / (hi - lo)) * np.sin(phase), math.sqrt(2 / (hi - lo)) * k[:, None] * np.cos(phase)))
        (sx, dsx), (sy, dsy) = axes
        coefficients = vectors[:, state].reshape(self.modes_y, self.modes_x)
        return tuple(np.einsum("nm,mi,ni->i", coefficients, a, b) for a, b in ((sx, sy), (dsx, sy), (sx, dsy)))

    def resolved(self, model) -> Resolved:
        """The estimate on the coarsest refinement of the rule that resolves the trained states,
        up to MAX_REFINEMENT_2D times the nodes per axis (pinn.numerics.aposteriori.resolved)."""
        return resolved(lambda refinement: self(model, refinement), MAX_REFINEMENT_2D)

    def axes_at(self, refinement: int):
        """The rule's axes, (nodes, weights, sines) each, with `refinement` times the nodes per axis."""
        _, _, axes = self.galerkin
        if refinement == 1:
            return [(x, w, S) for x, w, S, _ in axes]
        return [sine_axis(lo, hi, S.shape[0], refinement * x.size) for (lo, hi), (x, _, S, _) in zip(self.problem.bounds, axes)]

    def __call__(self, model, refinement: int = 1) -> Estimate:
        problem = self.problem
        levels, vectors, _ = self.galerkin
        (x, wx, Sx), (y, wy, Sy) = self.axes_at(refinement)
        X, Y = np.meshgrid(x, y)
        param = model.energy_raw
        xt, yt = (torch.as_tensor(v.ravel(), device=param.device, dtype=param.dtype) for v in (X, Y))
        n = problem.n_states
        with torch.no_grad():
            fields = [[f.double().cpu().numpy() for f in problem.psi(model, j, xt, yt)] for j in range(n)]
        psi, px, py, lap = (np.stack([f[k] for f in fields]) for k in range(4))
        W = np.outer(wy, wx).ravel()
        norms = np.sqrt((psi**2) @ W)
        psi, px, py, lap = (a / norms[:, None] for a in (psi, px, py, lap))
        V = problem.potential(X, Y).ravel()
        rayleigh = (px**2 + py**2 + V * psi**2) @ W
        r = -lap + (V - rayleigh[:, None]) * psi
        radius = np.sqrt((r**2) @ W)

        def eigen_coefficients(f: np.ndarray) -> np.ndarray:
            grid = (f * W).reshape(n, y.size, x.size)
            sine = (Sy @ grid @ Sx.T).reshape(n, -1)
            return sine @ vectors

        distance = quotient_error(eigen_coefficients(r), eigen_coefficients(psi), levels, rayleigh, radius)
        energies = model.energies.detach().double().cpu().numpy()
        floor = 1e-12 * problem.energy_scale
        relative_error = (np.abs(energies - rayleigh) + distance) / np.maximum(np.abs(energies), floor)
        return Estimate(rayleigh, radius, distance, relative_error, levels[: n + 1].copy())
