"""How far a Rayleigh quotient is from the eigenvalue it approximates, from the residual alone.

For a normalized trial function psi (satisfying the boundary conditions) with Rayleigh quotient R
and residual r = (H - R) psi, write psi = u + d with u the nearby eigenfunction (eigenvalue E*)
and d orthogonal to u. Then exactly

    R - E* = <d, (H - E*) d>,        and to leading order  d = (H - E*)^-1 r  (off u),

so  R - E*  ~  <r, (H - R)^-1 r>  off the own state: the residual measured in the H^-1 norm. In the
eigenbasis (lambda_k, v_k) of a Galerkin approximation of H this is

    sum_{k != own} <v_k, r>^2 / |lambda_k - R|   +   |r beyond the basis|^2 / (lambda_max - R),

the terms taken in absolute value (an excited state has levels on both sides), the part of r the
basis does not hold counted as if it all sat at the top of the basis. Where the Kato-Temple bound
divides the whole |r|^2 by the gap to the nearest level, this divides each part of r by its own
distance from R: a network's error is mostly high-frequency, which the Kato-Temple bound counts
hundreds of times over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

# Galerkin levels this close (relative) are one degenerate level
DEGENERATE = 1e-9


def quotient_error(residual_coefficients: np.ndarray, psi_coefficients: np.ndarray, levels: np.ndarray,
                   rayleigh: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Estimated |R - E*| of each state (see the module text).

    residual_coefficients, psi_coefficients: <v_k, r> and <v_k, psi> (states x modes) in the
    orthonormal Galerkin eigenbasis with ascending `levels`; rayleigh, radius: R and |r| per state.
    The own level is that of the basis vector psi overlaps most, with every vector of the same
    level (to DEGENERATE relative): r along another vector of a degenerate level moves psi within
    the eigenspace, which leaves R where it is."""
    own = levels[np.argmax(np.abs(psi_coefficients), axis=1)]
    gaps = np.abs(levels[None, :] - rayleigh[:, None])
    terms = residual_coefficients**2 / np.maximum(gaps, 1e-300)
    terms[np.abs(levels[None, :] - own[:, None]) <= DEGENERATE * np.abs(own[:, None])] = 0.0
    beyond = np.maximum(radius**2 - (residual_coefficients**2).sum(axis=1), 0.0)
    return terms.sum(axis=1) + beyond / np.maximum(levels[-1] - rayleigh, 1e-300)


@dataclass(frozen=True)
class Estimate:
    """Per state: Rayleigh quotient R, Weinstein radius |r| (Weinstein's theorem: [R - |r|, R + |r|]
    holds an eigenvalue, for any psi satisfying the boundary conditions, as the trial functions do
    exactly), the H^-1 estimate of |R - E*|, the
    estimated relative error of the eigenvalue parameter (|E - R| + that, over |E|); and the lowest
    Galerkin levels (upper bounds of the true levels)."""

    rayleigh: np.ndarray
    radius: np.ndarray
    quotient_error: np.ndarray
    relative_error: np.ndarray
    galerkin_levels: np.ndarray    # one more than the states: the level above the last too


# a quadrature resolves a trained state when doubling its nodes moves the state's Weinstein radius
# and estimated error by at most this fraction of their values on the finer rule
RESOLVED_CHANGE = 0.1
# the finest rule tried: this many times the nodes of the estimator's own
MAX_REFINEMENT = 16
# relative size of a quadrature's rounding: changes of the estimated relative error below it, and of
# the radius below it times |R|, count as none
ROUNDING = 1e-12


@dataclass(frozen=True)
class Resolved:
    """An estimate on the rule `refinement` times as fine as the estimator's, and whether halving
    that rule changed it by at most RESOLVED_CHANGE (`agreed`) or the finest rule was reached
    without agreement (`changes`: per state, the last relative change of radius or error)."""

    estimate: Estimate
    refinement: int
    agreed: bool
    changes: np.ndarray


def resolved(estimate_on: Callable[[int], Estimate], max_refinement: int = MAX_REFINEMENT) -> Resolved:
    """The estimate of `estimate_on(refinement)` on rules 1, 2, 4, ... times as fine, up to the first
    whose doubling no longer changes it. Training reads the estimate on the coarsest rule, which
    is cheap; a network can grow a feature narrower than that rule's node spacing (one weight in
    the thousands), which the rule then misses in the residual. The bounds a run reports come from
    here instead."""
    coarse, refinement = estimate_on(1), 1
    while True:
        fine = estimate_on(2 * refinement)
        changes = np.maximum(_change(coarse.radius, fine.radius, ROUNDING * np.abs(fine.rayleigh)),
                             _change(coarse.relative_error, fine.relative_error, ROUNDING))
        refinement *= 2
        if bool(np.all(changes <= RESOLVED_CHANGE)) or refinement >= max_refinement:
            return Resolved(fine, refinement, bool(np.all(changes <= RESOLVED_CHANGE)), changes)
        coarse = fine


def _change(coarse: np.ndarray, fine: np.ndarray, floor) -> np.ndarray:
    """|fine - coarse| relative to |fine|, or to `floor` where that is larger (rounding)."""
    return np.abs(fine - coarse) / np.maximum(np.maximum(np.abs(fine), floor), 1e-300)
