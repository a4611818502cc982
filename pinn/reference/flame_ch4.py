"""Reference for the CH4/air flames: Cantera's own solvers, refined until their eigenvalue stops
moving. Only this module (and the tests) runs Cantera's flame solvers; the PINN side uses the
same mechanism through pinn.chemistry.

Both eigenvalues (the flame speed s_L of `ct.FreeFlame`, the pressure-curvature eigenvalue
Lambda of `ct.CounterflowPremixedFlame`) converge at first order in the number of points n
(Cantera's convection is upwind): value(n) = value + C / n + ..., so the reference is the
Richardson extrapolation of the two finest levels, and its error estimate the change from the
extrapolation one level coarser.

Cantera's default Newton tolerances (relative 1e-4) are far too loose for a reference: at
phi = 0.8 they leave s_L 1.8e-3 low on every grid, a bias no refinement removes (the energy
equation is then violated by ~1e-3 of its terms in the reaction zone). With the tolerances below
the extrapolated s_L moves by 5e-6 from relative 1e-8 to 1e-10.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from pinn.chemistry.mechanism import load_mechanism, require_cantera
from pinn.errors import ConfigError
from pinn.reference.cache import solved_once

log = logging.getLogger("pinn")

# (ratio, slope, curve) of Cantera's grid refinement, coarse to fine; each level starts from the
# last and has about twice its points (about 3300 at the end for a free flame: 20 s to 3 min with
# the tight tolerances; one level more moves the extrapolated s_L by 3e-5 or less, phi 0.6-1.4)
REFINEMENT = ((3.0, 0.1, 0.2), (3.0, 0.05, 0.1), (2.0, 0.02, 0.04), (2.0, 0.01, 0.02), (2.0, 0.005, 0.01),
              (2.0, 0.0025, 0.005), (2.0, 0.00125, 0.0025), (2.0, 0.000625, 0.00125))
# the counterflow grid has about twice the points at each level: one level fewer (about 4000)
COUNTERFLOW_REFINEMENT = REFINEMENT[:-1]
AIR = "O2:1.0, N2:3.76"
MAX_POINTS = 20000
MAX_TIME_STEPS = 5000  # Cantera's default 500 is too few for the tight counterflow solves at phi = 1
STEADY_TOLERANCES = (1e-8, 1e-13)      # (relative, absolute) of Cantera's steady Newton solves
TRANSIENT_TOLERANCES = (1e-7, 1e-12)   # and of its time steps
# from the loose solution to the tight one in two solves
TIGHTENING = (((1e-6, 1e-11), (1e-5, 1e-10)), (STEADY_TOLERANCES, TRANSIENT_TOLERANCES))
RESOLVED_THETA = (1e-5, 0.05)  # where `_resolved` adds evenly spaced points: the preheat zone


@dataclass
class Refinement:
    """One eigenvalue on successively refined grids."""

    rows: list[dict] = field(default_factory=list)   # ratio, slope, curve, points, value, seconds

    def extrapolated_at(self, last: int) -> float:
        (n1, v1), (n2, v2) = [(row["points"], row["value"]) for row in self.rows[last - 1 : last + 1]]
        return (n2 * v2 - n1 * v1) / (n2 - n1)

    @property
    def finest(self) -> float:
        return self.rows[-1]["value"]

    @property
    def extrapolated(self) -> float:
        return self.extrapolated_at(len(self.rows) - 1) if len(self.rows) >= 2 else float("nan")

    @property
    def error_estimate(self) -> float:
        if len(self.rows) < 3:
            return float("nan")
        return abs(self.extrapolated - self.extrapolated_at(len(self.rows) - 2))


@dataclass
class FlameReference:
    """ct.FreeFlame: s_L and the fields on the finest grid."""

    x: np.ndarray
    T: np.ndarray
    Y: np.ndarray                 # (K, n)
    u: np.ndarray
    species: tuple[str, ...]
    inlet_density: float
    refinement: Refinement
    fixed_temperature: float      # Cantera's anchor: T = fixed_temperature at x = fixed_location
    fixed_location: float

    @property
    def s_L(self) -> float:
        """On the finest grid."""
        return self.refinement.finest

    @property
    def s_L_extrapolated(self) -> float:
        """The reference flame speed."""
        return self.refinement.extrapolated

    @property
    def error_estimate(self) -> float:
        return self.refinement.error_estimate


@dataclass
class CounterflowReference:
    """ct.CounterflowPremixedFlame: Lambda = (1/r) dp/dr (Pa / m^2) and the fields."""

    x: np.ndarray
    T: np.ndarray
    Y: np.ndarray                 # (K, n)
    u: np.ndarray                 # axial velocity
    V: np.ndarray                 # spread rate v / r
    species: tuple[str, ...]
    refinement: Refinement

    @property
    def Lambda(self) -> float:
        return self.refinement.finest

    @property
    def Lambda_extrapolated(self) -> float:
        return self.refinement.extrapolated

    @property
    def error_estimate(self) -> float:
        return self.refinement.error_estimate


def inlet_gas(phi: float, T_in: float, pressure: float, mechanism: str | None = None):
    """A Cantera Solution at the unburnt state: CH4 with air (O2 + 3.76 N2) at equivalence ratio phi."""
    gas = load_mechanism(mechanism).solution()
    gas.set_equivalence_ratio(phi, "CH4", AIR)
    gas.TP = T_in, pressure
    return gas


def _refine(sim, levels, value, what: str) -> Refinement:
    """Solve `sim` at each refinement level in turn, recording value(sim). Each level is solved
    with Cantera's default tolerances (robust), and the last three, whose values enter the
    extrapolation and its error estimate, again from there with tolerances tightened in steps
    (TIGHTENING)."""
    ct = require_cantera()
    sim.max_grid_points = MAX_POINTS
    sim.max_time_step_count = MAX_TIME_STEPS
    flow = sim.flame
    loose = (float(flow.steady_reltol().max()), float(flow.steady_abstol().max()))
    loose_transient = (float(flow.transient_reltol().max()), float(flow.transient_abstol().max()))
    refinement = Refinement()
    for level, (ratio, slope, curve) in enumerate(levels):
        sim.set_refine_criteria(ratio=ratio, slope=slope, curve=curve, prune=0.0)
        start = time.perf_counter()
        try:
            _tolerances(sim, loose, loose_transient)
            sim.solve(loglevel=0, auto=not refinement.rows, refine_grid=True)
            if level >= len(levels) - 3:
                _tightened(sim)
        except ct.CanteraError as exc:
            raise ConfigError(f"Cantera's {what} did not converge ({_message(exc)}); "
                              "is this mixture flammable?") from None
        refinement.rows.append({"ratio": ratio, "slope": slope, "curve": curve, "points": int(sim.grid.size),
                                "value": float(value(sim)), "seconds": time.perf_counter() - start})
        log.debug("%s level %s: %d points, %.10g", what, (ratio, slope, curve), sim.grid.size, value(sim))
    return refinement


def _tightened(sim) -> None:
    """`sim` solved again on its grid with the tolerances tightened in steps (TIGHTENING)."""
    for steady, transient in TIGHTENING:
        _tolerances(sim, steady, transient)
        sim.solve(loglevel=0, refine_grid=False)


def _message(exc: Exception) -> str:
    """The last line of a Cantera error that says something."""
    last = [line for line in str(exc).splitlines() if line.strip() and not line.startswith("*")]
    return last[-1] if last else str(exc)


def _tolerances(sim, steady, transient) -> None:
    """Relative and absolute tolerances of every component's Newton (steady) and time-step solves."""
    sim.flame.set_steady_tolerances(default=steady)
    sim.flame.set_transient_tolerances(default=transient)


