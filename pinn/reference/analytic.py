"""Exact eigenpairs of -psi'' + V psi = E psi with Dirichlet walls (numpy/scipy only).

Two families have closed forms or exact matching conditions:

* the infinite well on [0, L]: E_n = (n+1)^2 pi^2 / L^2, psi_n = sqrt(2/L) sin((n+1) pi x / L);
* the symmetric step potential on [-L, L]: V = V_in for |x| < a, V_out for a < |x| < L.
  The finite well is (V_in, V_out) = (0, V0), the barrier in a box is (V0, 0).

For the step potential, with z = E - V in a region, the two fundamental solutions are
C(z, y) = cos(sqrt(z) y) and S(z, y) = sin(sqrt(z) y) / sqrt(z) (cosh/sinh for z < 0), entire
functions of E with C' = -z S and S' = C. Inside, psi is C(z_in, x) (even) or S(z_in, x) (odd);
outside, the solution vanishing at the wall is u(x) = S(z_out, L - |x|). Continuity of psi and
psi' at |x| = a is the vanishing Wronskian W(E) = psi(a) u'(a) - psi'(a) u(a) = 0, which is
free of poles, so every eigenvalue is a bracketed sign change of W.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.optimize import brentq


@dataclass(frozen=True)
class Eigenpairs:
    """Eigenvalues (ascending) and normalized eigenfunctions, one callable per state."""

    eigenvalues: np.ndarray
    eigenfunctions: tuple[Callable[[np.ndarray], np.ndarray], ...]


def infinite_well(L: float, n_states: int) -> Eigenpairs:
    """E_n = (n+1)^2 pi^2 / L^2 on [0, L]."""
    modes = np.arange(1, n_states + 1)
    energies = (modes * np.pi / L) ** 2

    def mode(k: int) -> Callable[[np.ndarray], np.ndarray]:
        return lambda x: np.sqrt(2.0 / L) * np.sin(k * np.pi * np.asarray(x, float) / L)

    return Eigenpairs(energies, tuple(mode(k) for k in modes))


def _scaled_fundamentals(z: float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """(C, S) at distance y, both divided by cosh(sqrt(-z) y) when z < 0 to avoid overflow.

    The common positive factor changes neither signs nor ratios, which is all the
    matching condition and the eigenfunction construction need.
    """
    y = np.asarray(y, float)
    if z > 0:
        k = np.sqrt(z)
        return np.cos(k * y), np.sin(k * y) / k
    if z < 0:
        k = np.sqrt(-z)
        return np.ones_like(y), np.tanh(k * y) / k
    return np.ones_like(y), y.copy()


def _fundamentals(z: float, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unscaled (C, S); for z < 0 written with exp(-2ky) so moderate k*y stays finite."""
    if z >= 0:
        return _scaled_fundamentals(z, y)
    k = np.sqrt(-z)
    return np.cosh(k * y), np.sinh(k * y) / k


def _wronskian(E: float, V_in: float, V_out: float, a: float, L: float, parity: int) -> float:
    z_in, z_out = E - V_in, E - V_out
    c_in, s_in = _scaled_fundamentals(z_in, a)
    psi, dpsi = (c_in, -z_in * s_in) if parity == 0 else (s_in, c_in)
    c_out, s_out = _scaled_fundamentals(z_out, L - a)
    u, du = s_out, -c_out
    return float(psi * du - dpsi * u)


def _count_nodes(f: Callable[[np.ndarray], np.ndarray], L: float) -> int:
    x = np.linspace(-L, L, 20001)[1:-1]
    values = f(x)
    values = values[np.abs(values) > 1e-12 * np.max(np.abs(values))]
    return int(np.sum(np.signbit(values[1:]) != np.signbit(values[:-1])))


