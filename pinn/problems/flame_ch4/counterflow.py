"""The premixed CH4/air counterflow flame (FlamePINN-1D Case 3), solved forward: reactants from
the nozzle at x = 0 against their own adiabatic products from x = L, axisymmetric, with the
pressure-curvature eigenvalue Lambda = (1/r) dp/dr the unknown. The equations are
pinn.chemistry.flame_equations' (m = rho u, V = v / r), evaluated by its functions:

    continuity:   m' + 2 rho V = 0
    momentum:     m V' + rho V^2 + Lambda - (mu V')' = 0
    species k:    m Y_k' + j_k' = W_k omega_k
    energy:       m cp T' + q' + T' sum_k j_k cp_k + sum_k h_k omega_k = 0

with m(0) = rho_in u_reactants, m(L) = -rho_b u_products, V = 0 at both nozzles, T and Y the
inlet and burnt states there (what Cantera's CounterflowPremixedFlame solves).

The flame is thin (about a hundredth of L) and its place is part of the solution, so the
collocation coordinate s in [0, 1] is mapped to x by a sinh map that crowds nodes around a
trainable flame position x_f, and, as in the free flame's phase plane, the temperature is
prescribed through the flame as a step g of the base map x_0(s) while the map itself is learnt:

    x_0(s) = x_f + w sinh(beta s - asinh(x_f / w)),   x(s) = x_0(s) + b(s) w N_x(s)
    T(s)   = T_in + (T_b - T_in) (g(s) + b(s) g^4 N_T(s))
    Y(s)   = Y_in + (Y_b - Y_in) g(s) + b(s) c(s) sigma N_Y(s)
    m      = m_r (1 - xi) - m_p xi + 4 xi (1 - xi) m_r N_m,   V = 4 xi (1 - xi) (u_r / L) N_V

with b = 4 s (1 - s), xi = x / L, g a tanh step of width l centred on x_f and normalized to
0 at s = 0 and 1 at s = 1, c a cut-off that keeps species corrections out of the cold flow
ahead of the flame, and the last mass fraction closing the sum. Every boundary condition holds by
construction. Derivatives in x follow from d/dx = (1 / x_s) d/ds.

Training has two stages: "flow" solves continuity and momentum (Lambda, m, V) for the starting
temperature step, placed where the mass flux meets the free flame's burning flux; "solve" then
solves all the equations together, the flame's place included.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, jvp

from pinn.chemistry.flame_equations import counterflow_residuals, diffusive_fluxes, residuals
from pinn.errors import ConfigError
from pinn.numerics.jets import second_jvp
from pinn.numerics.nets import MLP
from pinn.problems.base import Pointwise, Problem, check_number
from pinn.problems.inverse import attach_unknowns, unknown_value
from pinn.chemistry.mechanism import mechanism_sources
from pinn.problems.flame_ch4.free import FreeFlameCH4
from pinn.problems.registry import register
from pinn.numerics.quadrature import composite_gauss

NOZZLE_SPEED = (0.01, 50.0)       # m/s, either nozzle
WIDTH_IN_THICKNESSES = 40.0       # the gap against the preheat thickness, at least
MAP_WIDTH = 2.0                   # w of the sinh map, in preheat thicknesses
STEP_WIDTH = 2.5                  # l of the temperature step, in preheat thicknesses
CUTOFF_OFFSET = 4.0               # species corrections start this many l ahead of x_f


class CounterflowModel(nn.Module):
    """flow: (s, x_0) -> (N_m, N_V); scalars: (s, x_0) -> (N_x, N_T, N_Y ...); Lambda =
    Lambda_0 exp(log_curvature); x_f = x_f0 + w shift."""

    def __init__(self, flow: MLP, scalars: MLP, curvature0: float, position0: float, map_width: float,
                 unknowns: Mapping[str, float] | None = None):
        super().__init__()
        self.flow, self.scalars = flow, scalars
        for name, value in (("curvature0", curvature0), ("position0", position0), ("map_width", map_width)):
            self.register_buffer(name, torch.tensor(float(value), dtype=torch.float64))
        self.log_curvature = nn.Parameter(torch.zeros((), dtype=torch.float64))
        self.shift = nn.Parameter(torch.zeros((), dtype=torch.float64))
        attach_unknowns(self, unknowns or {})

    def unknown(self, name: str) -> torch.Tensor:
        """An unknown physical parameter p = p_start exp(log_p) (the inverse problem's)."""
        return unknown_value(self, name)

    @property
    def Lambda(self) -> torch.Tensor:
        return self.curvature0 * torch.exp(self.log_curvature)

    @property
    def position(self) -> torch.Tensor:
        return self.position0 + self.map_width * self.shift


@register("flame_counterflow")
class CounterflowFlameCH4(Problem):
    stages = ("flow", "solve")
    default_tolerance = 1e-3
    report = "flame_counterflow"

    def __init__(self, phi: float = 0.8, T_in: float = 300.0, pressure: float = 101325.0, width: float = 0.02,
                 u_reactants: float = 1.0, u_products: float = 1.0):
        self.free = FreeFlameCH4(phi, T_in, pressure)
        self.phi, self.T_in, self.pressure = self.free.phi, self.free.T_in, self.free.pressure
        self.width = check_number("width", width, low=0.0, what="distance between the nozzles in m")
        low, high = NOZZLE_SPEED
        self.u_reactants, self.u_products = (
            check_number(key, value, low=low, high=high, low_inclusive=True, what="nozzle speed in m/s")
            for key, value in (("u_reactants", u_reactants), ("u_products", u_products)))
        self.parameters = {"phi": self.phi, "T_in": self.T_in, "pressure": self.pressure, "width": self.width,
                           "u_reactants": self.u_reactants, "u_products": self.u_products}
        inlet = self.free.inlet
        guess = self.initial_kinetics()
        if guess != (None, None):
            self.free.s0 = self.free.speed_estimate(*guess)
            self.free.m0 = inlet.density_in * self.free.s0
        self.delta = self.free.delta
        if self.width < WIDTH_IN_THICKNESSES * self.delta:
            raise ConfigError(f"problem.width={self.width:g} m is too narrow for a flame: give at least "
                              f"{WIDTH_IN_THICKNESSES * self.delta:.2g} m ({WIDTH_IN_THICKNESSES:g} flame thicknesses)")
        props = self.free.properties(torch.zeros((), dtype=torch.float64))
        self.density_b = float(props.density(torch.tensor([inlet.T_b], dtype=torch.float64), self.pressure,
                                             torch.as_tensor(inlet.Y_b).reshape(1, -1)))
        self.m_r = inlet.density_in * self.u_reactants
        self.m_p = self.density_b * self.u_products
        self.burning_flux = inlet.density_in * self.free.s0
        self.map_width = MAP_WIDTH * self.delta
        self.step_width = STEP_WIDTH * self.delta
        self.position0 = self._position_estimate()
        if not 0.0 < self.position0 - 3.0 * self.step_width:
            raise ConfigError(f"u_reactants={self.u_reactants:g} m/s is below the flame speed ({self.free.s0:.2g} m/s "
                              "estimated): the flame would sit on the reactant nozzle; raise u_reactants")
        self.curvature0 = -inlet.density_in * (2.0 * self.u_reactants / self.width) ** 2
        dY = np.abs(inlet.Y_b - inlet.Y_in)[:-1]
        self.species_scale = dY + 1e-3 * dY.max()
        self.correction_scale = dY + 0.1 * dY.max()

    def reference_sources(self) -> list[Path]:
        return [*super().reference_sources(), *mechanism_sources()]

    def solve_reference(self):
        """Cantera's CounterflowPremixedFlame, refined until Lambda stops moving."""
        from pinn.reference.flame_ch4 import counterflow

        return counterflow(self.phi, self.T_in, self.pressure, self.width, self.u_reactants, self.u_products)

    def evaluate(self, model, reference, criteria):
        from pinn.problems.flame_ch4.evaluate import evaluate_counterflow

        return evaluate_counterflow(self, model, criteria, reference)

    def _position_estimate(self) -> float:
        """Where the flame starts: the stagnation point x_s of two inviscid jets balanced by their
        momentum (x_s / L = a_r / (a_r + a_p), a = u sqrt(rho)), and ahead of it where the linear
        reactant-side velocity u_r (1 - x / x_s) has fallen to the flame speed estimate."""
        a_r = self.u_reactants * math.sqrt(self.free.inlet.density_in)
        a_p = self.u_products * math.sqrt(self.density_b)
        x_s = self.width * a_r / (a_r + a_p)
        return x_s * (1.0 - self.free.s0 / self.u_reactants)

    @property
    def species(self) -> tuple[str, ...]:
        return self.free.species

    @property
    def inlet(self):
        return self.free.inlet

    # ----- trial functions ---------------------------------------------------------------------
    def build_model(self, width: int, depth: int, activation: str) -> CounterflowModel:
        flow = MLP(2, 2, width, depth, activation, output_scale=0.1)
        scalars = MLP(2, len(self.species) + 1, width, depth, activation, output_scale=0.1)
        return CounterflowModel(flow, scalars, self.curvature0, self.flame_start(), self.map_width, self.starts())

    def flame_start(self) -> float:
        """Where the flame starts (see `_position_estimate`)."""
        return self.position0

    def starts(self) -> dict[str, float]:
        """Unknown physical parameters besides Lambda and their starting values (none when forward)."""
        return {}

    def kinetics(self, model: CounterflowModel) -> tuple:
        """(A, Ea) of the rate when they are unknowns, else (None, None): the mechanism's."""
        return None, None

    def initial_kinetics(self) -> tuple:
        """(A, Ea) the starting flame speed estimate uses; (None, None): the mechanism's."""
        return None, None

    def base_map(self, model: CounterflowModel, s: torch.Tensor) -> torch.Tensor:
        x_f, w, L = model.position, self.map_width, self.width
        start = torch.asinh(x_f / w)
        beta = torch.asinh((L - x_f) / w) + start
        return x_f + w * torch.sinh(beta * s - start)

    def base_node(self, model: CounterflowModel, x: torch.Tensor) -> torch.Tensor:
        """s with x_0(s) = x."""
        x_f, w, L = model.position, self.map_width, self.width
        start = torch.asinh(x_f / w)
        beta = torch.asinh((L - x_f) / w) + start
        return (torch.asinh((x - x_f) / w) + start) / beta

    def _step(self, x0: torch.Tensor, x_f: torch.Tensor) -> torch.Tensor:
        l, L = self.step_width, self.width
        low, high = torch.tanh(-x_f / l), torch.tanh((L - x_f) / l)
        return (torch.tanh((x0 - x_f) / l) - low) / (high - low)

    def state(self, model: CounterflowModel, s: torch.Tensor, frozen_scalars: bool = False) -> torch.Tensor:
        """(N, K + 3): x, T, the mass fractions of all species but the last, m, V."""
        i, like = self.inlet, s
        as_t = lambda a: torch.as_tensor(a, device=like.device, dtype=like.dtype)  # noqa: E731
        x_f = model.position
        x0 = self.base_map(model, s)
        bubble = 4.0 * s * (1.0 - s)
        inputs = torch.stack([2.0 * s - 1.0, 2.0 * x0 / self.width - 1.0], dim=-1)
        if frozen_scalars:
            params = {k: v.detach() for k, v in model.scalars.named_parameters()}
            N = functional_call(model.scalars, params, (inputs,))
        else:
            N = model.scalars(inputs)
        x = x0 + bubble * self.map_width * N[:, 0]
        g = self._step(x0, x_f)
        T = i.T_in + (i.T_b - i.T_in) * (g + bubble * g**4 * N[:, 1])
        cutoff = 0.5 * (1.0 + torch.tanh((x0 - x_f) / self.step_width + CUTOFF_OFFSET))
        Y_in, dY = as_t(i.Y_in[:-1]), as_t((i.Y_b - i.Y_in)[:-1])
        Y = Y_in + dY * g.unsqueeze(-1) + (bubble * cutoff).unsqueeze(-1) * as_t(self.correction_scale) * N[:, 2:]
        xi = x / self.width
        cap = 4.0 * xi * (1.0 - xi)
        F = model.flow(inputs)
        m = self.m_r * (1.0 - xi) - self.m_p * xi + cap * self.m_r * F[:, 0]
        V = cap * (self.u_reactants / self.width) * F[:, 1]
        return torch.cat([x.unsqueeze(-1), T.unsqueeze(-1), Y, m.unsqueeze(-1), V.unsqueeze(-1)], dim=-1)

    @staticmethod
    def _split(state: torch.Tensor, derivative: bool = False):
        """(x, T, Y (all K), m, V); for a derivative the last mass fraction's is minus the others'."""
        x, T, Y, m, V = state[:, 0], state[:, 1], state[:, 2:-2], state[:, -2], state[:, -1]
        closure = -Y.sum(-1, keepdim=True) if derivative else 1.0 - Y.sum(-1, keepdim=True)
        return x, T, torch.cat([Y, closure], dim=-1), m, V

    # ----- residuals ---------------------------------------------------------------------------
    def residual(self, model: CounterflowModel, s: torch.Tensor, frozen_scalars: bool = False) -> dict[str, torch.Tensor]:
        """{"flow": (N, 2) continuity and momentum, "scalars": (N, K) species but the last, then
        energy}, each divided by its scale: m_r / L; |Lambda_0|; m_0 dY_k / delta; m_0 cp dT / delta."""
        i, p = self.inlet, self.pressure
        props = self.free.properties(s)
        st, st_s, st_ss = second_jvp(lambda u: self.state(model, u, frozen_scalars), s)

        def fluxes(st, st_s):
            """(j_k, q, mu V'): what is differentiated once more."""
            _, T, Y, _, _ = self._split(st)
            x_s, T_s, Y_s, _, V_s = self._split(st_s, derivative=True)
            X = props.mole_fractions(Y)
            j = diffusive_fluxes(props, T, p, Y, Y_s / x_s.unsqueeze(-1))
            q = -props.conductivity(T, X) * T_s / x_s
            tau = props.viscosity(T, X) * V_s / x_s
            return torch.cat([j, q.unsqueeze(-1), tau.unsqueeze(-1)], dim=-1)

        flux, flux_s = jvp(fluxes, (st, st_s), (st_s, st_ss))
        _, T, Y, m, V = self._split(st)
        x_s, T_s, Y_s, m_s, V_s = self._split(st_s, derivative=True)
        flux_x = flux_s / x_s.unsqueeze(-1)
        T_x, Y_x, V_x = T_s / x_s, Y_s / x_s.unsqueeze(-1), V_s / x_s
        rho = props.density(T, p, Y)
        continuity, momentum = counterflow_residuals(rho, m, V, m_s / x_s, V_x, flux_x[:, -1], model.Lambda)
        out = {"flow": torch.stack([continuity / (self.m_r / self.width), momentum / abs(self.curvature0)], dim=-1)}
        if frozen_scalars:
            return out
        omega = props.net_production_rates(T, p, Y, *self.kinetics(model), signed=True)
        m0, delta = self.free.m0, self.delta
        species, energy = residuals(props, m, T, T_x, Y, Y_x, flux[:, :-2], flux_x[:, :-2], flux_x[:, -2], omega)
        species = species[:, :-1] / (torch.as_tensor(self.species_scale, device=s.device, dtype=s.dtype) * m0 / delta)
        energy = energy / (m0 * i.cp_in * (i.T_b - i.T_in) / delta)
        out["scalars"] = torch.cat([species, energy.unsqueeze(-1)], dim=-1)
        return out

    def placement(self, model: CounterflowModel, like: torch.Tensor) -> torch.Tensor:
        """The flow stage's one extra row: the mass flux at x_f is the burning flux rho_in s_0."""
        s = self.base_node(model, model.position.reshape(1).to(like))
        m = self.state(model, s, frozen_scalars=True)[:, -2]
        return (m - self.burning_flux) / self.burning_flux

    # ----- training interface ------------------------------------------------------------------
    def collocation(self, n_points: int, device, dtype, generator: torch.Generator | None = None) -> dict[str, Any]:
        s, w = composite_gauss(n_points, generator)
        return {"s": torch.as_tensor(s, device=device, dtype=dtype), "w": torch.as_tensor(w, device=device, dtype=dtype)}

    def loss_terms(self, model: CounterflowModel, batch: Mapping[str, Any], stage: str) -> dict[str, torch.Tensor]:
        s, w = batch["s"], batch["w"]
        if stage == "flow":
            return {"flow": Pointwise(functools.partial(self._residual_rows, model, "flow", True), s, w),
                    "placement": self.placement(model, s)}
        return {name: Pointwise(functools.partial(self._residual_rows, model, name, False), s, w)
                for name in ("flow", "scalars")}

    def _residual_rows(self, model: CounterflowModel, block: str, frozen_scalars: bool, s: torch.Tensor,
                       w: torch.Tensor) -> torch.Tensor:
        """(nodes, equations) of one block of `residual`, times the square root of each node's weight."""
        return self.residual(model, s, frozen_scalars)[block] * w.sqrt().unsqueeze(-1)

    def eigenvalue(self, model: CounterflowModel) -> torch.Tensor:
        """Lambda in Pa/m^2 (differentiable in the model's parameters)."""
        return model.Lambda

    def observables(self, model: CounterflowModel) -> dict[str, torch.Tensor]:
        return {"Lambda": self.eigenvalue(model).detach(), "x_f": model.position.detach()}

    # ----- fields in x -------------------------------------------------------------------------
    def profile(self, model: CounterflowModel, n: int = 20001) -> dict[str, np.ndarray]:
        """The fields along a dense grid of s (numpy): s, x, T, Y (n, K), u, V."""
        param = model.curvature0
        s = torch.linspace(0.0, 1.0, n, device=param.device, dtype=param.dtype)
        with torch.no_grad():
            st = self.state(model, s)
        x, T, Y, m, V = (a.double().cpu() for a in self._split(st))
        props = self.free.properties(x)
        rho = props.density(T, self.pressure, Y)
        return {"s": s.double().cpu().numpy(), "x": x.numpy(), "T": T.numpy(), "Y": Y.numpy(),
                "u": (m / rho).numpy(), "V": V.numpy()}

    def fields(self, model: CounterflowModel, x: np.ndarray) -> dict[str, np.ndarray]:
        """T, u, V and every Y_k at the points x (the learnt map inverted by interpolation on a
        dense grid of s; NaN where the map is not monotone)."""
        path = self.profile(model)
        nan = np.full(np.shape(x), np.nan)
        if not (np.all(np.isfinite(path["x"])) and np.all(np.diff(path["x"]) > 0)):
            return {"T": nan, "u": nan, "V": nan, **{f"Y_{k}": nan for k in self.species}}
        at = lambda f: np.interp(x, path["x"], f)  # noqa: E731
        return {"T": at(path["T"]), "u": at(path["u"]), "V": at(path["V"]),
                **{f"Y_{name}": at(path["Y"][:, k]) for k, name in enumerate(self.species)}}