@solved_once
def free_flame(phi: float, T_in: float = 300.0, pressure: float = 101325.0, width: float = 0.03,
               mechanism: str | None = None, levels=REFINEMENT, resolved_spacing: float | None = None) \
        -> FlameReference:
    """ct.FreeFlame with mixture-averaged transport, solved at each refinement level in turn; with
    `resolved_spacing` (m) its fields are those of one more solve (`_resolved`), s_L still the
    extrapolation of the levels."""
    gas = inlet_gas(phi, T_in, pressure, mechanism)
    flame = _mixture_averaged(gas, width=width)
    where = f"FreeFlame at phi={phi}, T_in={T_in}, p={pressure}"
    refinement = _refine(flame, levels, lambda f: f.velocity[0], where)
    if flame.T[-1] < T_in + 200.0:
        raise ConfigError(f"no flame at phi={phi}, T_in={T_in}, p={pressure}: Cantera's solution did not ignite "
                          f"(T rises only to {flame.T[-1]:.0f} K); choose phi nearer 1")
    if resolved_spacing is not None:
        flame = _resolved(flame, inlet_gas(phi, T_in, pressure, mechanism), resolved_spacing, where)
    return FlameReference(x=flame.grid.copy(), T=flame.T.copy(), Y=flame.Y.copy(), u=flame.velocity.copy(),
                          species=tuple(gas.species_names), inlet_density=float(flame.density[0]),
                          refinement=refinement, fixed_temperature=float(flame.fixed_temperature),
                          fixed_location=float(flame.fixed_temperature_location))


