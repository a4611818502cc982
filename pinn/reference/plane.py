"""Finite-difference reference for -(psi_xx + psi_yy) + V psi = E psi on a rectangle with psi = 0 on
its boundary (numpy/scipy only).

Five-point Laplacian on the interior nodes of an (n + 1) x (n + 1) grid, the lowest eigenpairs by
`eigsh` in shift-invert mode below the spectrum, and Richardson extrapolation over three grids
(the error is a series in h^2: extrapolated at h^2, then h^4), with the difference of the last two
extrapolations as the error estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh

Potential = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class PlaneFD:
    x: np.ndarray            # interior nodes in x
    y: np.ndarray            # interior nodes in y
    eigenvalues: np.ndarray
    vectors: np.ndarray      # (n_states, len(y), len(x)), normalized so that h_x h_y sum psi^2 = 1


@dataclass(frozen=True)
class PlaneReference:
    eigenvalues: np.ndarray      # Richardson-extrapolated
    error_estimate: np.ndarray
    levels: list[PlaneFD]        # coarse to fine


def solve_fd(potential: Potential, bounds: tuple[tuple[float, float], tuple[float, float]], n_states: int,
             cells: int) -> PlaneFD:
    (x0, x1), (y0, y1) = bounds
    x = np.linspace(x0, x1, cells + 1)[1:-1]
    y = np.linspace(y0, y1, cells + 1)[1:-1]
    hx, hy = (x1 - x0) / cells, (y1 - y0) / cells

    def second_difference(m: int, h: float) -> sp.csr_matrix:
        return sp.diags([np.full(m - 1, -1.0), np.full(m, 2.0), np.full(m - 1, -1.0)], [-1, 0, 1]) / h**2

    X, Y = np.meshgrid(x, y)
    V = potential(X, Y).ravel()
    H = (sp.kron(sp.identity(y.size), second_difference(x.size, hx))
         + sp.kron(second_difference(y.size, hy), sp.identity(x.size)) + sp.diags(V)).tocsc()
    shift = float(V.min()) - 1.0
    k = min(n_states, H.shape[0] - 2)
    values, vectors = eigsh(H, k=k, sigma=shift, which="LM")
    order = np.argsort(values)
    vectors = vectors[:, order].T / np.sqrt(hx * hy)
    return PlaneFD(x, y, values[order], vectors.reshape(k, y.size, x.size))


def solve_richardson(potential: Potential, bounds, n_states: int, cells: int = 64) -> PlaneReference:
    levels = [solve_fd(potential, bounds, n_states, cells * 2**k) for k in range(3)]
    E = [level.eigenvalues for level in levels]
    once = [(4 * E[k + 1] - E[k]) / 3 for k in range(2)]
    twice = (16 * once[1] - once[0]) / 15
    return PlaneReference(twice, np.abs(twice - once[1]), levels)


def box_levels(Lx: float, Ly: float, n_states: int) -> np.ndarray:
    """pi^2 (m^2 / Lx^2 + n^2 / Ly^2), m, n >= 1, the lowest n_states in order."""
    m = np.arange(1, n_states + 2)
    levels = np.sort(np.add.outer((m * np.pi / Lx) ** 2, (m * np.pi / Ly) ** 2).ravel())
    return levels[:n_states]
