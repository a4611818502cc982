"""The inverse flame problem: s_L, the conductivity and the activation energy are unknown and are
inferred, together with the temperature field, from observations of T and u.

The loss is the forward problem's phase-plane residual plus the misfit of the observations in the
units of their noise (multiplicative, so in logarithms):

    data_weight * log(T(x_i) / T_i) / sigma,   data_weight * log(u(T(x_i), s) / u_i) / sigma,

sigma = max(noise, 0.005), each block divided by sqrt(number of observations). T(x_i) comes from
the trial function by the differentiable quadrature x(theta) = L int dtheta / q. A small data
weight keeps the equation satisfied much more tightly than the noisy data can be: the unknowns are
then fitted through the physics, not by bending the profile through the noise.

The problem's own `conductivity` and `activation_energy` are the true values: they generate the
synthetic observations and are what the inferred values are compared with. The starting guesses
are separate (`initial_conductivity`, `initial_activation_energy`); the starting speed is read
off the data, s ~ u T_in / T (mass flux rho u = rho_in s with the density of an ideal gas).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch

from pinn.errors import ConfigError
from pinn.problems.base import check_number
from pinn.problems.flame_fpp.problem import FlameModel, FreelyPropagatingFlame
from pinn.problems.inverse import InverseProblem, ObservedField, Unknown
from pinn.problems.registry import register
from pinn.reference import flame as reference

UNITS = {"conductivity": "W/m/K", "activation_energy": "J/mol"}


@register("flame_fpp_inverse")
class FlameInverse(InverseProblem, FreelyPropagatingFlame):
    def __init__(self, phi: float = 0.42, T_in: float = 298.0, pressure: float = 101325.0, L: float = 1.5e-3,
                 inlet_gradient: float = 1.0e5, conductivity: float = 0.026, cp: float = 1000.0,
                 heat_release: float = 5.0e7, molar_mass: float = 28.97e-3, pre_exponential: float = 1.4e8,
                 activation_energy: float = 1.214172e5, reaction_order: float = 1.6,
                 n_observations: int = 10, noise: float = 0.02, noise_seed: int = 0, observations: str | None = None,
                 initial_conductivity: float = 0.04, initial_activation_energy: float = 1.0e5,
                 data_weight: float = 0.001):
        super().__init__(phi, T_in, pressure, L, inlet_gradient, conductivity, cp, heat_release, molar_mass,
                         pre_exponential, activation_energy, reaction_order)
        self.check_inverse(n_observations, noise, noise_seed, data_weight, observations)
        self.initial = {
            "conductivity": check_number("initial_conductivity", initial_conductivity, low=0.0, what="starting guess"),
            "activation_energy": check_number("initial_activation_energy", initial_activation_energy, low=0.0,
                                              what="starting guess"),
        }
        self.read_observation_file()

    # ----- the inverse layer's declarations ------------------------------------------------------
    def unknown_parameters(self) -> list[Unknown]:
        return [Unknown(name, self.initial[name], self.parameters[name], UNITS[name]) for name in self.initial]

    def observed_fields(self) -> list[ObservedField]:
        return [ObservedField("T", "K", log=True), ObservedField("u", "m/s", log=True)]

    def observation_domain(self) -> tuple[float, float]:
        return (0.0, self.physics.L)

    def exact_observations(self, ref: reference.ConvergedFlame, count: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """T and u of the converged reference at `count` evenly spaced points of [0, L]."""
        fd = ref.finest
        x = np.linspace(0.0, self.physics.L, count)
        T = np.interp(x, fd.x, fd.T)
        return x, {"T": T, "u": reference.velocity(reference.FlameParameters(**self.parameters), T, ref.s)}

    def start_fields(self) -> tuple[str, ...]:
        return ("T", "u")

    def predict(self, model: FlameModel, x: torch.Tensor) -> dict[str, torch.Tensor]:
        T = self.temperature_at(model, x)
        return {"T": T, "u": self.physics.velocity(T, model.speed)}

    # ----- training ------------------------------------------------------------------------------
    def starting_speed(self) -> float:
        """Read off the data: s ~ u T_in / T (the mass flux rho u = rho_in s, ideal gas)."""
        both = self.data.observed("T", "u")
        estimate = float(np.median(self.data["u"][both] * self.physics.T_in / self.data["T"][both])) if both.any() \
            else math.nan
        if not (math.isfinite(estimate) and estimate > 0):
            raise ConfigError("flame_fpp_inverse: the observations give no positive speed estimate u T_in / T "
                              "(T and u observed at the same positions)")
        return estimate

    def loss_terms(self, model: FlameModel, batch: Mapping[str, Any], stage: str) -> dict[str, torch.Tensor]:
        return {**super().loss_terms(model, batch, stage), **self.data_terms(model, batch["t"])}

    def observables(self, model: FlameModel) -> dict[str, torch.Tensor]:
        return {**super().observables(model), **self.unknown_observables(model)}
