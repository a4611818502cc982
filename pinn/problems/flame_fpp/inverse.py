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
from pinn.numerics.nets import MLP
from pinn.problems.inverse import MAX_OBSERVATIONS, Observations, read_csv, synthesize
from pinn.problems.base import NoisyData, check_count, check_number
from pinn.problems.flame_fpp.problem import FlameModel, FreelyPropagatingFlame
from pinn.problems.registry import register

UNKNOWNS = ("conductivity", "activation_energy")


@register("flame_fpp_inverse")
class FlameInverse(NoisyData, FreelyPropagatingFlame):
    def __init__(self, phi: float = 0.42, T_in: float = 298.0, pressure: float = 101325.0, L: float = 1.5e-3,
                 inlet_gradient: float = 1.0e5, conductivity: float = 0.026, cp: float = 1000.0,
                 heat_release: float = 5.0e7, molar_mass: float = 28.97e-3, pre_exponential: float = 1.4e8,
                 activation_energy: float = 1.214172e5, reaction_order: float = 1.6,
                 n_observations: int = 10, noise: float = 0.02, noise_seed: int = 0, observations: str | None = None,
                 initial_conductivity: float = 0.04, initial_activation_energy: float = 1.0e5,
                 data_weight: float = 0.1):
        super().__init__(phi, T_in, pressure, L, inlet_gradient, conductivity, cp, heat_release, molar_mass,
                         pre_exponential, activation_energy, reaction_order)
        self.n_observations = check_count("n_observations", n_observations, low=3, high=MAX_OBSERVATIONS)
        self.noise = check_number("noise", noise, low=0.0, high=0.5, low_inclusive=True, what="relative noise level")
        self.noise_seed = check_count("noise_seed", noise_seed, low=0, high=2**32 - 1)
        self.initial = {
            "conductivity": check_number("initial_conductivity", initial_conductivity, low=0.0, what="starting guess"),
            "activation_energy": check_number("initial_activation_energy", initial_activation_energy, low=0.0,
                                              what="starting guess"),
        }
        self.data_weight = check_number("data_weight", data_weight, low=0.0)
        if observations is None:
            self.data = synthesize(self.parameters, self.n_observations, self.noise, self.noise_seed)
        else:
            self.data = read_csv(observations, self.physics.L)
        self.sigma = max(self.noise, 0.005)

    def speed_from_data(self, data: Observations) -> float:
        estimate = float(np.median(data.u * self.physics.T_in / data.T))
        if not (math.isfinite(estimate) and estimate > 0):
            raise ConfigError("flame_fpp_inverse: the observations give no positive speed estimate u T_in / T")
        return estimate

    def build_model(self, width: int, depth: int, activation: str) -> FlameModel:
        net = MLP(1, 1, width, depth, activation)
        with torch.no_grad():
            net.layers[-1].weight.mul_(0.1)
        return FlameModel(net, self.speed_from_data(self.data), self.initial)

    def loss_terms(self, model: FlameModel, batch: Mapping[str, Any], stage: str) -> dict[str, torch.Tensor]:
        terms = super().loss_terms(model, batch, stage)
        param = batch["t"]
        x, T_obs, u_obs = (torch.as_tensor(v, device=param.device, dtype=param.dtype)
                           for v in (self.data.x, self.data.T, self.data.u))
        T = self.temperature_at(model, x)
        u = self.physics.velocity(T, model.speed)
        scale = self.data_weight / (self.sigma * math.sqrt(x.numel()))
        terms["data_T"] = torch.log(T / T_obs) * scale
        terms["data_u"] = torch.log(u / u_obs) * scale
        return terms

    def observables(self, model: FlameModel) -> dict[str, torch.Tensor]:
        return {**super().observables(model), **{name: model.unknown(name).detach() for name in UNKNOWNS}}
