"""Legendre-Galerkin eigen-solver for -psi'' + V psi = E psi, psi(a) = psi(b) = 0, V smooth (numpy/scipy only).

With x = c + h y, y in [-1, 1], the basis phi_k(y) = L_k(y) - L_{k+2}(y), k = 0..N-1 (L_k the
Legendre polynomials) vanishes at both walls, and (Shen's basis)

    integral phi_j' phi_k' dy = (4k + 6) delta_jk,
    integral phi_j phi_k dy   = 2/(2k+1) + 2/(2k+5) for j = k,  -2/(2k+5) for j = k + 2,

so the eigenproblem is the symmetric pencil (S / h^2 + W) c = E M c, W_jk = integral V phi_j phi_k dy
by Gauss-Legendre (solved in a well-conditioned form, see `solve`). For an analytic V the levels converge exponentially in N and, as Ritz values,
from above. `solve_converged` doubles N until the wanted levels move by less than a relative
1e-13 (or gives up at `largest` and says so in its error estimate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.linalg import eigh

Potential = Callable[[np.ndarray], np.ndarray]

# e-folds of WKB decay beyond which a state is taken as zero (the walls moved in to there)
NEGLIGIBLE_EFOLDS = 60.0


@dataclass(frozen=True)
class SpectralSolution:
    a: float                  # the walls the levels were solved between (see `solve_converged`)
    b: float
    eigenvalues: np.ndarray   # ascending
    coefficients: np.ndarray  # (modes, n_states) in the basis phi_k, integral psi^2 dx = 1
    error_estimate: np.ndarray  # |E(N) - E(N/2)| plus round-off, per level
    modes: int

    def eigenfunction(self, state: int, x: np.ndarray) -> np.ndarray:
        """psi_state(x), positive where it first exceeds 1e-8 of its largest size from the left;
        zero outside [a, b]."""
        x = np.asarray(x, dtype=float)
        y = (2.0 * x - (self.a + self.b)) / (self.b - self.a)
        values = self.coefficients[:, state] @ shen_basis(self.modes, np.clip(y, -1.0, 1.0))
        return np.where((x < self.a) | (x > self.b), 0.0, values)


def legendre_table(n: int, y: np.ndarray) -> np.ndarray:
    """L_0..L_{n-1} at y, shape (n, len(y)), by the three-term recurrence."""
    table = np.empty((n, len(y)))
    table[0] = 1.0
    if n > 1:
        table[1] = y
    for k in range(1, n - 1):
        table[k + 1] = ((2 * k + 1) * y * table[k] - k * table[k - 1]) / (k + 1)
    return table


def shen_basis(modes: int, y: np.ndarray) -> np.ndarray:
    """phi_k = L_k - L_{k+2}, k < modes, at y: shape (modes, len(y))."""
    table = legendre_table(modes + 2, y)
    return table[:modes] - table[2:]


def solve(potential: Potential, a: float, b: float, n_states: int, modes: int) -> tuple[np.ndarray, np.ndarray]:
    """The lowest n_states levels and their coefficient vectors (normalized in x) with `modes` basis
    functions. The pencil is solved for mu = 1 / (E - s), s below min V, in the variables
    d = diag(sqrt(S)) c: then the matrix factored, I + (W - s M) / S, is well conditioned, where
    factoring M (eigenvalues down to ~1/N^2 against S's ~N) lost 4e-7 at N = 1024."""
    half = 0.5 * (b - a)
    k = np.arange(modes)
    mass = np.diag(2.0 / (2 * k + 1) + 2.0 / (2 * k + 5))
    off = -2.0 / (2 * k[:-2] + 5)
    mass[k[:-2], k[:-2] + 2] = off
    mass[k[:-2] + 2, k[:-2]] = off
    y, w = np.polynomial.legendre.leggauss(modes + 32)
    basis = shen_basis(modes, y)
    V = potential(0.5 * (a + b) + half * y)
    shift = float(np.min(V)) - 1.0 / half**2
    coupling = (basis * (w * (V - shift))) @ basis.T
    root = np.sqrt(4.0 * k + 6.0) / half  # sqrt of the stiffness diagonal S / h^2
    scaled_mass = mass / np.outer(root, root)
    system = np.eye(modes) + 0.5 * (coupling + coupling.T) / np.outer(root, root)
    mu, d = eigh(scaled_mass, system, subset_by_index=[modes - n_states, modes - 1])
    order = np.argsort(-mu)
    values = shift + 1.0 / mu[order]
    vectors = d[:, order] / root[:, None]
    vectors = vectors / np.sqrt(half * np.einsum("ij,ik,kj->j", vectors, mass, vectors))
    profile = vectors.T @ shen_basis(modes, np.linspace(-1.0, 1.0, 2001))
    first = np.argmax(np.abs(profile) > 1e-8 * np.abs(profile).max(axis=1, keepdims=True), axis=1)
    return values, vectors * np.sign(profile[np.arange(n_states), first])


def negligible_reach(potential: Potential, a: float, b: float, energy: float, efolds: float = NEGLIGIBLE_EFOLDS,
                     samples: int = 20001) -> tuple[float, float]:
    """[a', b'] within [a, b] outside which every state with a level below `energy` is smaller than
    exp(-efolds) of its size at the outermost turning point: the WKB action, the integral of
    sqrt(V - energy) outward from there, exceeds `efolds` (so walls at a', b' move the levels by
    about exp(-2 efolds) relative)."""
    x = np.linspace(a, b, samples)
    excess = np.asarray(potential(x), dtype=float) - energy
    allowed = np.flatnonzero(excess <= 0)
    if allowed.size == 0:
        return a, b
    kappa = np.sqrt(np.maximum(excess, 0.0))
    steps = 0.5 * (kappa[1:] + kappa[:-1]) * np.diff(x)
    right = np.cumsum(steps[allowed[-1]:])
    left = np.cumsum(steps[:allowed[0]][::-1])
    beyond_right, beyond_left = np.flatnonzero(right > efolds), np.flatnonzero(left > efolds)
    hi = x[allowed[-1] + 1 + beyond_right[0]] if beyond_right.size else b
    lo = x[allowed[0] - 1 - beyond_left[0]] if beyond_left.size else a
    return float(lo), float(hi)


def solve_converged(potential: Potential, a: float, b: float, n_states: int, start: int = 64,
                    largest: int = 1024, tolerance: float = 1e-13) -> SpectralSolution:
    """Double the modes from `start` until the lowest n_states levels change by less than
    `tolerance` relative to their size (or to the spread of V, for a level near zero).

    Where V rises so far above the levels that the states are below exp(-NEGLIGIBLE_EFOLDS) there
    (a Morse well's exponential wall: V = 6e6 at the wall, where the states vanished 500 e-folds
    earlier), the walls are moved in to `negligible_reach` of twice the start's highest Ritz value
    above min V (Ritz values lie above the levels): otherwise that V sets the conditioning and the
    solve stalls near 1e-7. The eigenfunctions are zero beyond the moved walls."""
    x = np.linspace(a, b, 2001)
    V = potential(x)
    rough, _ = solve(potential, a, b, n_states, start)
    a, b = negligible_reach(potential, a, b, float(rough[-1] + abs(rough[-1] - np.min(V))))
    inside = (x >= a) & (x <= b)
    scale = max(float(np.ptp(V[inside])), (np.pi / (b - a)) ** 2, 1.0)
    modes = start
    values, vectors = solve(potential, a, b, n_states, modes)
    while True:
        finer = min(2 * modes, largest)
        new_values, new_vectors = solve(potential, a, b, n_states, finer)
        change = np.abs(new_values - values)
        round_off = 64 * np.finfo(float).eps * np.maximum(np.abs(new_values), scale * 1e-3)
        modes, values, vectors = finer, new_values, new_vectors
        if np.all(change <= tolerance * np.maximum(np.abs(values), 1e-3 * scale)) or modes >= largest:
            return SpectralSolution(a, b, values, vectors, change + round_off, modes)
