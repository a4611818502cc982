"""A starting depth for the inverse finite well, read off its density samples.

The ground state of V = 0 for |x| < a, V0 for a < |x| < L (walls at +-L), E = k^2 < V0 = k^2 + kappa^2:

    inside   psi = cos(k x),                    so  log rho = 2 log cos(k x) + c,
    outside  psi ~ sinh(kappa (L - |x|)),        so  log rho = 2 log sinh(kappa (L - |x|)) + c',

matched at |x| = a by k tan(k a) = kappa coth(kappa (L - a)). One decay rate fixes the other, so
the samples on either side suffice: kappa from those outside the well (a least-squares scan over
the rate, each trial's offset c' fitted in closed form), else k from those inside. Noise of a few
per cent in rho moves log rho by as much, which the fit averages. The answer only starts the
training; the inference is the PINN's.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

# trial rates of each scan: kappa log-spaced over 1e-3 / L .. 1e3 / L, k evenly over (0, pi / (2a))
SCAN = 400


def _best_rate(distance: np.ndarray, log_rho: np.ndarray, shape, rates: np.ndarray) -> float:
    """The rate r of the scan minimizing sum (log rho - 2 log shape(r d) - c)^2 over r and c."""
    best, best_cost = math.nan, math.inf
    for r in rates:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            model = 2.0 * np.log(shape(r * distance))
        if not np.all(np.isfinite(model)):
            continue
        offset = np.mean(log_rho - model)
        cost = float(np.sum((log_rho - model - offset) ** 2))
        if cost < best_cost:
            best, best_cost = float(r), cost
    return best


def depth_from_density(x: np.ndarray, rho: np.ndarray, half_width: float, L: float) -> float | None:
    """V0 = k^2 + kappa^2 from samples rho(x) of the ground-state density (see the module text);
    None where neither side of the step holds two samples at distinct distances."""
    x, rho = np.abs(np.asarray(x, dtype=float)), np.asarray(rho, dtype=float)
    usable = np.isfinite(x) & np.isfinite(rho) & (rho > 0)
    x, log_rho = x[usable], np.log(rho[usable])
    a, outside_width = half_width, L - half_width
    k_max = math.pi / (2 * a)

    def k_of(kappa: float) -> float:
        target = kappa / math.tanh(kappa * outside_width)
        return brentq(lambda k: k * math.tan(k * a) - target, 1e-12 * k_max, k_max * (1 - 1e-12))

    def distinct(where: np.ndarray) -> int:
        return np.unique(np.round(x[where] / L, 9)).size  # +x and -x are one distance

    outside = (x > a) & (x < L)
    if distinct(outside) >= 2:
        rates = np.geomspace(1e-3 / L, 1e3 / L, SCAN)
        kappa = _best_rate(L - x[outside], log_rho[outside], np.sinh, rates)
        if math.isfinite(kappa):
            k = k_of(kappa)
            return k * k + kappa * kappa
    inside = x < a
    if distinct(inside) >= 2:
        k = _best_rate(x[inside], log_rho[inside], np.cos, np.linspace(1e-3, 1 - 1e-3, SCAN) * k_max)
        if math.isfinite(k):
            # kappa coth(kappa (L - a)) = k tan(k a): increasing in kappa from 1 / (L - a)
            target = k * math.tan(k * a)
            floor = 1.0 / outside_width
            if target <= floor:
                return k * k
            kappa = brentq(lambda q: q / math.tanh(q * outside_width) - target, 1e-12, target + floor)
            return k * k + kappa * kappa
    return None
