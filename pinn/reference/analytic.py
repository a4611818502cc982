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

import dataclasses
import functools
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
    return Eigenpairs(energies, tuple(functools.partial(_sine_mode, L, int(k)) for k in modes))


def _sine_mode(L: float, k: int, x: np.ndarray) -> np.ndarray:
    return np.sqrt(2.0 / L) * np.sin(k * np.pi * np.asarray(x, float) / L)


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


def _count_nodes(f: Callable[[np.ndarray], np.ndarray], a: float, L: float, parity: int) -> int:
    """Nodes of a parity-`parity` function on (-L, L): twice its sign changes on (0, L), sampled
    piece by piece, plus the node at 0 of an odd one. Only exact zeros (underflow) are skipped,
    so nodes deep inside a barrier, where |psi| is tiny, still count."""
    x = np.concatenate([np.linspace(lo, hi, 4001)[1:] for lo, hi in ((0.0, a), (a, L))])[:-1]
    values = f(x)
    values = values[values != 0]
    return 2 * int(np.sum(np.signbit(values[1:]) != np.signbit(values[:-1]))) + parity


def _levels_below(E: float, V_in: float, V_out: float, a: float, L: float, parity: int) -> int:
    """How many parity-`parity` eigenvalues lie below E.

    Sturm's oscillation theorem: it is the number of zeros in (0, L) of the solution with
    psi'(0) = 0 (even) or psi(0) = 0 (odd). They are counted with the Pruefer angle theta,
    psi = r sin(theta), psi' = s r cos(theta), which crosses each multiple of pi once, upwards:
    where E > V (scale s = sqrt(E - V)) theta grows by s w over a piece of width w; where E <= V
    it stays in the band between two fixed points of theta' that holds its entry value
    (theta' = s cos(2 theta), s = sqrt(V - E), or theta' = s cos^2(theta) when E = V), so the
    exit value is the one representative of atan2(psi, psi'/s) in that band.
    """
    theta, scale = (0.5 * np.pi if parity == 0 else 0.0), None
    for V, w in ((V_in, a), (V_out, L - a)):
        z = E - V
        new_scale = np.sqrt(abs(z)) if z != 0 else 1.0 / w
        if scale is not None:  # same psi and psi', new scale: the quadrant, hence the zeros, are kept
            theta += np.arctan2(np.sin(theta), scale / new_scale * np.cos(theta)) - np.arctan2(np.sin(theta), np.cos(theta))
        scale = new_scale
        if z > 0:
            theta += scale * w
            continue
        t = np.tanh(scale * w) if z < 0 else scale * w
        psi = np.sin(theta) + np.cos(theta) * t
        dpsi = np.cos(theta) + (np.sin(theta) * t if z < 0 else 0.0)
        offset = 0.25 * np.pi if z < 0 else 0.5 * np.pi
        lower = np.floor((theta + offset) / np.pi) * np.pi - offset
        theta = lower + np.mod(np.arctan2(psi, dpsi) - lower, np.pi)
    return int(np.ceil(theta / np.pi)) - 1


def _bracket(level: int, E_lo: float, unit: float, count: Callable[[float], int]) -> tuple[float, float]:
    """An interval holding exactly one eigenvalue: the one with `level` others below it."""
    lo, hi = E_lo, E_lo + unit
    while count(hi) <= level:
        lo, hi = hi, E_lo + 2 * (hi - E_lo)
    while not (count(lo) == level and count(hi) == level + 1):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if count(mid) <= level:
            lo = mid
        else:
            hi = mid
    return lo, hi


