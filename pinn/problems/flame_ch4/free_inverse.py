"""The inverse CH4/air flame: s_L and the rate's pre-exponential factor and activation energy are
unknown and are inferred, with the fields, from sparse noisy observations of T and the major
species (calibrating a mechanism from a laboratory flame).

The loss is flame_ch4's phase-plane residual (with the trainable A and E_a in the rate) plus the
misfit of each observation (x_i, T_i, Y_i) in units of its noise sigma:

- species at the observed temperature: (Y_k(theta_i) - Y_k,i) / s_k,i with
  theta_i = (T_i - T_in) / (T_b - T_in): no position is needed, the phase plane gives Y(T). The
  noise of T_i moves theta_i too, so the misfit's spread is that of Y_k,i and of Y_k(theta_i)
  together: s_k,i^2 = sigma^2 ((|Y_k,i| + 1e-3)^2 + (T_i dY_k/dtheta / (T_b - T_in))^2), the slope
  the model's own (not differentiated). Without the second part a reaction-zone observation,
  where Y_k falls steeply with theta, misses by many sigma at 1% noise and the fit follows it;
- temperature at the observed position, linearized through the profile's own slope:
  (dT/dx)(theta_i) (x(theta_i) + x_0 - x_i) / (sigma T_i), where x(theta) = delta int dtheta / q
  from theta = 1/2 and x_0 (trainable) is where the model puts theta = 1/2,

each block times data_weight / sqrt(n). Observations with theta_i outside (0.001, 0.999) carry no
position or composition information (the noise there exceeds the signal) and are left out. (This
misfit replaces the inverse layer's default, which compares each field at its observed position.)

The mechanism's own A and E_a are the truth (they generate the synthetic data, through Cantera's
FreeFlame, and score the result); the starting guesses are `initial_pre_exponential` (SI: kmol,
m^3, s, as Cantera reports it) and `initial_activation_energy` (J/mol), and the starting s_L is the
Zel'dovich estimate with the guessed kinetics.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch

from pinn.constants import J_PER_KMOL_PER_J_PER_MOL
from pinn.errors import ConfigError
from pinn.problems.base import check_number
from pinn.problems.flame_ch4.free import MAJOR_SPECIES, STRETCH, FlameCH4Model, FreeFlameCH4
from pinn.problems.inverse import InverseProblem, ObservedField, Unknown
from pinn.problems.registry import register
from pinn.reference.flame_ch4 import FlameReference

GAUSS_NODES = 32      # per observation, for x(theta_i)


@register("flame_ch4_inverse")
class FreeFlameCH4Inverse(InverseProblem, FreeFlameCH4):
    def __init__(self, phi: float = 0.8, T_in: float = 300.0, pressure: float = 101325.0, width: float = 0.03,
                 n_observations: int = 20, noise: float = 0.01, noise_seed: int = 0, observations: str | None = None,
                 initial_pre_exponential: float = 1.0e9, initial_activation_energy: float = 7.0e4,
                 data_weight: float = 0.01):
        super().__init__(phi, T_in, pressure, width)
        self.check_inverse(n_observations, noise, noise_seed, data_weight, observations, max_count=1000)
        self.initial = {
            "pre_exponential": check_number("initial_pre_exponential", initial_pre_exponential, low=0.0,
                                            what="starting guess of A, SI units (kmol, m^3, s)"),
            "activation_energy": J_PER_KMOL_PER_J_PER_MOL * check_number(
                "initial_activation_energy", initial_activation_energy, low=0.0, what="starting guess of E_a in J/mol"),
        }
        guess = self.speed_estimate(self.initial["pre_exponential"], self.initial["activation_energy"])
        self.s0, self.m0 = guess, self.inlet.density_in * guess
        self.read_observation_file()

    # ----- the inverse layer's declarations ------------------------------------------------------
    def unknown_parameters(self) -> list[Unknown]:
        """A (SI: kmol, m^3, s) and E_a (J/kmol inside, J/mol reported), the mechanism's the truth;
        and the offset where the data put theta = 1/2 (a nuisance parameter)."""
        return [Unknown("pre_exponential", self.initial["pre_exponential"],
                        float(self.mechanism.pre_exponential[0]), "SI (kmol, m^3, s)", label="A"),
                Unknown("activation_energy", self.initial["activation_energy"],
                        float(self.mechanism.activation_energy[0]), "J/mol", label="E_a",
                        report_scale=1.0 / J_PER_KMOL_PER_J_PER_MOL),
                Unknown("offset", self._data_middle(), None, "m", reported=False)]

    def observed_fields(self) -> list[ObservedField]:
        return [ObservedField("T", "K"), *(ObservedField(f"Y_{k}", "1", term="data_Y") for k in MAJOR_SPECIES)]

    def noise_groups(self) -> list[tuple[str, ...]]:
        return [("T",), tuple(f"Y_{k}" for k in MAJOR_SPECIES)]

    def observation_domain(self) -> tuple[float, float]:
        return (0.0, self.width)

    def reference_name(self) -> str:
        return "Cantera FreeFlame"

    def exact_observations(self, ref: FlameReference, count: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """T and the major species of Cantera's converged flame at `count` evenly spaced points across
        the flame (where T rises from 1% to 99%, widened by a quarter of that on each side)."""
        rise = (ref.T - ref.T[0]) / (ref.T.max() - ref.T[0])
        start, stop = ref.x[np.argmax(rise > 0.01)], ref.x[np.argmax(rise > 0.99)]
        pad = 0.25 * (stop - start)
        x = np.linspace(start - pad, stop + pad, count)
        return x, {"T": np.interp(x, ref.x, ref.T),
                   **{f"Y_{k}": np.interp(x, ref.x, ref.Y[ref.species.index(k)]) for k in MAJOR_SPECIES}}

    # ----- the observations inside the flame -------------------------------------------------
    @property
    def used(self) -> np.ndarray:
        """The observations with theta_i inside (0.001, 0.999)."""
        theta = (self.data["T"] - self.inlet.T_in) / (self.inlet.T_b - self.inlet.T_in)
        used = (theta > 1e-3) & (theta < 1.0 - 1e-3)
        if used.sum() < 3:
            raise ConfigError(f"flame_ch4_inverse: only {int(used.sum())} observations lie inside the flame "
                              "(0.1% to 99.9% of the temperature rise); give more observations or less noise")
        return used

    @property
    def theta_obs(self) -> np.ndarray:
        return ((self.data["T"] - self.inlet.T_in) / (self.inlet.T_b - self.inlet.T_in))[self.used]

    def _data_middle(self) -> float:
        """Where the data put theta = 1/2 (interpolated in the observations sorted by theta)."""
        order = np.argsort(self.theta_obs)
        return float(np.interp(0.5, self.theta_obs[order], self.data.x[self.used][order]))

    def kinetics(self, model: FlameCH4Model) -> tuple:
        return model.unknown("pre_exponential"), model.unknown("activation_energy")

    def positions(self, model: FlameCH4Model, theta: torch.Tensor) -> torch.Tensor:
        """x(theta) - x(1/2) = delta int_{t(1/2)}^{t(theta)} (dtheta/dt) / q dt, Gauss-Legendre."""
        to_t = lambda th: 1.0 - (1.0 - th) ** (1.0 / STRETCH)  # noqa: E731
        t_mid, t_end = to_t(torch.full_like(theta, 0.5)), to_t(theta)
        nodes, weights = (torch.as_tensor(v, device=theta.device, dtype=theta.dtype)
                          for v in np.polynomial.legendre.leggauss(GAUSS_NODES))
        half = 0.5 * (t_end - t_mid)
        t = (t_mid + half).unsqueeze(-1) + half.unsqueeze(-1) * nodes
        q = self.state(model, t.reshape(-1))[:, -1].reshape(t.shape)
        slope = STRETCH * (1.0 - t) ** (STRETCH - 1) / q
        return self.delta * half * (slope @ weights)

    def data_terms(self, model: FlameCH4Model, like: torch.Tensor) -> dict[str, torch.Tensor]:
        """The misfits times data_weight / sqrt(number of observations used)."""
        scale = self.data_weight / math.sqrt(self.theta_obs.size)
        return {term: rows * scale for term, rows in self.misfits(model, like).items()}

    def misfits(self, model: FlameCH4Model, like: torch.Tensor) -> dict[str, torch.Tensor]:
        """The species at the observed temperature and the temperature at the observed position,
        in units of the noise (see the module docstring)."""
        as_t = lambda a: torch.as_tensor(a, device=like.device, dtype=like.dtype)  # noqa: E731
        used = self.used
        theta = as_t(self.theta_obs)
        x_obs, T_obs = as_t(self.data.x[used]), as_t(self.data["T"][used])
        Y_obs = as_t(np.stack([self.data[f"Y_{k}"][used] for k in MAJOR_SPECIES], axis=-1))
        t = 1.0 - (1.0 - theta) ** (1.0 / STRETCH)
        state, state_t = self._with_derivative(model, t)
        _, Y, q = self._split(state)
        columns = [self.species.index(k) for k in MAJOR_SPECIES]
        rise = self.inlet.T_b - self.inlet.T_in
        slope = state_t[:, 1:-1][:, columns] / state_t[:, :1]                  # dY_k / dtheta
        spread = torch.sqrt((Y_obs.abs() + 1e-3) ** 2 + (T_obs.unsqueeze(-1) * slope.detach() / rise) ** 2)
        x = self.positions(model, theta) + model.unknown("offset")
        return {"data_Y": ((Y[:, columns] - Y_obs) / (spread * self.sigma)).reshape(-1),
                "data_T": rise * q / self.delta * (x - x_obs) / (T_obs * self.sigma)}

    def loss_terms(self, model: FlameCH4Model, batch: Mapping[str, Any], stage: str) -> dict[str, torch.Tensor]:
        return {**super().loss_terms(model, batch, stage), **self.data_terms(model, batch["t"])}

    def observables(self, model: FlameCH4Model) -> dict[str, torch.Tensor]:
        return {**super().observables(model), **self.unknown_observables(model)}
