"""The inverse finite square well: the depth V0 and the ground level E0 are unknown and are
inferred, with the ground state, from noisy samples of its density rho(x) = psi_0(x)^2.

Training is a continuation from the starting guess: the warm-up (Rayleigh) and a `forward`
stage (Levenberg-Marquardt on the residual) solve the well at V0 = initial_V0, held and without
the data; then the `solve` stage adds the misfit of each observation in units of its
(multiplicative) noise, data_weight * log(rho(x_i) / rho_i) / sigma (the block divided by
sqrt(n)), and lets V0 move, from a point where the equations already hold. V0 free from the start
was driven to zero: the Rayleigh energy falls as the well gets shallower, and from an unsolved
network a first LM step took V0 from 10 to 0.5. The data weight (1e-5) keeps the equations
constraints: at 1e-3 the data bent the network (the data term above the residual's) and V0 came
back up to 0.17 (three standard errors) from the exact maximum-likelihood fit of the same data;
at 1e-5 within 1e-4 of it. The synthetic observations lie evenly across where rho is at least
1e-4 of its peak.

The problem's own `V0` is the truth: it generates the synthetic observations, and the reference
(the exact roots of the matching conditions at the true V0) scores E0. Nothing else of the truth
reaches the training: the network, its levels and decay rates and the energy unit are those of
the well at the starting guess `initial_V0`; the refinement rounds and the a-posteriori checks
use the well at the inferred V0 (the one the network solves), and so does the evaluation of the
solve itself, before E0 is compared with the truth.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any, Mapping

import numpy as np
import torch

from pinn.errors import ConfigError
from pinn.problems.base import check_number
from pinn.problems.inverse import InverseProblem, ObservedField, Unknown, attach_unknowns, inverse_results, unknown_value
from pinn.problems.registry import register
from pinn.problems.wells.depth_guess import depth_from_density
from pinn.problems.wells.eigenproblem import STAGE_TERMS, EigenModel
from pinn.problems.wells.steps import FiniteWell
from pinn.status import Check, Criteria, record, reference_check, relative


log = logging.getLogger("pinn")

# the synthetic observations lie where psi_0^2 is at least this fraction of its peak: there the
# network's own error in psi (about 1e-5 of the peak) is below a tenth of 2% noise in the density;
# down to 1e-8 it was as large as the noise and biased V0 by several standard errors
MEASURABLE = 1e-4


@register("finite_well_inverse")
class FiniteWellInverse(InverseProblem, FiniteWell):
    stage_terms = {**STAGE_TERMS, "forward": STAGE_TERMS["solve"]}
    stages = ("warmup", "forward", "solve")

    def __init__(self, V0: float = 20.0, half_width: float = 1.0, L: float = 4.0, n_observations: int = 12,
                 noise: float | None = 0.02, noise_seed: int = 0, observations: str | None = None,
                 initial_V0: float | None = 10.0, data_weight: float = 1e-5,
                 weights: Mapping[str, float] | None = None):
        super().__init__(V0, half_width, L, 1, weights)
        if self.V0 <= 0:
            raise ConfigError(f"problem.V0={self.V0:g} must be > 0: finite_well_inverse infers the depth of a well")
        self.check_inverse(n_observations, noise, noise_seed, data_weight, observations)
        self.initial_V0 = None if initial_V0 is None else check_number(
            "initial_V0", initial_V0, low=0.0, high=1e6, what="starting guess of V0 (or null: from the data)")
        self.read_observation_file()

    def well(self, V0: float) -> FiniteWell:
        """The forward problem at depth V0 (the same regions, so the same trial functions)."""
        return FiniteWell(V0, self.half_width, self.L, self.n_states, self.weights)

    def at_inferred(self, model: EigenModel) -> FiniteWell:
        return self.well(float(unknown_value(model, "V0").detach()))

    @cached_property
    def start_V0(self) -> float:
        """`initial_V0`, or where it is null the depth read off the observed density
        (pinn.problems.wells.depth_guess)."""
        if self.initial_V0 is not None:
            return self.initial_V0
        guess = depth_from_density(self.data.x, self.data["density"], self.half_width, self.L)
        if guess is None or not guess > 0:
            raise ConfigError("problem.initial_V0=null reads the starting depth off the observed density, which needs "
                              "two observations inside the well or two outside it; give problem.initial_V0=<depth>")
        log.info("starting depth V0 = %.4g, read off the observed density (problem.initial_V0=null)", guess)
        return guess

    @cached_property
    def start(self) -> FiniteWell:
        return self.well(self.start_V0)

    @cached_property
    def energy_scale(self) -> float:
        return self.start.energy_scale

    # ----- the inverse layer's declarations ------------------------------------------------------
    def unknown_parameters(self) -> list[Unknown]:
        return [Unknown("V0", self.start_V0, self.V0, "")]

    def observed_fields(self) -> list[ObservedField]:
        return [ObservedField("density", "1/length", log=True)]

    def observation_domain(self) -> tuple[float, float]:
        return self.domain

    def position_unit(self) -> str:
        return "the well's length unit (hbar^2 / 2m = 1)"

    def exact_observations(self, reference: Any, count: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The exact ground-state density at `count` evenly spaced points across where it is at
        least MEASURABLE of its peak."""
        grid = np.linspace(-self.L, self.L, 8001)
        density = reference.eigenfunctions[0](grid) ** 2
        seen = grid[density >= MEASURABLE * density.max()]
        x = np.linspace(seen[0], seen[-1], count)
        return x, {"density": reference.eigenfunctions[0](x) ** 2}

    def predict(self, model: EigenModel, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """psi_0(x)^2, differentiable in the model's parameters."""
        t, region, _ = self._locate(x)
        density = torch.zeros_like(x)
        for r in range(len(self.regions)):
            where = torch.nonzero(region == r).squeeze(-1)
            if where.numel():
                density = density.index_put((where,), self.psi(model, 0, r, t[where], order=0).value ** 2)
        return {"density": density}

    def eigenvalue(self, model: EigenModel) -> torch.Tensor:
        return model.energies[0]

    # ----- training ------------------------------------------------------------------------------
    def build_model(self, width: int, depth: int, activation: str) -> EigenModel:
        model = self.start.build_model(width, depth, activation)
        model.loss_unit.fill_(self.energy_scale)  # E_s of the well at problem.V0 divides the loss terms
        attach_unknowns(model, {"V0": self.start_V0})
        return model

    def loss_terms(self, model: EigenModel, batch: Mapping[str, Any], stage: str,
                   part: int | None = None) -> dict[str, torch.Tensor]:
        """The warm-up and `forward` stages solve the well at the current V0, held, without the data;
        `solve` adds the data and lets V0 move."""
        terms = super().loss_terms(model, batch, stage, part)
        return {**terms, **self.data_terms(model, batch["regions"][0]["t"])} if stage == "solve" else terms

    def potential_of(self, model: EigenModel, V: torch.Tensor, stage: str) -> torch.Tensor:
        """The well at the trainable depth: V (the problem's own, at the true depth) times
        V0 / problem.V0, V0 held outside the `solve` stage."""
        V0 = unknown_value(model, "V0")
        return (V0 if stage == "solve" else V0.detach()).to(V.dtype) * V / self.V0

    def observables(self, model: EigenModel) -> dict[str, torch.Tensor]:
        return {**super().observables(model), **self.unknown_observables(model)}

    def tolerance(self) -> float:
        """The forward well's: the network solves the well at the inferred V0 to it (the refinement
        works to it); E0 is judged against the truth within the noise level (`evaluate`)."""
        return FiniteWell.tolerance(self)

    def estimate(self, model: EigenModel) -> dict[str, float]:
        return self.at_inferred(model).estimate(model)

    def misplaced_states(self, model: EigenModel) -> list[int]:
        """None restarted: the one state is the ground state of a well whose depth is still moving."""
        return []

    def evaluate(self, model: EigenModel, reference: Any, criteria: Criteria) -> tuple[dict[str, Any], dict[str, Any]]:
        """The network solves the well at the inferred V0: it is judged as that forward problem (its
        exact roots, the estimate, the certified intervals, the level check, the settling of E0
        and V0) within this run's tolerance (the one refinement worked to), and E0 against the truth
        (the exact root at the true V0) within the larger of it and the stated noise level; then the
        inverse results."""
        solved = self.at_inferred(model)
        metrics, arrays = solved.evaluate(model, solved.reference(), criteria)
        E, true = metrics["eigenvalues"][0], float(reference.eigenvalues[0])
        error = relative(E, true)
        truth = reference_check(["E0"], [E], [true], [error], [0.0], max(criteria.tolerance, self.stated_noise()),
                                f"true-V0 {reference.source}")
        record(metrics, [Check(**c) for c in metrics["checks"]] + [truth])
        metrics.update(solved_reference_eigenvalues=metrics["reference_eigenvalues"],
                       solved_relative_errors=metrics["relative_errors"],
                       reference_eigenvalues=[true], relative_errors=[error])
        inverse, observations = inverse_results(self, model, ("E0", E, true, ""), criteria, metrics["checks"])
        return {**metrics, **inverse}, {**arrays, **observations}
