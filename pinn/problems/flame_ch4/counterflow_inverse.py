"""The inverse counterflow flame: Lambda and the activation energy E_a of the one-step rate are
inferred, with the fields, from sparse noisy observations of u, T and the major species.

The loss is flame_counterflow's residual (with the trainable E_a in the rate) plus the misfit of
each observation (x_i, u_i, T_i, Y_i) in units of its noise sigma, each block times
data_weight / sqrt(n):

    (T(s_i) - T_i) / (sigma T_i),   (u(s_i) - u_i) / (sigma (|u_i| + 0.01 u_r)),
    (Y_k(s_i) - Y_k,i) / (sigma (|Y_k,i| + 0.001 max_k |Y_b,k - Y_in,k|))

where s_i solves x(s_i) = x_i: Newton on the learnt map, then one more Newton step kept in the
graph, s_i - (x(s_i) - x_i) / x_s(s_i) with x_s held, so that the misfit's gradient carries
ds_i/dp = -(dx/dp) / x_s (the implicit function theorem).

The flow stage places the flame where the temperature data cross the middle of the rise (no
flame speed estimate is trusted: it depends on the unknown E_a). The mechanism's own E_a is the
truth (it generates the synthetic data, through Cantera's CounterflowPremixedFlame, and scores
the result); the starting guess is `initial_activation_energy` (J/mol).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch.func import jvp

from pinn.constants import J_PER_KMOL_PER_J_PER_MOL
from pinn.errors import ConfigError
from pinn.problems.base import check_number
from pinn.problems.flame_ch4.counterflow import CounterflowFlameCH4, CounterflowModel
from pinn.problems.flame_ch4.free import MAJOR_SPECIES
from pinn.problems.inverse import InverseProblem, ObservedField, Unknown
from pinn.problems.registry import register
from pinn.reference.flame_ch4 import CounterflowReference

NEWTON_STEPS = 40


@register("flame_counterflow_inverse")
class CounterflowFlameCH4Inverse(InverseProblem, CounterflowFlameCH4):
    def __init__(self, phi: float = 0.8, T_in: float = 300.0, pressure: float = 101325.0, width: float = 0.02,
                 u_reactants: float = 1.0, u_products: float = 1.0, n_observations: int = 20,
                 noise: float = 0.01, noise_seed: int = 0, observations: str | None = None,
                 initial_activation_energy: float = 7.0e4, data_weight: float = 0.01):
        self.check_inverse(n_observations, noise, noise_seed, data_weight, observations, max_count=1000)
        self.initial_activation_energy = J_PER_KMOL_PER_J_PER_MOL * check_number(
            "initial_activation_energy", initial_activation_energy, low=0.0, what="starting guess of E_a in J/mol")
        super().__init__(phi, T_in, pressure, width, u_reactants, u_products)
        self.read_observation_file()

    # ----- the inverse layer's declarations ------------------------------------------------------
    def unknown_parameters(self) -> list[Unknown]:
        """E_a (J/kmol inside, J/mol reported), the mechanism's the truth."""
        return [Unknown("activation_energy", self.initial_activation_energy,
                        float(self.free.mechanism.activation_energy[0]), "J/mol", label="E_a",
                        report_scale=1.0 / J_PER_KMOL_PER_J_PER_MOL)]

    def observed_fields(self) -> list[ObservedField]:
        """T, u and the major species, each relative to its observed value (u and Y with a floor: a
        small share of the nozzle speed, of the largest change of a mass fraction)."""
        floor = 1e-3 * float(np.abs(self.inlet.Y_b - self.inlet.Y_in).max())
        return [ObservedField("T", "K"), ObservedField("u", "m/s", floor=0.01 * self.u_reactants),
                *(ObservedField(f"Y_{k}", "1", floor=floor, term="data_Y") for k in MAJOR_SPECIES)]

    def start_fields(self) -> tuple[str, ...]:
        return ("T",)

    def noise_groups(self) -> list[tuple[str, ...]]:
        return [("u",), ("T",), tuple(f"Y_{k}" for k in MAJOR_SPECIES)]

    def observation_domain(self) -> tuple[float, float]:
        return (0.0, self.width)

    def reference_name(self) -> str:
        return "Cantera CounterflowPremixedFlame"

    def exact_observations(self, ref: CounterflowReference, count: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """u, T and the major species of Cantera's converged flame at `count` evenly spaced points
        across the flame (where T rises from 1% to 99%, widened by that length on each side)."""
        rise = (ref.T - ref.T[0]) / (ref.T.max() - ref.T[0])
        start, stop = ref.x[np.argmax(rise > 0.01)], ref.x[np.argmax(rise > 0.99)]
        pad = stop - start
        x = np.linspace(max(start - pad, 0.0), min(stop + pad, self.width), count)
        at = lambda f: np.interp(x, ref.x, f)  # noqa: E731
        return x, {"u": at(ref.u), "T": at(ref.T), **{f"Y_{k}": at(ref.Y[ref.species.index(k)]) for k in MAJOR_SPECIES}}

    def predict(self, model: CounterflowModel, x: torch.Tensor) -> dict[str, torch.Tensor]:
        _, T, Y, m, _ = self._split(self.state(model, self.nodes_at(model, x)))
        u = m / self.free.properties(x).density(T, self.pressure, Y)
        return {"T": T, "u": u, **{f"Y_{k}": Y[:, self.species.index(k)] for k in MAJOR_SPECIES}}

    # ----- kinetics and the flame's start ------------------------------------------------------
    def starts(self) -> dict[str, float]:
        return {"activation_energy": self.initial_activation_energy}

    def initial_kinetics(self) -> tuple:
        return None, self.initial_activation_energy

    def kinetics(self, model: CounterflowModel) -> tuple:
        return None, model.unknown("activation_energy")

    def flame_start(self) -> float:
        """Where the temperature data first cross the middle of the rise (linear interpolation); no
        flame speed estimate is trusted: it depends on the unknown E_a."""
        seen, middle = self.data.observed("T"), 0.5 * (self.inlet.T_in + self.inlet.T_b)
        T, x = self.data["T"][seen], self.data.x[seen]
        above = np.flatnonzero(T >= middle)
        if above.size == 0 or above[0] == 0:
            raise ConfigError("flame_counterflow_inverse: the temperature observations do not cross the middle of "
                              "the rise; they cannot place the flame (more observations, or less noise)")
        k = above[0]
        return float(x[k - 1] + (middle - T[k - 1]) * (x[k] - x[k - 1]) / (T[k] - T[k - 1]))

    def placement(self, model: CounterflowModel, like: torch.Tensor) -> torch.Tensor:
        """The flow stage's extra row: the flame where the temperature data put it."""
        return ((model.position - model.position0) / self.map_width).reshape(1).to(like)

    def nodes_at(self, model: CounterflowModel, x: torch.Tensor) -> torch.Tensor:
        """s with x(s) = x on the learnt map, differentiable to first order (see the module doc)."""
        ones = torch.ones_like(x)
        position = lambda u: self.state(model, u)[:, 0]  # noqa: E731
        with torch.no_grad():
            s = self.base_node(model, x)
            for _ in range(NEWTON_STEPS):
                value, slope = jvp(position, (s,), (ones,))
                step = (value - x) / slope
                s = (s - step).clamp(0.0, 1.0)
                if float(step.abs().max()) < 1e-14:
                    break
            _, slope = jvp(position, (s,), (ones,))
        return s - (position(s) - x) / slope

    def loss_terms(self, model: CounterflowModel, batch: Mapping[str, Any], stage: str) -> dict[str, torch.Tensor]:
        terms = super().loss_terms(model, batch, stage)
        return terms if stage == "flow" else {**terms, **self.data_terms(model, batch["s"])}

    def observables(self, model: CounterflowModel) -> dict[str, torch.Tensor]:
        return {**super().observables(model), **self.unknown_observables(model)}