def _mixture_averaged(gas, **where):
    """A ct.FreeFlame of `gas` (width= or grid=) with mixture-averaged transport, no Soret effect."""
    flame = require_cantera().FreeFlame(gas, **where)
    flame.transport_model = "mixture-averaged"
    flame.soret_enabled = False
    return flame


def _resolved(flame, gas, spacing: float, where: str):
    """The flame (of inlet `gas`) solved again, with the tight tolerances, on its grid plus points
    `spacing` apart wherever theta = (T - T_in) / (T_b - T_in) lies in RESOLVED_THETA: Cantera refines where a
    field changes by a fraction of its whole range, so the preheat zone, where the fields are
    small, keeps a coarse grid, and its first-order convection puts that zone too far upstream
    (phi = 0.8: theta = 3.7e-4 lies 758, 754 and 749 um upstream of theta = 1/2 on 3323, 6400
    and 12550 points, 746 and 745 um with points 2 and 1 um apart there), a position error that
    1% noise on the small mass fractions resolves."""
    ct = require_cantera()
    theta = (flame.T - flame.T[0]) / (flame.T[-1] - flame.T[0])
    low, high = np.interp(RESOLVED_THETA, theta, flame.grid)
    grid = np.unique(np.concatenate([flame.grid, np.arange(low, high, spacing)]))
    resolved = _mixture_averaged(gas, grid=grid)
    resolved.max_grid_points = MAX_POINTS
    resolved.max_time_step_count = MAX_TIME_STEPS
    resolved.set_initial_guess()
    where_on = (flame.grid - flame.grid[0]) / (flame.grid[-1] - flame.grid[0])
    for name, values in (("velocity", flame.velocity), ("T", flame.T), *zip(gas.species_names, flame.Y)):
        resolved.flame.set_profile(name, where_on, values)
    resolved.fixed_temperature = flame.fixed_temperature
    try:
        _tightened(resolved)
    except ct.CanteraError as exc:
        raise ConfigError(f"Cantera's {where} did not converge on its resolved grid ({_message(exc)})") from None
    log.debug("%s resolved: %d points, s_L %.10g", where, resolved.grid.size, resolved.velocity[0])
    return resolved


@solved_once
def counterflow(phi: float, T_in: float = 300.0, pressure: float = 101325.0, width: float = 0.02,
                u_reactants: float = 1.0, u_products: float = 1.0, mechanism: str | None = None,
                levels=COUNTERFLOW_REFINEMENT) -> CounterflowReference:
    """Premixed reactants (x = 0) against their own adiabatic equilibrium products (x = width),
    each nozzle's mass flux its density times its velocity."""
    ct = require_cantera()
    gas = inlet_gas(phi, T_in, pressure, mechanism)
    burnt = inlet_gas(phi, T_in, pressure, mechanism)
    burnt.equilibrate("HP")
    sim = ct.CounterflowPremixedFlame(gas, width=width)
    sim.transport_model = "mixture-averaged"
    sim.soret_enabled = False
    sim.reactants.mdot = gas.density * u_reactants
    sim.products.mdot = burnt.density * u_products
    sim.products.T, sim.products.Y = burnt.T, burnt.Y
    sim.set_initial_guess(equilibrate=True)
    where = f"CounterflowPremixedFlame at phi={phi}, T_in={T_in}, p={pressure}, width={width}"
    refinement = _refine(sim, levels, lambda s: s.L[0], where)
    if sim.extinct():
        raise ConfigError(f"the counterflow flame at phi={phi} is extinct (strain too high for "
                          f"u_reactants={u_reactants}, u_products={u_products} m/s); lower the velocities")
    return CounterflowReference(x=sim.grid.copy(), T=sim.T.copy(), Y=sim.Y.copy(), u=sim.velocity.copy(),
                                V=sim.spread_rate.copy(), species=tuple(gas.species_names), refinement=refinement)
