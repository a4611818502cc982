"""The refit of a one-dimensional state that skipped a level (pinn.training.restart): its eigenvalue
set to the Galerkin level of its index, and the rows of the fit of its wavefunction to that level's
Galerkin eigenfunction g, value and slope,

    sqrt(w) (psi - g),  sqrt(w) (psi' - g') / sqrt(E_s)

on Gauss nodes of each region, g signed to agree with psi where they overlap."""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
from torch import nn

from pinn.problems.base import Pointwise


def restart_state(problem: Any, model: Any, state: int) -> tuple[nn.Module, Any]:
    """(the state's networks, the fit rows as a Pointwise block) after setting its eigenvalue."""
    levels, _ = problem.estimator.galerkin_solution
    param = model.energy_raw
    if param.requires_grad:
        with torch.no_grad():
            param[state] = float(levels[state]) / model.energy_scale
    regions = problem.collocation(128, param.device, param.dtype)["regions"]
    blocks, overlap = [], 0.0
    for r, reg in enumerate(regions):
        x = reg["t"].detach().cpu().double().numpy() + (problem.center if problem.symmetric else 0.0)
        target = torch.stack([torch.as_tensor(problem.estimator.galerkin_function(state, x, slope), device=param.device,
                                              dtype=param.dtype) for slope in (False, True)], -1)
        with torch.no_grad():
            overlap += float((reg["w"] * problem.psi(model, state, r, reg["t"], order=0).value * target[:, 0]).sum())
        blocks.append((functools.partial(fit_rows, problem, model, state, r), reg["t"], reg["w"], target))
    sign = -1.0 if overlap < 0 else 1.0
    return model.states[state], lambda: Pointwise.join([Pointwise(f, t, w, sign * target) for f, t, w, target in blocks])


def fit_rows(problem: Any, model: Any, state: int, region: int, t: torch.Tensor, w: torch.Tensor,
             target: torch.Tensor) -> torch.Tensor:
    """The fit rows at the nodes t of one region (see the module text)."""
    f = problem.psi(model, state, region, t, order=1)
    unit = math.sqrt(problem.energy_scale)
    return w.sqrt()[:, None] * (torch.stack([f.value, f.d1 / unit], -1) - target * target.new_tensor([1.0, 1 / unit]))
