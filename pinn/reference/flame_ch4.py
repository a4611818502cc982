"""Reference for the CH4/air flames: Cantera's own solvers, refined until their eigenvalue stops
moving. Only this module (and the tests) runs Cantera's flame solvers; the PINN side uses the
same mechanism through pinn.chemistry."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from pinn.chemistry.mechanism import load_mechanism, require_cantera
from pinn.errors import ConfigError

log = logging.getLogger("pinn")

# (ratio, slope, curve) of Cantera's grid refinement, coarse to fine; each level starts from the
# last and has about twice its points (about 6400 at the end, 5-10 s in all)
REFINEMENT = ((3.0, 0.1, 0.2), (3.0, 0.05, 0.1), (2.0, 0.02, 0.04), (2.0, 0.01, 0.02), (2.0, 0.005, 0.01),
              (2.0, 0.0025, 0.005), (2.0, 0.00125, 0.0025), (2.0, 0.000625, 0.00125), (2.0, 0.0003125, 0.000625))
AIR = "O2:1.0, N2:3.76"
MAX_POINTS = 20000


@dataclass
class FlameReference:
    s_L: float                    # on the finest grid; see s_L_extrapolated
    x: np.ndarray
    T: np.ndarray
    Y: np.ndarray                 # (K, n)
    u: np.ndarray
    species: tuple[str, ...]
    inlet_density: float
    refinement: list[dict] = field(default_factory=list)   # per level: tolerances, points, s_L, seconds

    def _extrapolated(self, last: int) -> float:
        """Richardson extrapolation of levels last-1 and last to infinitely many points. Cantera's
        convective terms are first-order upwind, so s_L(n) = s_L + C / n + ... with n points."""
        (n1, s1), (n2, s2) = [(row["points"], row["s_L"]) for row in self.refinement[last - 1 : last + 1]]
        return (n2 * s2 - n1 * s1) / (n2 - n1)

    @property
    def s_L_extrapolated(self) -> float:
        """The reference flame speed: the finest two levels extrapolated."""
        return self._extrapolated(len(self.refinement) - 1) if len(self.refinement) >= 2 else float("nan")

    @property
    def error_estimate(self) -> float:
        """How far s_L_extrapolated may be from the converged speed: its change from the
        extrapolation one level coarser."""
        if len(self.refinement) < 3:
            return float("nan")
        return abs(self.s_L_extrapolated - self._extrapolated(len(self.refinement) - 2))


def inlet_gas(phi: float, T_in: float, pressure: float, mechanism: str | None = None):
    """A Cantera Solution at the unburnt state: CH4 with air (O2 + 3.76 N2) at equivalence ratio phi."""
    gas = load_mechanism(mechanism).solution()
    gas.set_equivalence_ratio(phi, "CH4", AIR)
    gas.TP = T_in, pressure
    return gas


def free_flame(phi: float, T_in: float = 300.0, pressure: float = 101325.0, width: float = 0.03,
               mechanism: str | None = None, levels=REFINEMENT) -> FlameReference:
    """ct.FreeFlame with mixture-averaged transport, solved at each refinement level in turn."""
    ct = require_cantera()
    gas = inlet_gas(phi, T_in, pressure, mechanism)
    flame = ct.FreeFlame(gas, width=width)
    flame.transport_model = "mixture-averaged"
    flame.soret_enabled = False
    flame.max_grid_points = MAX_POINTS
    table = []
    for ratio, slope, curve in levels:
        flame.set_refine_criteria(ratio=ratio, slope=slope, curve=curve, prune=0.0)
        start = time.perf_counter()
        try:
            flame.solve(loglevel=0, auto=not table, refine_grid=True)
        except ct.CanteraError as exc:
            last = [line for line in str(exc).splitlines() if line.strip() and not line.startswith("*")]
            raise ConfigError(f"Cantera's FreeFlame did not converge at phi={phi}, T_in={T_in}, p={pressure} "
                              f"({last[-1] if last else exc}); is this mixture flammable?") from None
        table.append({"ratio": ratio, "slope": slope, "curve": curve, "points": int(flame.grid.size),
                      "s_L": float(flame.velocity[0]), "seconds": time.perf_counter() - start})
        log.debug("FreeFlame level %s: %d points, s_L = %.10f", (ratio, slope, curve), flame.grid.size, flame.velocity[0])
    if flame.T[-1] < T_in + 200.0:
        raise ConfigError(f"no flame at phi={phi}, T_in={T_in}, p={pressure}: Cantera's solution did not ignite "
                          f"(T rises only to {flame.T[-1]:.0f} K); choose phi nearer 1")
    return FlameReference(s_L=float(flame.velocity[0]), x=flame.grid.copy(), T=flame.T.copy(), Y=flame.Y.copy(),
                          u=flame.velocity.copy(), species=tuple(gas.species_names),
                          inlet_density=float(flame.density[0]), refinement=table)
