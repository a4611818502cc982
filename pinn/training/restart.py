"""Restarting a state that skipped a level: its network refitted to an independent estimate of the
eigenfunction it should have found (the problem's Galerkin solve, never the reference), its
eigenvalue set to that estimate's level; the schedule's last phase then converges it from there.

The fit is a least-squares problem in the state's own network, value and gradient,
min |sqrt(w) (psi - g)|^2 + |sqrt(w) (grad psi - grad g)|^2 / E_s (rows from `Problem.restart_state`),
solved by Levenberg-Marquardt; the other states do not move.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch

from pinn.numerics.uncertainty import ResidualModule
from pinn.training.optimizers import LevenbergMarquardt, block_rows

log = logging.getLogger("pinn")

FIT_STEPS = 200
# the fit stops once its rms misfit (value and scaled slope, relative to |g| = 1) is this small:
# a Rayleigh quotient then within about its square of the level, for the last phase to converge
FIT_ENOUGH = 1e-3


def restart_states(problem: Any, model: Any, states: list[int], steps: int = FIT_STEPS) -> list[dict[str, Any]]:
    """Refit each of `states` (see the module text); per state, the fit's steps and rms misfit."""
    record = []
    for state in states:
        network, rows = problem.restart_state(model, state)
        optimizer = LevenbergMarquardt(ResidualModule(network), rows, damping=1e-3)
        with torch.no_grad():
            initial = float((block_rows(rows()) ** 2).sum())
        loss, taken = initial, 0
        for taken in range(1, steps + 1):
            loss = optimizer.step()
            if taken % 25 == 0:
                log.debug("restart fit of state %d: step %d, rms misfit %.1e", state, taken, math.sqrt(max(loss, 0.0)))
            if optimizer.converged or loss <= FIT_ENOUGH**2:
                break
        misfit = math.sqrt(max(loss, 0.0))
        log.info("state %d restarted from the Galerkin estimate: fitted in %d steps, rms misfit %.1e (from %.1e)",
                 state, taken, misfit, math.sqrt(initial))
        record.append({"state": state, "fit_steps": taken, "fit_misfit": misfit})
    return record
