"""Reference solutions of the simplified freely propagating premixed flame (numpy/scipy only).

On x in [0, L], with s the flame speed (the eigenvalue):

    lambda T'' - rho_in s cp T' + q omega(T, s) = 0,
    T(0) = T_in,  T'(0) = G,  T'(L) = 0,

    omega = A exp(-E_a / (R T)) (rho Y_F)^nu,   Y_F = Y_in + cp (T_in - T) / q,  Y_in = phi / (phi + 4),
    rho = rho_in s / u,   u = 2 R_g T / (c + sqrt(c^2 - 4 R_g T)),   c = s + R_g T_in / s,

(u is the subsonic root of u^2 - c u + R_g T = 0, from rho u = rho_in s and p + rho u^2 = const,
written without the cancellation of (c - sqrt(...)) / 2), R_g = R / W, rho_in = p / (R_g T_in).

Two independent methods:

* `shoot`: for a trial s the initial-value problem from x = 0 is integrated with an 8th-order
  adaptive Runge-Kutta method; below the eigenvalue the temperature turns back (T' = 0 before the
  fuel is burnt), above it T runs past the adiabatic temperature. Bisection on that outcome
  brackets s to round-off. It gives s and a starting profile.
* `solve_fd`: second-order finite differences on a uniform mesh (central in the interior, one-sided
  second-order at the three boundary conditions), all nodal temperatures and s solved together by
  Newton's method with a sparse Jacobian. `solve_converged` refines the mesh by factors of two
  until Richardson extrapolation of s (observed order 2) agrees to a tolerance, and reports the
  convergence table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.integrate import solve_ivp
from scipy.sparse.linalg import spsolve

from pinn.constants import GAS_CONSTANT_J_PER_MOL_K_FLAMEPINN
from pinn.reference.cache import solved_once

MAX_RHS_CALLS = 200_000  # per shot, and
TOTAL_RHS_CALLS = 600_000  # per shoot() (~8 s; the defaults use ~80 000): bounds the work on absurdly stiff parameter sets


@dataclass(frozen=True)
class FlameParameters:
    phi: float = 0.42
    T_in: float = 298.0
    pressure: float = 101325.0
    L: float = 1.5e-3
    inlet_gradient: float = 1.0e5
    conductivity: float = 0.026
    cp: float = 1000.0
    heat_release: float = 5.0e7
    molar_mass: float = 28.97e-3
    pre_exponential: float = 1.4e8
    activation_energy: float = 1.214172e5
    reaction_order: float = 1.6

    @property
    def R_g(self) -> float:
        return GAS_CONSTANT_J_PER_MOL_K_FLAMEPINN / self.molar_mass

    @property
    def rho_in(self) -> float:
        return self.pressure / (self.R_g * self.T_in)

    @property
    def Y_in(self) -> float:
        return self.phi / (self.phi + 4.0)

    @property
    def T_max(self) -> float:
        """Adiabatic flame temperature: all fuel burnt."""
        return self.T_in + self.heat_release * self.Y_in / self.cp


def velocity(p: FlameParameters, T: np.ndarray, s: float) -> np.ndarray:
    c = s + p.R_g * p.T_in / s
    return 2.0 * p.R_g * T / (c + np.sqrt(c * c - 4.0 * p.R_g * T))


def density(p: FlameParameters, T: np.ndarray, s: float) -> np.ndarray:
    return p.rho_in * s / velocity(p, T, s)


def fuel(p: FlameParameters, T: np.ndarray) -> np.ndarray:
    return p.Y_in + p.cp * (p.T_in - T) / p.heat_release


def reaction_rate(p: FlameParameters, T: np.ndarray, s: float) -> np.ndarray:
    """omega; zero once the fuel is used up (T >= T_max)."""
    Y = np.maximum(fuel(p, T), 0.0)
    rho = density(p, T, s)
    return p.pre_exponential * np.exp(-p.activation_energy / (GAS_CONSTANT_J_PER_MOL_K_FLAMEPINN * T)) * (rho * Y) ** p.reaction_order


def _rate_derivatives(p: FlameParameters, T: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray]:
    """d omega / dT and d omega / ds, from u^2 - c u + R_g T = 0 differentiated implicitly."""
    omega = reaction_rate(p, T, s)
    u = velocity(p, T, s)
    c = s + p.R_g * p.T_in / s
    du_dT = p.R_g / (c - 2.0 * u)
    du_ds = u * (1.0 - p.R_g * p.T_in / s**2) / (2.0 * u - c)
    Y = fuel(p, T)
    burning = Y > 0
    safe_Y = np.where(burning, Y, 1.0)
    dlog_dT = (p.activation_energy / (GAS_CONSTANT_J_PER_MOL_K_FLAMEPINN * T**2)
               + p.reaction_order * (-du_dT / u - p.cp / (p.heat_release * safe_Y)))
    dlog_ds = p.reaction_order * (1.0 / s - du_ds / u)
    return np.where(burning, omega * dlog_dT, 0.0), np.where(burning, omega * dlog_ds, 0.0)


class FlameDoesNotFit(ValueError):
    """The domain is shorter than the flame, so the anchored problem has no physical solution."""


# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShootingResult:
    s: float
    x: np.ndarray
    T: np.ndarray
    bracket: tuple[float, float]
    burnt_at: float  # where 99% of the temperature rise is reached (inf if nowhere)


def _shot(p: FlameParameters, s: float, rtol: float = 1e-11, budget: list[int] | None = None) -> tuple[int, Any]:
    """+1 if T runs past T_max (s above the eigenvalue), -1 if T turns back first (below)."""
    a = p.rho_in * s * p.cp / p.conductivity

    calls = [0]

    def rhs(x, y):
        calls[0] += 1
        if calls[0] > MAX_RHS_CALLS:
            raise RuntimeError(f"shooting at s={s:.6g} m/s needs more than {MAX_RHS_CALLS} steps: the problem is "
                               "too stiff for the reference solver (extreme rate parameters)")
        if budget is not None:
            budget[0] -= 1
            if budget[0] < 0:
                raise RuntimeError("shooting used up its budget of right-hand-side evaluations: the problem is "
                                   "too stiff for the reference solver (extreme rate parameters)")
        return [y[1], a * y[1] - p.heat_release * reaction_rate(p, np.array(y[0]), s) / p.conductivity]

    def turns_back(x, y):
        return y[1]

    def burnt(x, y):
        return y[0] - p.T_max

    turns_back.terminal, turns_back.direction = True, -1
    burnt.terminal, burnt.direction = True, 1
    sol = solve_ivp(rhs, (0.0, 50 * p.L), [p.T_in, p.inlet_gradient], method="DOP853", rtol=rtol,
                    atol=1e-12 * p.T_max, events=(turns_back, burnt), dense_output=True)
    if sol.t_events[1].size:
        return 1, sol
    if sol.t_events[0].size:
        return -1, sol
    return (1 if sol.y[1, -1] > 0 else -1), sol


def shoot(p: FlameParameters, s_guess: float = 0.3, iterations: int = 200) -> ShootingResult:
    """Flame speed by bisection on the outcome of shooting from the inlet."""
    lo = hi = s_guess
    budget = [TOTAL_RHS_CALLS]
    while _shot(p, lo, budget=budget)[0] > 0:
        lo *= 0.5
        if lo < 1e-8:
            raise RuntimeError("shooting found no flame speed: every trial burns through")
    while _shot(p, hi, budget=budget)[0] < 0:
        hi *= 2.0
        if hi > 1e4:
            raise RuntimeError("shooting found no flame speed: every trial turns back")
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if _shot(p, mid, budget=budget)[0] > 0:
            hi = mid
        else:
            lo = mid
    _, sol = _shot(p, lo, budget=budget)
    end = sol.t[-1]
    fine = np.linspace(0.0, end, 20001)
    rise = sol.sol(fine)[0] - p.T_in
    reached = np.nonzero(rise >= 0.99 * (p.T_max - p.T_in))[0]
    x = np.linspace(0.0, p.L, 2001)
    T = np.where(x <= end, sol.sol(np.minimum(x, end))[0], sol.y[0, -1])
    return ShootingResult(0.5 * (lo + hi), x, T, (lo, hi), float(fine[reached[0]]) if reached.size else np.inf)


# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FDFlame:
    x: np.ndarray
    T: np.ndarray
    s: float
    newton_iterations: int


def _fd_system(p: FlameParameters, T: np.ndarray, s: float, h: float) -> tuple[np.ndarray, sp.csr_matrix]:
    n = T.size
    lam, q, cp = p.conductivity, p.heat_release, p.cp
    F = np.empty(n + 1)
    F[0] = T[0] - p.T_in
    F[1] = (-3 * T[0] + 4 * T[1] - T[2]) / (2 * h) - p.inlet_gradient
    Ti = T[1:-1]
    d2 = (T[2:] - 2 * Ti + T[:-2]) / h**2
    d1 = (T[2:] - T[:-2]) / (2 * h)
    F[2:n] = lam * d2 - p.rho_in * s * cp * d1 + q * reaction_rate(p, Ti, s)
    F[n] = (3 * T[-1] - 4 * T[-2] + T[-3]) / (2 * h)

    dw_dT, dw_ds = _rate_derivatives(p, Ti, s)
    rows, cols, vals = [0, 1, 1, 1], [0, 0, 1, 2], [1.0, -3 / (2 * h), 4 / (2 * h), -1 / (2 * h)]
    i = np.arange(1, n - 1)
    lower = lam / h**2 + p.rho_in * s * cp / (2 * h)
    upper = lam / h**2 - p.rho_in * s * cp / (2 * h)
    rows += list(np.repeat(i + 1, 3))
    cols += list(np.stack([i - 1, i, i + 1], axis=1).ravel())
    vals += list(np.stack([np.full(i.size, lower), -2 * lam / h**2 + q * dw_dT, np.full(i.size, upper)], axis=1).ravel())
    rows += list(i + 1)
    cols += [n] * i.size
    vals += list(-p.rho_in * cp * d1 + q * dw_ds)
    rows += [n, n, n]
    cols += [n - 3, n - 2, n - 1]
    vals += [1 / (2 * h), -4 / (2 * h), 3 / (2 * h)]
    J = sp.csr_matrix((vals, (rows, cols)), shape=(n + 1, n + 1))
    return F, J


def solve_fd(p: FlameParameters, n_cells: int, x0: np.ndarray, T0: np.ndarray, s0: float,
             tol: float = 1e-13, max_iter: int = 60) -> FDFlame:
    """Newton on the finite-difference system from the guess (x0, T0, s0), with step halving."""
    x = np.linspace(0.0, p.L, n_cells + 1)
    h = x[1] - x[0]
    T, s = np.interp(x, x0, T0), float(s0)
    scale = np.concatenate([np.full(x.size, p.T_max), [s0]])
    for it in range(1, max_iter + 1):
        F, J = _fd_system(p, T, s, h)
        delta = spsolve(J.tocsc(), -F)
        step = 1.0
        norm0 = np.linalg.norm(F / np.maximum(np.abs(F).max(), 1e-300))
        while step > 1e-4:
            T_new, s_new = T + step * delta[:-1], s + step * delta[-1]
            if s_new > 0 and np.all(T_new > 0):
                F_new, _ = _fd_system(p, T_new, s_new, h)
                if np.all(np.isfinite(F_new)) and np.linalg.norm(F_new / np.maximum(np.abs(F).max(), 1e-300)) < norm0 or step < 0.1:
                    break
            step *= 0.5
        T, s = T_new, s_new
        if np.max(np.abs(step * delta) / scale) < tol:
            return FDFlame(x, T, s, it)
    raise RuntimeError(f"Newton did not converge on {n_cells} cells")


@dataclass(frozen=True)
class ConvergedFlame:
    s: float                      # Richardson-extrapolated flame speed
    error_estimate: float         # |extrapolated - finest raw| bound on the finest levels
    observed_order: float
    table: list[dict[str, float]] = field(default_factory=list)  # cells, h, s, difference, order
    finest: FDFlame | None = None
    shooting_s: float = float("nan")


@solved_once  # the inverse problem draws its data from it too
def solve_converged(p: FlameParameters, n_cells: int = 1000, levels: int = 6, rtol: float = 1e-11) -> ConvergedFlame:
    """Shoot for a start, then Newton-FD on n_cells * 2^k cells; Richardson on the last levels."""
    start = shoot(p)
    x0, T0, s0 = start.x, start.T, start.s
    solutions: list[FDFlame] = []
    table: list[dict[str, float]] = []
    for k in range(levels):
        try:
            fd = solve_fd(p, n_cells * 2**k, x0, T0, s0)
        except RuntimeError:
            if start.burnt_at < p.L:
                raise
            needs = f"about {start.burnt_at:.2g} m" if np.isfinite(start.burnt_at) else f"more than {50 * p.L:.2g} m"
            raise FlameDoesNotFit(f"the flame needs {needs} to burn out (99% of the temperature rise) "
                                  f"but L={p.L:g} m; increase L") from None
        solutions.append(fd)
        x0, T0, s0 = fd.x, fd.T, fd.s
        row = {"cells": n_cells * 2**k, "h": float(fd.x[1]), "s": fd.s, "difference": float("nan"),
               "order": float("nan"), "extrapolated": float("nan")}
        if k >= 1:
            row["difference"] = fd.s - solutions[-2].s
            row["extrapolated"] = fd.s + (fd.s - solutions[-2].s) / 3.0
        if k >= 2:
            row["order"] = float(np.log2(abs(table[-1]["difference"] / row["difference"])))
        table.append(row)
        if k >= 2 and abs(row["extrapolated"] - table[-1]["extrapolated"]) < rtol * abs(fd.s):
            break
    last = table[-1]
    error = abs(last["extrapolated"] - table[-2]["extrapolated"]) if len(table) >= 3 else abs(last["difference"])
    return ConvergedFlame(last["extrapolated"], error + 1e-15 * abs(last["s"]), last["order"], table,
                          solutions[-1], start.s)


def profiles(p: FlameParameters, x: np.ndarray, T: np.ndarray, s: float) -> dict[str, np.ndarray]:
    """Every field of the flame from T(x) and s."""
    return {"x": x, "T": T, "u": velocity(p, T, s), "rho": density(p, T, s), "Y_F": fuel(p, T),
            "omega": reaction_rate(p, T, s)}

