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

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch
from torch.func import jvp

from pinn.errors import ConfigError
from pinn.problems.base import NoisyData, check_count, check_number
from pinn.problems.flame_ch4.free import MAJOR_SPECIES
from pinn.problems.flame_ch4.counterflow import CounterflowFlameCH4, CounterflowModel
from pinn.problems.registry import register

KILO = 1000.0          # J/kmol per J/mol
NEWTON_STEPS = 40


@dataclass(frozen=True)
class CounterflowObservations:
    x: np.ndarray                 # m
    u: np.ndarray                 # m/s
    T: np.ndarray                 # K
    Y: np.ndarray                 # (n, len(MAJOR_SPECIES))
    source: str


def synthesize(problem: CounterflowFlameCH4, count: int, noise: float, seed: int) -> CounterflowObservations:
    """u, T and the major species of Cantera's converged counterflow flame at `count` evenly spaced
    points across the flame (where T rises from 1% to 99%, widened by that length on each side),
    each multiplied by (1 + noise * N(0, 1)) with a seeded generator."""
    from pinn.reference.flame_ch4 import counterflow

    ref = counterflow(problem.phi, problem.T_in, problem.pressure, problem.width,
                      problem.u_reactants, problem.u_products)
    rise = (ref.T - ref.T[0]) / (ref.T.max() - ref.T[0])
    start, stop = ref.x[np.argmax(rise > 0.01)], ref.x[np.argmax(rise > 0.99)]
    pad = stop - start
    x = np.linspace(max(start - pad, 0.0), min(stop + pad, problem.width), count)
    at = lambda f: np.interp(x, ref.x, f)  # noqa: E731
    u, T = at(ref.u), at(ref.T)
    Y = np.stack([at(ref.Y[ref.species.index(k)]) for k in MAJOR_SPECIES], axis=-1)
    rng = np.random.default_rng(seed)
    u, T, Y = (f * (1.0 + noise * rng.standard_normal(f.shape)) for f in (u, T, Y))
    return CounterflowObservations(x, u, T, Y, f"Cantera CounterflowPremixedFlame with {noise:g} relative noise, "
                                                f"seed {seed}")


@register("flame_counterflow_inverse")
class CounterflowFlameCH4Inverse(NoisyData, CounterflowFlameCH4):
    def __init__(self, phi: float = 0.8, T_in: float = 300.0, pressure: float = 101325.0, width: float = 0.02,
                 u_reactants: float = 1.0, u_products: float = 1.0, n_observations: int = 20,
                 noise: float = 0.01, noise_seed: int = 0, initial_activation_energy: float = 7.0e4,
                 data_weight: float = 0.01):
        self.n_observations = check_count("n_observations", n_observations, low=3, high=1000)
        self.noise = check_number("noise", noise, low=0.0, high=0.5, low_inclusive=True, what="relative noise level")
        self.noise_seed = check_count("noise_seed", noise_seed, low=0, high=2**32 - 1)
        self.initial_activation_energy = KILO * check_number(
            "initial_activation_energy", initial_activation_energy, low=0.0, what="starting guess of E_a in J/mol")
        self.data_weight = check_number("data_weight", data_weight, low=0.0)
        super().__init__(phi, T_in, pressure, width, u_reactants, u_products)
        self.truth = {"activation_energy": float(self.free.mechanism.activation_energy[0])}
        self.data = synthesize(self, self.n_observations, self.noise, self.noise_seed)
        self.sigma = max(self.noise, 0.005)
        self.position0 = self._data_position()

    def _data_position(self) -> float:
        """Where the temperature data first cross the middle of the rise (linear interpolation)."""
        d, middle = self.data, 0.5 * (self.inlet.T_in + self.inlet.T_b)
        above = np.flatnonzero(d.T >= middle)
        if above.size == 0 or above[0] == 0:
            raise ConfigError("flame_counterflow_inverse: the temperature observations do not cross the middle of "
                              "the rise; they cannot place the flame (more observations, or less noise)")
        k = above[0]
        return float(d.x[k - 1] + (middle - d.T[k - 1]) * (d.x[k] - d.x[k - 1]) / (d.T[k] - d.T[k - 1]))

    def unknowns(self) -> dict[str, float]:
        return {"activation_energy": self.initial_activation_energy}

    def initial_kinetics(self) -> tuple:
        return None, self.initial_activation_energy

    def kinetics(self, model: CounterflowModel) -> tuple:
        return None, model.unknown("activation_energy")

    def placement(self, model: CounterflowModel, like: torch.Tensor) -> torch.Tensor:
        """The flow stage's extra row: the flame where the temperature data put it."""
        return ((model.position - self.position0) / self.map_width).reshape(1).to(like)

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
        if stage == "flow":
            return terms
        like = batch["s"]
        as_t = lambda a: torch.as_tensor(a, device=like.device, dtype=like.dtype)  # noqa: E731
        d = self.data
        x_obs, u_obs, T_obs, Y_obs = (as_t(v) for v in (d.x, d.u, d.T, d.Y))
        _, T, Y, m, _ = self._split(self.state(model, self.nodes_at(model, x_obs)))
        props = self.free.properties(like)
        u = m / props.density(T, self.pressure, Y)
        columns = [self.species.index(k) for k in MAJOR_SPECIES]
        scale = self.data_weight / (self.sigma * math.sqrt(x_obs.numel()))
        floor = 1e-3 * float(np.abs(self.inlet.Y_b - self.inlet.Y_in).max())
        terms["data_T"] = (T - T_obs) / T_obs * scale
        terms["data_u"] = (u - u_obs) / (u_obs.abs() + 0.01 * self.u_reactants) * scale
        terms["data_Y"] = ((Y[:, columns] - Y_obs) / (Y_obs.abs() + floor) * scale).reshape(-1)
        return terms

    def observables(self, model: CounterflowModel) -> dict[str, torch.Tensor]:
        return {**super().observables(model), "E_a": (model.unknown("activation_energy") / KILO).detach()}

    def inferred(self, model: CounterflowModel) -> dict[str, tuple[float, float]]:
        """name: (inferred, true), E_a in J/mol (Lambda's truth is the reference's, added by the evaluator)."""
        return {"activation_energy": (float(model.unknown("activation_energy").detach()) / KILO,
                                      self.truth["activation_energy"] / KILO)}