@dataclass(frozen=True)
class StepEigenfunction:
    """The eigenfunction of the symmetric step well at E with the given parity, unnormalized
    (`scale` = 1) or times `scale`: C or S of z_in = E - V_in inside |x| < a, matched at a to the
    solution of z_out = E - V_out that vanishes at the wall L."""

    E: float
    V_in: float
    V_out: float
    a: float
    L: float
    parity: int
    scale: float = 1.0

    def inner(self, y: np.ndarray) -> np.ndarray:
        """C or S of z_in at y; under a barrier (z_in < 0) divided by its value at a, so that
        cosh and sinh of large arguments never overflow."""
        z_in, a = self.E - self.V_in, self.a
        if z_in < 0:
            k = np.sqrt(-z_in)
            sign = 1.0 if self.parity == 0 else -1.0
            return np.exp(k * (y - a)) * (1 + sign * np.exp(-2 * k * y)) / (1 + sign * np.exp(-2 * k * a))
        c, s = _fundamentals(z_in, y)
        return c if self.parity == 0 else s

    def outer(self, y: np.ndarray) -> np.ndarray:
        """psi(a) * u(y) / u(a), with u(y) = S(z_out, L - y), computed without overflow."""
        z_out, a = self.E - self.V_out, self.a
        psi_a = float(self.inner(np.array(a)))
        w, d = self.L - a, self.L - y
        if z_out < 0:
            k = np.sqrt(-z_out)
            return psi_a * np.exp(-k * (y - a)) * (-np.expm1(-2 * k * d)) / (-np.expm1(-2 * k * w))
        return psi_a * _fundamentals(z_out, d)[1] / _fundamentals(z_out, np.array(w))[1]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, float)
        y = np.abs(x)
        sign = np.where(x < 0, -1.0, 1.0) if self.parity == 1 else 1.0
        inside = y < self.a
        out = np.where(inside, self.inner(np.where(inside, y, 0.0)), self.outer(np.where(inside, self.a, y)))
        return self.scale * sign * out


def _step_eigenfunction(E: float, V_in: float, V_out: float, a: float, L: float, parity: int) -> StepEigenfunction:
    """The normalized eigenfunction, psi > 0 just inside the left wall."""
    raw = StepEigenfunction(E, V_in, V_out, a, L, parity)
    # normalize with composite Gauss-Legendre on each smooth piece
    nodes, weights = np.polynomial.legendre.leggauss(200)
    total = 0.0
    for lo, hi in ((0.0, a), (a, L)):
        xs = 0.5 * (hi - lo) * nodes + 0.5 * (hi + lo)
        total += 0.5 * (hi - lo) * np.sum(weights * raw(xs) ** 2)
    return dataclasses.replace(raw, scale=_left_wall_sign(raw, L, a) / np.sqrt(2.0 * total))


def _left_wall_sign(f: Callable[[np.ndarray], np.ndarray], L: float, a: float) -> float:
    """Sign convention shared with the FD solver: psi > 0 just inside the left wall."""
    values = f(np.concatenate([np.linspace(lo, hi, 4001)[1:] for lo, hi in ((-L, -a), (-a, a), (a, L))])[:-1])
    first = np.argmax(np.abs(values) > 1e-8 * np.max(np.abs(values)))
    return float(np.sign(values[first]))


def symmetric_step_well(V_in: float, V_out: float, a: float, L: float, n_states: int) -> Eigenpairs:
    """The n_states lowest eigenpairs of the symmetric step potential on [-L, L].

    States alternate in parity (state n has n nodes), so the k-th even root is state 2k and the
    k-th odd root is state 2k+1. Each root is isolated by bisection on the exact level count (the
    oscillation theorem), then polished with brentq on W; the node count of every eigenfunction is
    checked on the final functions.
    """
    if not 0 < a < L:
        raise ValueError(f"need 0 < a < L, got a={a}, L={L}")
    E_lo = min(V_in, V_out)
    unit = (np.pi / (2 * L)) ** 2
    roots: dict[int, list[float]] = {}
    for parity in (0, 1):
        roots[parity] = []
        for level in range((n_states + 1 - parity) // 2):
            lo, hi = _bracket(level, E_lo, unit, lambda E, p=parity: _levels_below(E, V_in, V_out, a, L, p))
            roots[parity].append(brentq(_wronskian, lo, hi, args=(V_in, V_out, a, L, parity),
                                        xtol=1e-14 * (hi - lo), rtol=4 * np.finfo(float).eps,
                                        maxiter=400))
    states = []
    for n in range(n_states):
        parity, k = n % 2, n // 2
        E = roots[parity][k]
        psi = _step_eigenfunction(E, V_in, V_out, a, L, parity)
        nodes = _count_nodes(psi, a, L, parity)
        if nodes != n:
            raise RuntimeError(f"analytic state {n} has {nodes} nodes; root bracketing missed a level")
        states.append((E, psi))
    return Eigenpairs(np.array([E for E, _ in states]), tuple(psi for _, psi in states))
