"""A decaying envelope for states in a smooth potential, shaped from the potential itself.

Beyond its outermost classical turning point (where V = E) a state decays like the WKB factor
exp(-S(t)), S(t) = integral from the turning point to t of sqrt(V - E). In a stiff potential that
decay spans a hundred e-folds or more over most of the domain (harmonic omega = 10.5 on
[-4.6, 4.6]: 110), which a small tanh network represents only slowly and roughly. Such a state's
trial function carries exp(-P(z)), with P a low-degree Chebyshev series fitted to S on the
network's coordinate z in [-1, 1], and the network represents the slowly varying rest.

P need not equal S: the envelope's value and derivatives come from the same polynomial (P, P' and
P'' by Clenshaw's recurrence from the differentiated series, then the chain rule through the
coordinate), so psi'' is exact for whatever P is; the fit only has to be smooth and close enough
that psi exp(P) varies slowly.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from pinn.numerics.jets import Jet

DEGREE = 12
SAMPLES = 4001
# e-folds of WKB decay inside the domain below which a state gets no envelope (the bare network does
# better there). Measured on harmonic (alone, 2 cores), bare -> with the envelope: omega = 1 on
# [-5, 5] (11 e-folds) 1.3e-10 -> 2.0e-9; omega = 6 (73) 7.8e-9 in 15 s -> 5.2e-9 in 76 s; omega = 8
# (100) 9.6e-10 in 17 s -> 9.4e-11 in 12 s; omega = 20 (250) a skipped level -> 4.9e-9. Not a rule:
# the quartic 0.4177 x^4 - x^2 on [-7.17, 7.17], n_states=3 (73 e-folds) is unconverged bare (4.1e-7)
# and converged with the envelope (2.3e-9, twice as fast).
LEAST_DECAY = 90.0


def wkb_action(potential: Callable[[np.ndarray], np.ndarray], energy: float, t: np.ndarray) -> np.ndarray:
    """S(t) on the ascending grid t: the integral of sqrt(max(V - E, 0)) outward from the outermost
    grid points with V <= E on either side, zero between them (trapezoid rule)."""
    excess = np.asarray(potential(t), dtype=float) - energy
    allowed = np.flatnonzero(excess <= 0)
    if allowed.size == 0:
        return np.zeros_like(t)
    kappa = np.sqrt(np.maximum(excess, 0.0))
    steps = 0.5 * (kappa[1:] + kappa[:-1]) * np.diff(t)
    action = np.zeros_like(t)
    right, left = allowed[-1], allowed[0]
    action[right + 1:] = np.cumsum(steps[right:])
    if left > 0:
        action[:left] = np.cumsum(steps[:left][::-1])[::-1]
    return action


def fit_envelope(potential: Callable[[np.ndarray], np.ndarray], energy: float, lo: float, hi: float,
                 even: bool, degree: int = DEGREE) -> np.ndarray:
    """Chebyshev coefficients of P(z) ~ S on [lo, hi] and of P' and P'' (rows 0, 1, 2, padded to
    degree + 1); with `even`, lo = 0, the solver coordinate is t >= 0 of a symmetric problem and z
    is t^2 mapped onto [-1, 1] (so P is even in t)."""
    z = np.cos(np.linspace(np.pi, 0.0, SAMPLES))
    t = np.sqrt(0.5 * (z + 1.0)) * hi if even else lo + 0.5 * (z + 1.0) * (hi - lo)
    action = wkb_action(potential, energy, t)
    rows = np.zeros((3, degree + 1))
    if np.max(action) > LEAST_DECAY:
        series = np.polynomial.chebyshev.chebfit(z, action, degree)
        for k in range(3):
            rows[k, : degree + 1 - k] = np.polynomial.chebyshev.chebder(series, k) if k else series
    return rows


def clenshaw(z: torch.Tensor, coefficients: torch.Tensor) -> torch.Tensor:
    """sum_k c_k T_k(z), by Clenshaw's recurrence."""
    b1 = b2 = torch.zeros_like(z)
    for c in coefficients.unbind(-1)[:0:-1]:
        b1, b2 = c + 2.0 * z * b1 - b2, b1
    return coefficients[..., 0] + z * b1 - b2


def envelope_jet(z: Jet, fit: torch.Tensor) -> Jet:
    """exp(-P(z)) with its derivatives, given the rows of `fit_envelope`."""
    P, dP, d2P = (clenshaw(z.value, row) for row in fit.unbind(0))
    return (-z.apply(P, dP, d2P)).exp()