def _step_eigenfunction(
    E: float, V_in: float, V_out: float, a: float, L: float, parity: int
) -> Callable[[np.ndarray], np.ndarray]:
    z_in, z_out = E - V_in, E - V_out

    def inner(y: np.ndarray) -> np.ndarray:
        c, s = _fundamentals(z_in, y)
        return c if parity == 0 else s

    psi_a = float(inner(np.array(a)))

    def outer(y: np.ndarray) -> np.ndarray:
        """psi(a) * u(y) / u(a), with u(y) = S(z_out, L - y), computed without overflow."""
        w, d = L - a, L - y
        if z_out < 0:
            k = np.sqrt(-z_out)
            return psi_a * np.exp(-k * (y - a)) * (-np.expm1(-2 * k * d)) / (-np.expm1(-2 * k * w))
        return psi_a * _fundamentals(z_out, d)[1] / _fundamentals(z_out, np.array(w))[1]

    def raw(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, float)
        y = np.abs(x)
        sign = np.where(x < 0, -1.0, 1.0) if parity == 1 else 1.0
        inside = y < a
        out = np.where(inside, inner(np.where(inside, y, 0.0)), outer(np.where(inside, a, y)))
        return sign * out

    # normalize with composite Gauss-Legendre on each smooth piece
    nodes, weights = np.polynomial.legendre.leggauss(200)
    total = 0.0
    for lo, hi in ((0.0, a), (a, L)):
        xs = 0.5 * (hi - lo) * nodes + 0.5 * (hi + lo)
        total += 0.5 * (hi - lo) * np.sum(weights * raw(xs) ** 2)
    scale = _left_wall_sign(raw, L) / np.sqrt(2.0 * total)
    return lambda x: scale * raw(x)


def _left_wall_sign(f: Callable[[np.ndarray], np.ndarray], L: float) -> float:
    """Sign convention shared with the FD solver: psi > 0 just inside the left wall."""
    values = f(np.linspace(-L, L, 20001)[1:-1])
    first = np.argmax(np.abs(values) > 1e-8 * np.max(np.abs(values)))
    return float(np.sign(values[first]))


def symmetric_step_well(V_in: float, V_out: float, a: float, L: float, n_states: int) -> Eigenpairs:
    """The n_states lowest eigenpairs of the symmetric step potential on [-L, L].

    States alternate in parity (state n has n nodes), so the k-th even root is state 2k and the
    k-th odd root is state 2k+1. Roots are bracketed on a scan finer than any same-parity level
    spacing and polished with brentq; the node count of every eigenfunction is checked.
    """
    if not 0 < a < L:
        raise ValueError(f"need 0 < a < L, got a={a}, L={L}")
    needed = {0: (n_states + 1) // 2, 1: n_states // 2}
    E_lo = min(V_in, V_out)
    unit = (np.pi / (2 * L)) ** 2
    roots: dict[int, list[float]] = {0: [], 1: []}
    span = max(unit * (n_states + 2) ** 2, abs(V_in - V_out)) * 1.5 + unit
    while any(len(roots[p]) < needed[p] for p in (0, 1)):
        grid = np.linspace(E_lo, E_lo + span, int(span / unit * 40) + 2)
        for parity in (0, 1):
            f = np.array([_wronskian(E, V_in, V_out, a, L, parity) for E in grid])
            change = np.nonzero(np.signbit(f[1:]) != np.signbit(f[:-1]))[0]
            roots[parity] = [
                brentq(_wronskian, grid[i], grid[i + 1], args=(V_in, V_out, a, L, parity),
                       xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=200)
                for i in change
            ]
        span *= 2
    states = []
    for n in range(n_states):
        parity, k = n % 2, n // 2
        E = roots[parity][k]
        psi = _step_eigenfunction(E, V_in, V_out, a, L, parity)
        nodes = _count_nodes(psi, L)
        if nodes != n:
            raise RuntimeError(f"analytic state {n} has {nodes} nodes; root bracketing missed a level")
        states.append((E, psi))
    return Eigenpairs(np.array([E for E, _ in states]), tuple(psi for _, psi in states))
