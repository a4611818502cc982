"""The simplified freely propagating premixed flame (FlamePINN-1D Case 1): the flame speed s_L is
the trainable eigenvalue. Parameter names and defaults: docs/problems.md.

In xi = x / L and theta = (T - T_in) / (T_max - T_in) the energy equation
lambda T'' - rho_in s cp T' + q_F omega = 0 reads

    theta'' - Pe theta' + D omega = 0,   Pe = rho_in s cp L / lambda,   D = q_F L^2 / (lambda (T_max - T_in)),

with theta(0) = 0 and theta'(0) = g = G L / (T_max - T_in). The temperature rises monotonically,
so the network represents the gradient as a function of the temperature (the phase plane),
q(theta) = dtheta/dxi, and the equation becomes first order:

    q dq/dtheta - Pe q + D omega(theta, s) = 0,   q(0) = g,   q(1) = 0.

s is the value for which the trajectory leaving the inlet with gradient g reaches the burnt state
and nothing else: a smaller s turns back before the fuel is used up, a larger one overshoots. The
failure modes of the x-space form are gone by construction: T stays between T_in and T_max (theta
is the coordinate), there is no front position to find (flashback and blow-off are not
representable), and the translation of the profile is fixed by q(0) = g exactly.

The trial function, with eta in [0, 1] stretched towards the burnt end, theta = 1 - (1 - eta)^K:

    q = g (1 - theta)^a (1 + Pe theta / g) exp(N(eta) - N(0)),

a = nu (reaction order) for nu >= 1, (1 + nu) / 2 below: the exponent with which q vanishes at
the burnt end (convection balancing reaction, or diffusion balancing it); the middle factor is the
exact preheat solution q = g + Pe theta at the current speed, so the steep start of log q
(a factor ~10 within theta < 0.01) needs nothing from the network; N is the network. The
residual is taken relative to the size of its terms, (q q' - Pe q + D omega) / (Pe q + D omega), which is O(1)
everywhere from the preheat zone to the far burnt tail.

Training has two stages. `solve` leaves the burnt tail unbounded (q(1) = 0 as above). The
finite domain's condition T'(L) = 0 only bends the last few percent of the tail (it moves s by
~1e-10 at the defaults, ~1.5 K of T near x = L); `domain_end` imposes it: theta stops at a
trainable theta_L where q = 0, closed by the length condition L int_0^theta_L dtheta / q = L (see
`phase_plane` and `start_stage`). T(x) follows from x(theta) = L int_0^theta dtheta' / q by
quadrature.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch
from scipy.interpolate import CubicHermiteSpline
from torch import nn

from pinn.constants import GAS_CONSTANT_J_PER_MOL_K_FLAMEPINN
from pinn.errors import ConfigError
from pinn.numerics.jets import Jet
from pinn.numerics.nets import MLP
from pinn.numerics.quadrature import composite_gauss, gauss_legendre, gauss_legendre_like, graded
from pinn.problems.base import Pointwise, Problem, check_number
from pinn.problems.inverse import attach_unknowns, unknown_value
from pinn.problems.registry import register

STRETCH = 4  # K in theta = 1 - (1 - eta)^K

# name: (lowest, highest, what); the bounds are physical (a laboratory flame is far inside them) and
# keep every derived scale (density, adiabatic rise, Peclet and Damkohler numbers) finite in float64
PARAMETERS = {
    "phi": (1e-3, 100.0, "equivalence ratio"),
    "T_in": (1.0, 1e4, "inlet temperature in K"),
    "pressure": (1.0, 1e9, "pressure in Pa"),
    "L": (1e-7, 10.0, "domain length in m"),
    "inlet_gradient": (1e-3, 1e12, "temperature gradient at the inlet in K/m"),
    "conductivity": (1e-6, 1e4, "thermal conductivity in W/m/K"),
    "cp": (1.0, 1e6, "heat capacity in J/kg/K"),
    "heat_release": (1.0, 1e10, "heat of reaction in J/kg of fuel"),
    "molar_mass": (1e-4, 10.0, "molar mass in kg/mol"),
    "pre_exponential": (1e-30, 1e30, "pre-exponential factor A"),
    "activation_energy": (0.0, 1e7, "activation energy in J/mol"),
    "reaction_order": (1e-2, 10.0, "overall reaction order nu"),
}


class FlameModel(nn.Module):
    """N(eta), the flame speed s = s_0 exp(log_speed), and any other unknown physical parameter
    p = p_0 exp(log_p) (the inverse problem's conductivity and activation energy)."""

    def __init__(self, net: MLP, s0: float, unknowns: Mapping[str, float] | None = None):
        super().__init__()
        self.net = net
        self.register_buffer("s0", torch.tensor(float(s0), dtype=torch.float64))
        self.log_speed = nn.Parameter(torch.zeros((), dtype=torch.float64))
        # the domain end (stage domain_end): theta_L = 1 - gap, turning-point width exp(log_bend),
        # and a correction network of the collocation coordinate t, zero until that stage
        self.register_buffer("domain_end", torch.tensor(False))
        self.end_net = MLP(1, 1, 12, 2, "tanh")
        with torch.no_grad():
            self.end_net.layers[-1].weight.zero_()
        self.log_gap = nn.Parameter(torch.tensor(-5.0, dtype=torch.float64))
        self.log_bend = nn.Parameter(torch.tensor(-9.0, dtype=torch.float64))
        self.unknown_names = tuple(unknowns or {})
        attach_unknowns(self, unknowns or {})

    @property
    def speed(self) -> torch.Tensor:
        return self.s0 * torch.exp(self.log_speed)

    @property
    def gap(self) -> torch.Tensor:
        """1 - theta_L, theta_L = theta(x = L)."""
        return torch.exp(self.log_gap)

    def unknown(self, name: str) -> torch.Tensor:
        return unknown_value(self, name)

    def value(self, name: str, known: float):
        """The trained value of a physical parameter if it is unknown, else the known one."""
        return self.unknown(name) if name in self.unknown_names else known


@dataclass(frozen=True)
class PhasePlane:
    theta: torch.Tensor    # (T - T_in) / (T_max - T_in)
    dtheta: torch.Tensor   # dtheta / deta
    unburnt: torch.Tensor  # 1 - theta = Y_F / Y_in
    q: torch.Tensor        # dtheta / dxi
    dq: torch.Tensor       # dq / dtheta


class FlameEquations:
    """The physics of docs/problems.md for torch tensors: velocity, density, fuel, reaction rate."""

    def __init__(self, **values: float):
        for name in PARAMETERS:
            setattr(self, name, values[name])

    @property
    def R_g(self) -> float:
        return GAS_CONSTANT_J_PER_MOL_K_FLAMEPINN / self.molar_mass

    @property
    def rho_in(self) -> float:
        return self.pressure / (self.R_g * self.T_in)

    @property
    def Y_in(self) -> float:
        return self.phi / (self.phi + 4.0)

    @property
    def rise(self) -> float:
        """T_max - T_in: the temperature rise when all fuel burns."""
        return self.heat_release * self.Y_in / self.cp

    @property
    def T_max(self) -> float:
        return self.T_in + self.rise

    def velocity(self, T, s):
        """Subsonic root of u^2 - c u + R_g T = 0, c = s + R_g T_in / s, written without cancellation."""
        c = s + self.R_g * self.T_in / s
        disc = c * c - 4.0 * self.R_g * T
        disc = disc.clamp_min(0.0) if isinstance(disc, torch.Tensor) else np.maximum(disc, 0.0)
        return 2.0 * self.R_g * T / (c + disc**0.5)

    def density(self, T, s):
        return self.rho_in * s / self.velocity(T, s)

    def rate(self, T, burnt_fraction_left, s, activation_energy=None):
        """omega = A exp(-E_a / (R T)) (rho Y_F)^nu with Y_F = Y_in (1 - theta) given as its factor."""
        xp = torch if isinstance(T, torch.Tensor) else np
        rho = self.density(T, s)
        E_a = self.activation_energy if activation_energy is None else activation_energy
        return (self.pre_exponential * xp.exp(-E_a / (GAS_CONSTANT_J_PER_MOL_K_FLAMEPINN * T))
                * (rho * self.Y_in * burnt_fraction_left) ** self.reaction_order)

    def speed_estimate(self) -> float:
        """Zel'dovich-Frank-Kamenetskii: s^2 = 2 lambda q_F int omega dT / (rho_in cp (T_max - T_in))^2,
        with the low-Mach density rho = rho_in T_in / T. Only a starting point (it is ~35% low here)."""
        T = np.linspace(self.T_in, self.T_max, 4001)
        left = (self.T_max - T) / self.rise
        omega = (self.pre_exponential * np.exp(-self.activation_energy / (GAS_CONSTANT_J_PER_MOL_K_FLAMEPINN * T))
                 * (self.rho_in * self.T_in / T * self.Y_in * left) ** self.reaction_order)
        integral = float(np.sum(0.5 * (omega[1:] + omega[:-1]) * np.diff(T)))
        return math.sqrt(2.0 * self.conductivity * self.heat_release * integral) / (self.rho_in * self.cp * self.rise)


@register("flame_fpp")
class FreelyPropagatingFlame(Problem):
    stages = ("solve", "domain_end")
    default_tolerance = 1e-4
    report = "flame_fpp"

    def __init__(self, phi: float = 0.42, T_in: float = 298.0, pressure: float = 101325.0, L: float = 1.5e-3,
                 inlet_gradient: float = 1.0e5, conductivity: float = 0.026, cp: float = 1000.0,
                 heat_release: float = 5.0e7, molar_mass: float = 28.97e-3, pre_exponential: float = 1.4e8,
                 activation_energy: float = 1.214172e5, reaction_order: float = 1.6):
        given = locals()
        values = {name: check_number(name, given[name], low=low, high=high, low_inclusive=True, what=what)
                  for name, (low, high, what) in PARAMETERS.items()}
        self.parameters = values
        self.physics = FlameEquations(**values)
        p = self.physics
        if not math.isfinite(p.T_max) or not math.isfinite(p.rho_in):
            raise ConfigError(f"problem parameters give a non-finite adiabatic temperature ({p.T_max:g} K) "
                              f"or inlet density ({p.rho_in:g} kg/m^3); check heat_release, cp, pressure")
        with np.errstate(all="ignore"):
            try:
                s0 = p.speed_estimate()
            except (ArithmeticError, ValueError):  # an integral that overflows or vanishes: no flame
                s0 = math.nan
        if not (math.isfinite(s0) and s0 > 0):
            raise ConfigError(f"{self.name}: the reaction rate is zero or not finite over [T_in, T_max] = "
                              f"[{p.T_in:g}, {p.T_max:g}] K, so no flame exists; check pre_exponential, "
                              f"activation_energy and reaction_order")
        self.s0 = s0
        self.exponent = p.reaction_order if p.reaction_order >= 1.0 else 0.5 * (1.0 + p.reaction_order)

    def solve_reference(self):
        """The converged finite-difference flame (Richardson); a flame that does not fit its domain
        is a ConfigError here, before training."""
        from pinn.problems.flame_fpp.evaluate import flame_reference

        return flame_reference(self)

    def evaluate(self, model, reference, criteria):
        from pinn.problems.flame_fpp.evaluate import evaluate_flame

        return evaluate_flame(self, model, criteria, reference)

    # ----- scales --------------------------------------------------------------------------------
    @property
    def gradient(self) -> float:
        """g = theta'(0)."""
        return self.physics.inlet_gradient * self.physics.L / self.physics.rise

    def peclet(self, s, conductivity=None):
        p = self.physics
        return p.rho_in * s * p.cp * p.L / (p.conductivity if conductivity is None else conductivity)

    def damkohler(self, conductivity=None):
        p = self.physics
        return p.heat_release * p.L**2 / ((p.conductivity if conductivity is None else conductivity) * p.rise)

    # ----- trial function ------------------------------------------------------------------------
    def network(self, width: int, depth: int, activation: str) -> MLP:
        """N(eta), starting as a small correction to the trial function's preheat and tail shape."""
        return MLP(1, 1, width, depth, activation, output_scale=0.1)

    def starting_speed(self) -> float:
        return self.s0

    def starts(self) -> dict[str, float]:
        """Unknown physical parameters besides s_L and their starting values (none when forward)."""
        return {}

    def build_model(self, width: int, depth: int, activation: str) -> FlameModel:
        return FlameModel(self.network(width, depth, activation), self.starting_speed(), self.starts())

    def phase_plane(self, model: FlameModel, t: torch.Tensor) -> PhasePlane:
        """theta, dtheta/dt, 1 - theta, q = dtheta/dxi and dq/dtheta at the collocation coordinate t.

        Unbounded tail (stage `solve`): eta = t. With the domain end imposed (stage `domain_end`)
        theta stops at theta_L = 1 - gap, where q = 0 (T'(L) = 0): eta = eta_L (1 - (1 - t)^2)
        with theta(eta_L) = theta_L, and q carries the factor
        sqrt(Y_L / (Y_L + delta)) / sqrt(theta_L / (theta_L + delta)), Y_L = theta_L - theta: the
        square-root approach to a turning point (diffusion against reaction) within a trainable
        width delta of it, times exp(M(t) - M(0)) with a second network M that starts at zero (the
        turning point lies within a few percent of t = 1, too close to eta_L for N(eta))."""
        g, a, K = self.gradient, self.exponent, STRETCH
        x = Jet.variable(t)
        end = bool(model.domain_end)
        if end:
            root = model.gap ** (1.0 / K)  # 1 - eta_L
            u = 1.0 - x
            eta = (1.0 - u * u) * (1.0 - root)
        else:
            eta = x
        N = model.net.jet((eta * 2.0 - 1.0).unsqueeze(-1)).squeeze(-1)
        N0 = model.net(t.new_tensor([[-1.0]]))[0, 0]
        pe = self.peclet(model.speed, model.value("conductivity", self.physics.conductivity))
        left = 1.0 - eta.value
        unburnt = left**K
        theta = 1.0 - unburnt
        dtheta = K * left ** (K - 1) * eta.d1
        tail, dtail = a * K * torch.log(left), -a * K * eta.d1 / left
        log_q = math.log(g) + tail + torch.log1p(pe * theta / g) + N.value - N0
        dlog_q = dtail + pe * dtheta / (g + pe * theta) + N.d1
        if end:
            delta = torch.exp(model.log_bend)
            top = 1.0 - model.gap
            to_end = model.gap * torch.expm1(K * torch.log1p((1.0 - root) * (1.0 - t) ** 2 / root))  # theta_L - theta
            log_q = log_q + 0.5 * (torch.log(to_end) - torch.log(to_end + delta) - torch.log(top) + torch.log(top + delta))
            dlog_q = dlog_q + 0.5 * (dtheta / (to_end + delta) - dtheta / to_end)
            M = model.end_net.jet((x * 2.0 - 1.0).unsqueeze(-1)).squeeze(-1)
            log_q = log_q + M.value - model.end_net(t.new_tensor([[-1.0]]))[0, 0]
            dlog_q = dlog_q + M.d1
        q = torch.exp(log_q)
        return PhasePlane(theta, dtheta, unburnt, q, q * dlog_q / dtheta)

    def residual(self, model: FlameModel, t: torch.Tensor) -> torch.Tensor:
        """(q q' - Pe q + D omega) / (Pe q + D omega)."""
        p = self.physics
        pp = self.phase_plane(model, t)
        s = model.speed
        conductivity = model.value("conductivity", p.conductivity)
        T = p.T_in + p.rise * pp.theta
        rate = p.rate(T, pp.unburnt, s, model.value("activation_energy", p.activation_energy))
        source = self.damkohler(conductivity) * rate
        convection = self.peclet(s, conductivity) * pp.q
        return (pp.q * pp.dq - convection + source) / (convection + source)

    def _residual_rows(self, model: FlameModel, t: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.residual(model, t) * w.sqrt()

    def length(self, model: FlameModel, cells: int = 128) -> torch.Tensor:
        """int_0^1 (dtheta/dt) / q dt = x(theta_L) / L (4-point Gauss on a grid graded towards both ends)."""
        param = model.s0
        edges = graded(cells + 1, param)
        h = edges[1:] - edges[:-1]
        nodes, weights = gauss_legendre_like(4, param)
        pp = self.phase_plane(model, (edges[:-1, None] + 0.5 * h[:, None] * (nodes + 1.0)).reshape(-1))
        return ((pp.dtheta / pp.q).reshape(cells, 4) @ weights * 0.5 * h).sum()

    def start_stage(self, model: FlameModel, stage: str) -> None:
        """Entering `domain_end`: theta_L = theta(L) of the unbounded solution, delta from the
        turning-point balance q^2 = 2 D omega (theta_L - theta) matched to the unbounded q(theta_L).
        A flame that burns out inside the domain (nu < 1) keeps the unbounded form."""
        if stage != "domain_end" or bool(model.domain_end):
            return
        p = self.physics
        with torch.no_grad():
            T_end = float(self.temperature(model, np.array([p.L]))[0])
            theta_L = (T_end - p.T_in) / p.rise
            if not 0.0 < 1.0 - theta_L:
                return
            pp = self.phase_plane(model, model.s0.new_tensor([1.0 - (1.0 - theta_L) ** (1.0 / STRETCH)]))
            s = model.speed
            rate = p.rate(model.s0.new_tensor([T_end]), pp.unburnt, s,
                          model.value("activation_energy", p.activation_energy))
            source = self.damkohler(model.value("conductivity", p.conductivity)) * rate
            delta = float(pp.q[0] ** 2 / (2.0 * source[0]))
            model.log_gap.fill_(math.log(1.0 - theta_L))
            model.log_bend.fill_(math.log(min(max(delta, 1e-12), 0.5 * theta_L)))
            model.domain_end.fill_(True)

    # ----- training interface --------------------------------------------------------------------
    def collocation(self, n_points: int, device, dtype, generator: torch.Generator | None = None) -> dict[str, Any]:
        """Composite Gauss-Legendre in the collocation coordinate t: 16 equal pieces, each cut at a
        random point when a generator is given (fresh nodes every step)."""
        t, w = composite_gauss(n_points, generator)
        return {"t": torch.as_tensor(t, device=device, dtype=dtype), "w": torch.as_tensor(w, device=device, dtype=dtype)}

    def loss_terms(self, model: FlameModel, batch: Mapping[str, Any], stage: str) -> dict[str, torch.Tensor]:
        terms = {"residual": Pointwise(functools.partial(self._residual_rows, model), batch["t"], batch["w"])}
        if stage == "domain_end" and bool(model.domain_end):
            terms["length"] = (self.length(model) - 1.0).reshape(1)
        return terms

    def eigenvalue(self, model: FlameModel) -> torch.Tensor:
        """s_L in m/s (differentiable in the model's parameters)."""
        return model.speed

    def observables(self, model: FlameModel) -> dict[str, torch.Tensor]:
        return {"s_L": self.eigenvalue(model).detach()}

    # ----- fields in x -----------------------------------------------------------------------------
    def temperature(self, model: FlameModel, x: np.ndarray, cells: int = 4000) -> np.ndarray:
        """T(x) from x(t) = L int_0^t (dtheta/dt) / q dt: composite 8-point Gauss per cell, then
        cubic Hermite interpolation of t(x) with the exact slope q / (L dtheta/dt)."""
        p = self.physics
        param = model.s0
        edges = np.linspace(0.0, 1.0, cells + 1)[:-1]  # q vanishes at t = 1
        nodes, weights = gauss_legendre(8)
        h = edges[1] - edges[0]
        gauss = (edges[:, None] + 0.5 * h * (nodes + 1.0)).ravel()
        with torch.no_grad():
            pp = self.phase_plane(model, torch.as_tensor(np.concatenate([edges, gauss]), device=param.device,
                                                         dtype=param.dtype))
        q, dtheta = (v.double().cpu().numpy() for v in (pp.q, pp.dtheta))
        n = edges.size
        x_edges = p.L * np.concatenate([[0.0], np.cumsum(0.5 * h * (dtheta[n:] / q[n:]).reshape(n, 8) @ weights)])[:-1]
        keep = np.isfinite(x_edges) & (np.concatenate([[True], np.diff(x_edges) > 0]))
        if keep.sum() < 2 or not np.all(np.isfinite(q[:n][keep])):
            return np.full(np.shape(x), np.nan)  # a broken model: reported as non-finite fields
        t_of_x = CubicHermiteSpline(x_edges[keep], edges[keep], (q[:n] / (p.L * dtheta[:n]))[keep], extrapolate=False)
        xs = np.asarray(x, dtype=float)
        t = np.where(xs > x_edges[keep][-1], 1.0, t_of_x(np.clip(xs, 0.0, None)))
        return p.T_in + p.rise * self._theta_at(model, t)

    def _theta_at(self, model: FlameModel, t: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            inside = np.minimum(t, 1.0 - 1e-15)
            theta = self.phase_plane(model, torch.as_tensor(inside, device=model.s0.device, dtype=model.s0.dtype)).theta
        top = float(1.0 - model.gap.detach()) if bool(model.domain_end) else 1.0
        return np.where(t >= 1.0, top, theta.double().cpu().numpy())

    def temperature_at(self, model: FlameModel, x: torch.Tensor, cells: int = 128) -> torch.Tensor:
        """T at the points x as a differentiable function of the model (for data misfits): the
        cumulative 4-point Gauss quadrature of x(t) on a grid graded towards both ends, and cubic
        Hermite interpolation of t(x) in the cell that holds each point."""
        p = self.physics
        edges = graded(cells, x, stop=1.0 - 1.0 / cells)
        h = edges[1:] - edges[:-1]
        nodes, weights = gauss_legendre_like(4, x)
        gauss = (edges[:-1, None] + 0.5 * h[:, None] * (nodes + 1.0)).reshape(-1)
        pp = self.phase_plane(model, torch.cat([edges, gauss]))
        slope = (pp.dtheta[cells:] / pp.q[cells:]).reshape(cells - 1, 4)
        X = p.L * torch.cat([x.new_zeros(1), torch.cumsum(0.5 * h * (slope @ weights), 0)])
        dt_dx = pp.q[:cells] / (p.L * pp.dtheta[:cells])
        k = (torch.searchsorted(X.detach(), x.detach()) - 1).clamp(0, cells - 2)
        width = X[k + 1] - X[k]
        tau = ((x - X[k]) / width).clamp(0.0, 1.0)
        t = ((2 * tau**3 - 3 * tau**2 + 1) * edges[k] + (tau**3 - 2 * tau**2 + tau) * width * dt_dx[k]
             + (-2 * tau**3 + 3 * tau**2) * edges[k + 1] + (tau**3 - tau**2) * width * dt_dx[k + 1])
        theta = self.phase_plane(model, t).theta
        top = (1.0 - model.gap) if bool(model.domain_end) else theta.new_ones(())
        theta = torch.where(x > X[-1], top * torch.ones_like(theta), theta)
        return p.T_in + p.rise * theta

    def fields(self, model: FlameModel, x: np.ndarray) -> dict[str, np.ndarray]:
        """T, u, Y_F and omega at x (numpy)."""
        p = self.physics
        s = float(model.speed.detach())
        T = self.temperature(model, x)
        left = np.clip((p.T_max - T) / p.rise, 0.0, 1.0)
        E_a = float(torch.as_tensor(model.value("activation_energy", p.activation_energy)).detach())
        return {"T": T, "u": p.velocity(T, s), "Y_F": p.Y_in * left, "omega": p.rate(T, left, s, E_a)}

