"""The inverse CH4/air flame: s_L and the rate's pre-exponential factor and activation energy are
unknown and are inferred, with the fields, from sparse noisy observations of T and the major
species (calibrating a mechanism from a laboratory flame).

The loss is flame_ch4's phase-plane residual (with the trainable A and E_a in the rate) plus the
misfit of each observation (x_i, T_i, Y_i) where it was made, in units of its noise sigma:
(T(theta_i) - T_i) / (sigma T_i) and (Y_k(theta_i) - Y_k,i) / (sigma (|Y_k,i| + 1e-3)), with theta_i
the model's temperature coordinate at x_i: the root of x(theta) + x_0 = x_i, where
x(theta) = delta int dtheta / q from theta = 1/2 and x_0 (trainable, a nuisance parameter) is where
the model puts theta = 1/2. Each block is times data_weight / sqrt(n). Comparing at the observed
position keeps the noise of T_i out of the coordinate the species are compared at (taking Y at
theta(T_i) is an errors-in-variables fit, biased in proportion to the noise).

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
from pinn.numerics.quadrature import gauss_legendre_like
from pinn.problems.base import check_number
from pinn.problems.flame_ch4.free import MAJOR_SPECIES, STRETCH, FlameCH4Model, FreeFlameCH4
from pinn.problems.inverse import InverseProblem, ObservedField, Unknown
from pinn.problems.registry import register
from pinn.reference.flame_ch4 import FlameReference

GAUSS_NODES = 32      # per observation, for x(theta_i)
EDGE = 1e-6           # observed positions are located for theta in (EDGE, 1 - EDGE)
ROOT_ITERATIONS = 80  # at most, per location (Newton converges in a few from the last root)
DATA_SPACING = 5e-7  # m, the grid the synthetic observations are drawn from, through the preheat zone


@register("flame_ch4_inverse")
class FreeFlameCH4Inverse(InverseProblem, FreeFlameCH4):
    def __init__(self, phi: float = 0.8, T_in: float = 300.0, pressure: float = 101325.0, width: float = 0.03,
                 n_observations: int = 20, noise: float = 0.01, noise_seed: int = 0, observations: str | None = None,
                 initial_pre_exponential: float = 1.0e9, initial_activation_energy: float = 7.0e4,
                 data_weight: float = 0.001):
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
        self._root_cache: tuple[torch.Tensor, ...] | None = None  # (x, theta*, inside, dx/dtheta) of the last location

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
        return [ObservedField("T", "K"), *(ObservedField(f"Y_{k}", "1", floor=1e-3, term="data_Y") for k in MAJOR_SPECIES)]

    def start_fields(self) -> tuple[str, ...]:
        return ("T",)

    def noise_groups(self) -> list[tuple[str, ...]]:
        return [("T",), tuple(f"Y_{k}" for k in MAJOR_SPECIES)]

    def observation_domain(self) -> tuple[float, float]:
        return (0.0, self.width)

    def reference_name(self) -> str:
        return "Cantera FreeFlame"

    def solve_reference(self):
        """Cantera's FreeFlame as for flame_ch4 (the same s_L), its fields then solved again with
        the preheat zone resolved to DATA_SPACING: the observations are drawn from them."""
        from pinn.reference.flame_ch4 import free_flame

        return free_flame(self.phi, self.T_in, self.pressure, self.width, resolved_spacing=DATA_SPACING)

    def exact_observations(self, ref: FlameReference, count: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """T and the major species of Cantera's converged flame at `count` evenly spaced points across
        the flame (where T rises from 1% to 99%, widened by a quarter of that on each side)."""
        rise = (ref.T - ref.T[0]) / (ref.T.max() - ref.T[0])
        start, stop = ref.x[np.argmax(rise > 0.01)], ref.x[np.argmax(rise > 0.99)]
        pad = 0.25 * (stop - start)
        x = np.linspace(start - pad, stop + pad, count)
        return x, {"T": np.interp(x, ref.x, ref.T),
                   **{f"Y_{k}": np.interp(x, ref.x, ref.Y[ref.species.index(k)]) for k in MAJOR_SPECIES}}

    def _data_middle(self) -> float:
        """Where the data put theta = 1/2 (interpolated in the observations with theta(T_i) inside
        (0.001, 0.999), sorted by it): the start of x_0."""
        theta = (self.data["T"] - self.inlet.T_in) / (self.inlet.T_b - self.inlet.T_in)
        inside = (theta > 1e-3) & (theta < 1.0 - 1e-3)
        if inside.sum() < 2:
            raise ConfigError(f"flame_ch4_inverse: only {int(inside.sum())} observations lie inside the flame "
                              "(0.1% to 99.9% of the temperature rise); give more observations or less noise")
        order = np.argsort(theta[inside])
        return float(np.interp(0.5, theta[inside][order], self.data.x[inside][order]))

    def kinetics(self, model: FlameCH4Model) -> tuple:
        return model.unknown("pre_exponential"), model.unknown("activation_energy")

    def positions(self, model: FlameCH4Model, theta: torch.Tensor) -> torch.Tensor:
        """x(theta) - x(1/2) = delta int_{1/2}^{theta} dtheta' / q(theta'), Gauss-Legendre: on the
        cold side in s = ln theta' (q vanishes like theta' there, so theta' / q is smooth in s; in
        theta' itself 32 nodes put the observation at theta = 2e-4 half a preheat length off), on
        the hot side in the collocation coordinate t, theta' = 1 - (1 - t)^STRETCH."""
        to_t = lambda th: 1.0 - (1.0 - th) ** (1.0 / STRETCH)  # noqa: E731
        nodes, weights = gauss_legendre_like(GAUSS_NODES, theta)

        def between(low: torch.Tensor, high: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            half = 0.5 * (high - low)
            return (low + half).unsqueeze(-1) + half.unsqueeze(-1) * nodes, half

        def q_at(t: torch.Tensor) -> torch.Tensor:
            return self.state(model, t.reshape(-1))[:, -1].reshape(t.shape)

        s, half_s = between(torch.full_like(theta, math.log(0.5)), torch.log(theta.clamp(max=0.5)))
        cold = half_s * ((torch.exp(s) / q_at(to_t(torch.exp(s)))) @ weights)
        t, half_t = between(to_t(torch.full_like(theta, 0.5)), to_t(theta.clamp(min=0.5)))
        hot = half_t * ((STRETCH * (1.0 - t) ** (STRETCH - 1) / q_at(t)) @ weights)
        return self.delta * torch.where(theta < 0.5, cold, hot)

    # ----- the model at the observed positions --------------------------------------------------
    def located(self, model: FlameCH4Model, theta: torch.Tensor) -> torch.Tensor:
        """x(theta) + x_0: where the model puts theta."""
        return self.positions(model, theta) + model.unknown("offset")

    def _located_with_slope(self, model: FlameCH4Model, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x(theta) + x_0 and its derivative in theta (of the quadrature, so that Newton's method
        and the implicit derivative see the same function), detached."""
        with torch.enable_grad():
            theta = theta.detach().requires_grad_(True)
            x = self.located(model, theta)
            (slope,) = torch.autograd.grad(x.sum(), theta)
        return x.detach(), slope

    def _roots(self, model: FlameCH4Model, x: torch.Tensor, guess: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        """theta* with x(theta*) + x_0 = x, by Newton's method safeguarded by bisection in
        logit(theta) inside (EDGE, 1 - EDGE); `inside` is False where x lies beyond that range
        (theta* is then the nearer end). Returns theta*, inside, dx/dtheta at theta*."""
        logit = lambda th: torch.log(th / (1.0 - th))  # noqa: E731
        with torch.no_grad():
            low, high = torch.full_like(x, EDGE), torch.full_like(x, 1.0 - EDGE)
            below, above = self.located(model, low) - x >= 0, self.located(model, high) - x <= 0
            theta = (guess if guess is not None else torch.full_like(x, 0.5)).clamp(EDGE, 1.0 - EDGE)
            for _ in range(ROOT_ITERATIONS):
                at, slope = self._located_with_slope(model, theta)
                miss = at - x
                low, high = torch.where(miss < 0, theta, low), torch.where(miss > 0, theta, high)
                newton = theta - miss / slope
                middle = torch.sigmoid(0.5 * (logit(low) + logit(high)))
                step = torch.where((newton > low) & (newton < high), newton, middle)
                done = bool(((step - theta).abs() <= 1e-15 + 1e-13 * theta).all())
                theta = step
                if done:
                    break
            theta = torch.where(below, EDGE, torch.where(above, 1.0 - EDGE, theta))
        return theta, ~(below | above), self._located_with_slope(model, theta)[1]

    def observed_theta(self, model: FlameCH4Model, x: torch.Tensor) -> torch.Tensor:
        """theta at the observed positions x as a differentiable function of the model: the root
        theta* of x(theta) + x_0 = x_i, then one Newton step from it with x(theta*) differentiated and
        dx/dtheta held, which gives theta* and, by the implicit function theorem, its derivative
        d theta / d p = -(d x / d p) / (dx / dtheta).

        The root is found afresh on every plain evaluation; under a torch.func transform (a
        Jacobian) the root of the last plain evaluation at the same x is used (Levenberg-Marquardt
        evaluates the residual at a point before its Jacobian there)."""
        transformed = torch._C._functorch.is_functorch_wrapped_tensor(model.log_flux)
        cached = self._root_cache
        fresh = cached is None or cached[0].shape != x.shape or not torch.equal(cached[0], x.detach())
        if not transformed:
            guess = None if fresh else cached[1]
            self._root_cache = (x.detach().clone(), *self._roots(model, x.detach(), guess))
        elif fresh:
            raise RuntimeError("flame_ch4_inverse: the observed positions were not located before a Jacobian")
        _, theta, inside, slope = self._root_cache
        miss = self.located(model, theta) - x
        return theta - torch.where(inside, miss / slope, torch.zeros_like(miss))

    def predict(self, model: FlameCH4Model, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """T and the major species where the model's profile passes the positions x."""
        theta = self.observed_theta(model, x)
        _, Y, _ = self._split(self.state(model, 1.0 - (1.0 - theta) ** (1.0 / STRETCH)))
        rise = self.inlet.T_b - self.inlet.T_in
        return {"T": self.inlet.T_in + rise * theta, **{f"Y_{k}": Y[:, self.species.index(k)] for k in MAJOR_SPECIES}}

    def loss_terms(self, model: FlameCH4Model, batch: Mapping[str, Any], stage: str) -> dict[str, torch.Tensor]:
        return {**super().loss_terms(model, batch, stage), **self.data_terms(model, batch["t"])}

    def observables(self, model: FlameCH4Model) -> dict[str, torch.Tensor]:
        return {**super().observables(model), **self.unknown_observables(model)}
