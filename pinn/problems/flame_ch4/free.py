"""The freely propagating CH4/air flame with real thermochemistry and mixture-averaged transport
(FlamePINN-1D Case 2): the mass flux m = rho_in s_L is the trainable eigenvalue. The physics is
pinn.chemistry's, on the mechanism shipped in pinn/mechanisms, so the PINN and Cantera's
FreeFlame solve the same equations.

The temperature rises monotonically, so, as in flame_fpp, the temperature is the coordinate
(theta = (T - T_in) / (T_b - T_in), T_b adiabatic) and the unknowns are functions of it: the
gradient q = dtheta/dxi (xi = x / delta, delta = lambda_in / (m_0 cp_in), m_0 the starting guess
of m) and the mass fractions Y_k(theta). With d/dx = (q / delta) d/dtheta and the diffusive flux
written j_k = (q / delta) J_k (the flux is linear in the gradient: J_k is the flux of dY/dtheta)
the governing equations of pinn.chemistry.flame_equations become, divided by (q / delta) m_0 and
with hats meaning division by the inlet's lambda / cp or cp (' = d/dtheta):

    species k:  (m / m_0) Y_k' + (q J^_k)' = W_k omega_k delta / (m_0 q)
    energy:     (m / m_0) cp^ - (lambda^ q)' + q sum_k J^_k cp^_k + sum_k h_k omega_k delta / (m_0 q (T_b - T_in) cp_in) = 0

There is no translation to fix (the temperature is the coordinate); Cantera's anchor, the
fixed-temperature point, is where the profiles are placed in x. Boundary conditions hold by
construction of the trial functions:

    q = (m / m_0) theta (1 - theta)^a exp(N_q(eta) - N_q(0))

rises from the inlet with the exact preheat slope m cp_in / lambda_in and vanishes at the burnt
end with the exponent a of the reaction order of the reactant that runs out (nu: a = nu for
nu >= 1, (1 + nu) / 2 below, as in flame_fpp). The mass fractions leave the inlet as powers of
theta: in the preheat zone j = -A Y_x with a constant matrix A (the linearized mixture-averaged
flux, correction velocity included) and T rises as exp(m cp x / lambda), so deviations along an
eigenvector v_i of A (eigenvalue alpha_i) grow as theta^e_i, e_i = lambda_in / (cp_in alpha_i)
(the inlet Lewis numbers when A is diagonal). With Y_in + P z (P the eigenvectors, over the
species other than the last, which closes the sum to one):

    z_i = theta^e_i (z_b,i + c (1 - theta) N_i(eta)),    z_b = P^-1 (Y_b - Y_in)

so Y = Y_b at theta = 1. eta = 1 - (1 - theta)^(1/2) spreads the nodes into the reaction zone.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from scipy.interpolate import CubicHermiteSpline
from torch import nn
from torch.func import jvp

from pinn.chemistry.flame_equations import diffusive_fluxes, residuals
from pinn.chemistry.mechanism import load_mechanism, mechanism_sources
from pinn.constants import GAS_CONSTANT_J_PER_KMOL_K
from pinn.chemistry.properties import GasProperties, burnt_state
from pinn.errors import ConfigError
from pinn.numerics.jets import second_jvp
from pinn.numerics.nets import MLP
from pinn.numerics.quadrature import composite_gauss, gauss_legendre
from pinn.problems.base import Pointwise, Problem, check_number
from pinn.problems.inverse import attach_unknowns, unknown_value
from pinn.problems.registry import register

STRETCH = 2  # theta = 1 - (1 - eta)^STRETCH
FUEL, OXIDIZER, DILUENT = "CH4", "O2", "N2"
AIR_DILUTION = 3.76  # N2 per O2 in air
MAJOR_SPECIES = ("CH4", "O2", "CO2", "H2O")

PARAMETERS = {  # name: (lowest allowed, what)
    "phi": (0.0, "equivalence ratio"),
    "T_in": (0.0, "inlet temperature in K"),
    "pressure": (0.0, "pressure in Pa"),
    "width": (0.0, "domain width in m (Cantera's; it places the profiles)"),
}
# what this one-step global mechanism and its reference can stand for: CH4/air burns between
# about phi 0.5 and 1.7; the NASA-7 fits hold from 200 to 3500 K
RANGES = {"phi": (0.45, 2.0), "T_in": (200.0, 1000.0), "pressure": (1.0e3, 1.0e7)}
MAX_BURNT_TEMPERATURE = 3500.0
WIDTH_IN_THICKNESSES = (20.0, 5000.0)  # Cantera's domain against the preheat thickness lambda / (m cp)


def inlet_mass_fractions(species: tuple[str, ...], W: np.ndarray, phi: float) -> np.ndarray:
    """CH4 and air (O2 + 3.76 N2) at equivalence ratio phi: phi CH4 + 2 (O2 + 3.76 N2) by moles."""
    moles = np.zeros(len(species))
    for name, amount in ((FUEL, phi), (OXIDIZER, 2.0), (DILUENT, 2.0 * AIR_DILUTION)):
        if name not in species:
            raise ConfigError(f"the mechanism has no species {name}; flame_ch4 burns CH4 in air")
        moles[species.index(name)] = amount
    mass = moles * W
    return mass / mass.sum()


@dataclass(frozen=True)
class Inlet:
    """What the trial functions are built from (numpy, float64)."""

    T_in: float
    T_b: float
    Y_in: np.ndarray          # (K,)
    Y_b: np.ndarray           # (K,)
    exponents: np.ndarray     # e_i, (K - 1,)
    modes: np.ndarray         # P, (K - 1, K - 1)
    burnt_modes: np.ndarray   # z_b, (K - 1,)
    tail_exponent: float      # a
    cp_in: float
    conductivity_in: float
    density_in: float


class FlameCH4Model(nn.Module):
    """N(eta) -> (N_q, N_1 .. N_{K-1}), the mass flux m = m_0 exp(log_flux), and any other unknown
    p = p_start exp(log_p) (the inverse problem's kinetics and the data's offset in x)."""

    def __init__(self, net: MLP, m0: float, unknowns: Mapping[str, float] | None = None):
        super().__init__()
        self.net = net
        self.register_buffer("m0", torch.tensor(float(m0), dtype=torch.float64))
        self.log_flux = nn.Parameter(torch.zeros((), dtype=torch.float64))
        self.unknown_names = tuple(unknowns or {})
        attach_unknowns(self, unknowns or {})

    @property
    def mass_flux(self) -> torch.Tensor:
        return self.m0 * torch.exp(self.log_flux)

    def unknown(self, name: str) -> torch.Tensor:
        return unknown_value(self, name)


@register("flame_ch4")
class FreeFlameCH4(Problem):
    stages = ("solve",)
    default_tolerance = 1e-3
    report = "flame_ch4"

    def __init__(self, phi: float = 0.8, T_in: float = 300.0, pressure: float = 101325.0, width: float = 0.03):
        given = locals()
        self.parameters = {name: check_number(name, given[name], low=low, what=what)
                           for name, (low, what) in PARAMETERS.items()}
        self.phi, self.T_in, self.pressure, self.width = (self.parameters[k] for k in PARAMETERS)
        for name, (low, high) in RANGES.items():
            value = self.parameters[name]
            if not low <= value <= high:
                raise ConfigError(f"problem.{name}={value:g} is outside {low:g}..{high:g}, the range of a one-step "
                                  f"CH4/air flame this tool checks against Cantera ({PARAMETERS[name][1]})")
        self.mechanism = load_mechanism()
        self.species = self.mechanism.species
        self._properties: dict[tuple, GasProperties] = {}
        self.inlet = self._inlet()
        self.s0 = self.speed_estimate()
        self.m0 = self.inlet.density_in * self.s0
        low, high = (n * self.delta for n in WIDTH_IN_THICKNESSES)
        if not low <= self.width <= high:
            raise ConfigError(f"problem.width={self.width:g} m must be between {low:.2g} and {high:.2g} m "
                              f"({WIDTH_IN_THICKNESSES[0]:g} to {WIDTH_IN_THICKNESSES[1]:g} flame thicknesses) "
                              "for Cantera's reference flame to fit")

    def reference_sources(self) -> list[Path]:
        return [*super().reference_sources(), *mechanism_sources()]

    def solve_reference(self):
        """Cantera's FreeFlame, refined until s_L stops moving (pinn.reference.flame_ch4)."""
        from pinn.reference.flame_ch4 import free_flame

        return free_flame(self.phi, self.T_in, self.pressure, self.width)

    def evaluate(self, model, reference, criteria):
        from pinn.problems.flame_ch4.evaluate import evaluate_free

        return evaluate_free(self, model, criteria, reference)

    # ----- set-up ------------------------------------------------------------------------------
    def properties(self, like: torch.Tensor) -> GasProperties:
        key = (like.device, like.dtype)
        if key not in self._properties:
            self._properties[key] = GasProperties(self.mechanism, device=like.device, dtype=like.dtype)
        return self._properties[key]

    def _inlet(self) -> Inlet:
        props = self.properties(torch.zeros((), dtype=torch.float64))
        W = self.mechanism.molecular_weights
        Y_in = inlet_mass_fractions(self.species, W, self.phi)
        Y_in_t = torch.as_tensor(Y_in).reshape(1, -1)
        T_b, Y_b = burnt_state(props, self.T_in, Y_in_t)
        T_b, Y_b = float(T_b), Y_b.numpy()
        if not self.T_in + 100.0 < T_b <= MAX_BURNT_TEMPERATURE:
            raise ConfigError(f"problem.phi={self.phi:g}, T_in={self.T_in:g}: the adiabatic temperature "
                              f"{T_b:.0f} K is outside T_in + 100 .. {MAX_BURNT_TEMPERATURE:g} K "
                              "(no flame, or beyond the thermodynamic data)")
        T = torch.tensor([self.T_in], dtype=torch.float64)
        p = self.pressure
        # the linearized flux j = -A dY/dx over the species but the last (which closes the sum)
        closure = torch.cat([torch.eye(len(W) - 1), -torch.ones(1, len(W) - 1)]).to(torch.float64)
        A = -torch.stack([diffusive_fluxes(props, T, p, Y_in_t, closure[:, i].reshape(1, -1))[0, :-1]
                          for i in range(len(W) - 1)], dim=1).numpy()
        alpha, modes = np.linalg.eig(A)
        if np.abs(alpha.imag).max() > 1e-9 * np.abs(alpha).max() or alpha.real.min() <= 0:
            raise ConfigError("the inlet diffusion matrix has complex or non-positive eigenvalues; "
                              "this mechanism's transport data cannot be used")
        alpha, modes = alpha.real, modes.real
        cp_in = float(props.cp_mass(T, Y_in_t))
        conductivity_in = float(props.conductivity(T, props.mole_fractions(Y_in_t)))
        density_in = float(props.density(T, p, Y_in_t))
        exponents = conductivity_in / (cp_in * alpha)
        burnt_modes = np.linalg.solve(modes, (Y_b - Y_in)[:-1])
        return Inlet(T_in=self.T_in, T_b=T_b, Y_in=Y_in, Y_b=Y_b, exponents=exponents, modes=modes,
                     burnt_modes=burnt_modes, tail_exponent=self._tail_exponent(Y_in, Y_b),
                     cp_in=cp_in, conductivity_in=conductivity_in, density_in=density_in)

    def _tail_exponent(self, Y_in: np.ndarray, Y_b: np.ndarray) -> float:
        """a from the rate's order in the reactants that run out (Y_b ~ 0)."""
        orders = self.mechanism.orders[0]
        used_up = (orders > 0) & (Y_b < 1e-9 * Y_in.max())
        nu = float(orders[used_up].sum())
        return nu if nu >= 1.0 else 0.5 * (1.0 + nu)

    def speed_estimate(self, A=None, Ea=None) -> float:
        """Zel'dovich-Frank-Kamenetskii with unit Lewis numbers (Y linear in T):
        (rho_in s)^2 = 2 lambda_b int H dT / (cp (T_b - T_in))^2, H the heat release rate. Only
        a starting point for m."""
        inlet = self.inlet
        props = self.properties(torch.zeros((), dtype=torch.float64))
        theta = torch.linspace(0.0, 1.0, 4001, dtype=torch.float64)
        T = inlet.T_in + (inlet.T_b - inlet.T_in) * theta
        Y = torch.as_tensor(inlet.Y_in) + theta[:, None] * torch.as_tensor(inlet.Y_b - inlet.Y_in)
        omega = props.net_production_rates(T, self.pressure, Y, A, Ea)
        heat = -(GAS_CONSTANT_J_PER_KMOL_K * T[:, None] * props.enthalpy_species_RT(T) * omega).sum(-1)
        integral = float(torch.trapezoid(heat, T))
        Y_b = torch.as_tensor(inlet.Y_b).reshape(1, -1)
        T_b = torch.tensor([inlet.T_b], dtype=torch.float64)
        conductivity_b = float(props.conductivity(T_b, props.mole_fractions(Y_b)))
        cp_mean = float(props.cp_mass(0.5 * (T[:1] + T_b), 0.5 * (Y[:1] + Y_b)))
        m = math.sqrt(2.0 * conductivity_b * integral) / (cp_mean * (inlet.T_b - inlet.T_in))
        if not (math.isfinite(m) and m > 0):
            raise ConfigError(f"flame_ch4 at phi={self.phi:g}: the reaction rate vanishes on the way to the "
                              "burnt state; no flame")
        return m / inlet.density_in

    def kinetics(self, model: FlameCH4Model) -> tuple:
        """(A, Ea) of the rate when they are unknowns, else (None, None): the mechanism's."""
        return None, None

    @property
    def delta(self) -> float:
        """The length unit: lambda_in / (m_0 cp_in)."""
        return self.inlet.conductivity_in / (self.m0 * self.inlet.cp_in)

    # ----- trial functions ---------------------------------------------------------------------
    def build_model(self, width: int, depth: int, activation: str) -> FlameCH4Model:
        return FlameCH4Model(MLP(1, len(self.species), width, depth, activation, output_scale=0.1), self.m0,
                             self.starts())

    def starts(self) -> dict[str, float]:
        """Unknown physical parameters besides m and their starting values (none when forward)."""
        return {}

    def _constants(self, like: torch.Tensor) -> dict[str, torch.Tensor]:
        i = self.inlet
        return {name: torch.as_tensor(getattr(i, name), device=like.device, dtype=like.dtype)
                for name in ("Y_in", "exponents", "modes", "burnt_modes")}

    def state(self, model: FlameCH4Model, t: torch.Tensor) -> torch.Tensor:
        """(N, K + 1): theta, the mass fractions of all species but the last, q, at the collocation
        coordinate t = eta."""
        c = self._constants(t)
        eta = t
        left = (1.0 - eta) ** STRETCH  # 1 - theta, kept exact near the burnt end
        theta = 1.0 - left
        out = model.net((2.0 * eta - 1.0).unsqueeze(-1))
        start = model.net(t.new_full((1, 1), -1.0))[0, 0]
        q = (model.mass_flux / model.m0) * theta * left ** self.inlet.tail_exponent * torch.exp(out[:, 0] - start)
        scale = float(np.abs(self.inlet.burnt_modes).max())
        z = theta.unsqueeze(-1) ** c["exponents"] * (c["burnt_modes"] + scale * left.unsqueeze(-1) * out[:, 1:])
        Y = c["Y_in"][:-1] + z @ c["modes"].T
        return torch.cat([theta.unsqueeze(-1), Y, q.unsqueeze(-1)], dim=-1)

    def _split(self, s: torch.Tensor):
        theta, Y, q = s[:, 0], s[:, 1:-1], s[:, -1]
        Y = torch.cat([Y, 1.0 - Y.sum(-1, keepdim=True)], dim=-1)
        return theta, Y, q

    def residual(self, model: FlameCH4Model, t: torch.Tensor) -> torch.Tensor:
        """(N, K): the species equations of all species but the last, then energy."""
        i, p = self.inlet, self.pressure
        props = self.properties(t)
        rise = i.T_b - i.T_in
        s, s_t, s_tt = second_jvp(lambda u: self.state(model, u), t)

        def fluxes(s, s_t):
            """(q J^, lambda^ q): what is differentiated once more."""
            theta, Y, q = self._split(s)
            theta_t, Y_t, _ = self._split(s_t)
            Y_t = torch.cat([Y_t[:, :-1], -Y_t[:, :-1].sum(-1, keepdim=True)], dim=-1)
            T = i.T_in + rise * theta
            J = diffusive_fluxes(props, T, p, Y, Y_t / theta_t.unsqueeze(-1)) * (i.cp_in / i.conductivity_in)
            conductivity = props.conductivity(T, props.mole_fractions(Y)) / i.conductivity_in
            return torch.cat([q.unsqueeze(-1) * J, (conductivity * q).unsqueeze(-1)], dim=-1)

        F, F_t = jvp(fluxes, (s, s_t), (s_t, s_tt))
        theta, Y, q = self._split(s)
        theta_t = s_t[:, 0]
        F_theta = F_t / theta_t.unsqueeze(-1)
        T = i.T_in + rise * theta
        # pinn.chemistry's x-space equations, with d/dx = (q / delta) d/dtheta: j = m_0 q J^ and
        # -lambda T' = -(lambda_in (T_b - T_in) / delta) lambda^ q, then each divided by its
        # (q / delta) m_0 scale
        to_x = q / self.delta
        m0 = model.m0
        Y_t = torch.cat([s_t[:, 1:-1], -s_t[:, 1:-1].sum(-1, keepdim=True)], dim=-1)
        Y_x = to_x.unsqueeze(-1) * Y_t / theta_t.unsqueeze(-1)
        div_j = (to_x * m0).unsqueeze(-1) * F_theta[:, :-1]
        div_q = -to_x * (rise * i.conductivity_in / self.delta) * F_theta[:, -1]
        omega = props.net_production_rates(T, p, Y, *self.kinetics(model))
        species, energy = residuals(props, model.mass_flux, T, rise * to_x, Y, Y_x, m0 * F[:, :-1], div_j, div_q, omega)
        species = species[:, :-1] / (to_x * m0).unsqueeze(-1) / self._species_scale(t)
        energy = energy / (to_x * m0 * i.cp_in * rise)
        return torch.cat([species, energy.unsqueeze(-1)], dim=-1)

    def _species_scale(self, like: torch.Tensor) -> torch.Tensor:
        change = np.abs(self.inlet.Y_b - self.inlet.Y_in)[:-1]
        return torch.as_tensor(change + 1e-3 * change.max(), device=like.device, dtype=like.dtype)

    # ----- training interface ------------------------------------------------------------------
    def collocation(self, n_points: int, device, dtype, generator: torch.Generator | None = None) -> dict[str, Any]:
        t, w = composite_gauss(n_points, generator)
        return {"t": torch.as_tensor(t, device=device, dtype=dtype), "w": torch.as_tensor(w, device=device, dtype=dtype)}

    def loss_terms(self, model: FlameCH4Model, batch: Mapping[str, Any], stage: str) -> dict[str, torch.Tensor]:
        return {"residual": Pointwise(functools.partial(self._residual_rows, model), batch["t"], batch["w"])}

    def _residual_rows(self, model: FlameCH4Model, t: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """(nodes, K): each node's equations times the square root of its weight."""
        return self.residual(model, t) * w.sqrt().unsqueeze(-1)

    def eigenvalue(self, model: FlameCH4Model) -> torch.Tensor:
        """s_L = m / rho_in in m/s (differentiable in the model's parameters)."""
        return model.mass_flux / self.inlet.density_in

    def observables(self, model: FlameCH4Model) -> dict[str, torch.Tensor]:
        return {"s_L": self.eigenvalue(model).detach()}

    # ----- fields in x -------------------------------------------------------------------------
    def _with_derivative(self, model: FlameCH4Model, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return jvp(lambda u: self.state(model, u), (t,), (torch.ones_like(t),))

    def trajectory(self, model: FlameCH4Model, T_fix: float) -> dict[str, np.ndarray]:
        """The solution along a dense grid of the collocation coordinate, placed in x with x = 0
        where T = T_fix: x(t) = delta int_{t_fix}^t (dtheta/dt) / q dt (8-point Gauss per cell).
        Returns x, T, Y (n, K), dT/dx, dY/dx (n, K), numpy, increasing in x."""
        i = self.inlet
        theta_fix = (T_fix - i.T_in) / (i.T_b - i.T_in)
        if not 0.0 < theta_fix < 1.0:
            raise ConfigError(f"the anchor temperature {T_fix:g} K is not between T_in and T_b")
        t_fix = 1.0 - math.sqrt(1.0 - theta_fix)
        ends = np.logspace(-9, -2, 120)
        edges = np.unique(np.concatenate([ends, np.linspace(0.01, 0.99, 1500), 1.0 - ends, [t_fix]]))
        nodes, weights = gauss_legendre(8)
        h = np.diff(edges)
        gauss = (edges[:-1, None] + 0.5 * h[:, None] * (nodes + 1.0)).ravel()
        param = model.m0
        as_t = lambda a: torch.as_tensor(a, device=param.device, dtype=param.dtype)  # noqa: E731
        with torch.no_grad():
            s, s_t = self._with_derivative(model, as_t(np.concatenate([edges, gauss])))
        s, s_t = s.double().cpu().numpy(), s_t.double().cpu().numpy()
        n = edges.size
        slope = self.delta * s_t[:, 0] / s[:, -1]                     # dx/dt
        cells = 0.5 * h * (slope[n:].reshape(-1, 8) @ weights)
        x = np.concatenate([[0.0], np.cumsum(cells)])
        x -= x[np.searchsorted(edges, t_fix)]
        rise = i.T_b - i.T_in
        Y = np.concatenate([s[:n, 1:-1], 1.0 - s[:n, 1:-1].sum(-1, keepdims=True)], axis=-1)
        dY = s_t[:n, 1:-1] / slope[:n, None]
        dY = np.concatenate([dY, -dY.sum(-1, keepdims=True)], axis=-1)
        return {"x": x, "T": i.T_in + rise * s[:n, 0], "Y": Y, "dT": rise * s_t[:n, 0] / slope[:n], "dY": dY}

    def fields(self, model: FlameCH4Model, x: np.ndarray, T_fix: float, x_fix: float) -> dict[str, np.ndarray]:
        """T, u and every Y_k at the points x, the profile placed so that T(x_fix) = T_fix
        (Cantera's anchor). Cubic Hermite interpolation of the trajectory with its exact slopes;
        inlet state upstream of it, its last point downstream."""
        path = self.trajectory(model, T_fix)
        keep = np.isfinite(path["x"]) & np.concatenate([[True], np.diff(path["x"]) > 0])
        if keep.sum() < 2 or not all(np.all(np.isfinite(v[keep])) for v in path.values()):
            return {"T": np.full(np.shape(x), np.nan), "u": np.full(np.shape(x), np.nan),
                    **{f"Y_{k}": np.full(np.shape(x), np.nan) for k in self.species}}
        X = path["x"][keep] + x_fix
        xs = np.clip(np.asarray(x, dtype=float), X[0], X[-1])
        T = CubicHermiteSpline(X, path["T"][keep], path["dT"][keep])(xs)
        Y = np.stack([CubicHermiteSpline(X, path["Y"][keep, k], path["dY"][keep, k])(xs)
                      for k in range(len(self.species))], axis=-1)
        below = np.asarray(x) < X[0]
        T = np.where(below, self.inlet.T_in, T)
        Y = np.where(below[:, None], self.inlet.Y_in, Y)
        props = self.properties(torch.zeros((), dtype=torch.float64))
        rho = props.density(torch.as_tensor(T), self.pressure, torch.as_tensor(Y)).numpy()
        u = float(model.mass_flux.detach()) / rho
        return {"T": T, "u": u, **{f"Y_{name}": Y[:, k] for k, name in enumerate(self.species)}}
