"""An independent check of the flame_ch4 reference: our own x-space equations (pinn.chemistry)
solved by scipy's solve_bvp (4th-order collocation) must give Cantera's refined flame speed.

The free flame as a first-order system in y = (T, Q, Y_1..4, j_1..4), Q = -lambda T' the heat
flux, j the diffusive fluxes of all species but N2 (whose mass fraction closes the sum):

    T' = -Q / lambda,   Y' = -A^-1 j   (j = -A Y', A the mixture-averaged flux matrix),
    Q' = -(m cp T' + T' sum_k j_k cp_k + sum_k h_k omega_k),   j' = W omega - m Y'

on two subdomains joined where T is halfway up (T = T_fix there pins the flame, and m is the
unknown parameter), with Cantera's inlet (T = T_in, m Y + j = m Y_in) and outlet (zero
gradients) conditions. Cantera's coarse solution is only the starting guess.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cantera")
torch = pytest.importorskip("torch")
from scipy.integrate import solve_bvp  # noqa: E402

from pinn.chemistry import flame_equations as F  # noqa: E402
from pinn.chemistry.mechanism import load_mechanism
from pinn.constants import GAS_CONSTANT_J_PER_KMOL_K  # noqa: E402
from pinn.chemistry.properties import GasProperties  # noqa: E402
from pinn.reference import flame_ch4 as reference  # noqa: E402

PRESSURE = 101325.0
SPECIES = 5  # CH4, O2, CO2, H2O, N2 (last: closes the sum)
UNKNOWN = SPECIES - 1


def _t(a):
    return torch.as_tensor(a, dtype=torch.float64)


def _flux_matrix(props, T, Y):
    """A (n, 4, 4) with j = -A dY/dx over the first four species."""
    columns = []
    for k in range(UNKNOWN):
        gradient = torch.zeros(T.shape[0], SPECIES, dtype=torch.float64)
        gradient[:, k], gradient[:, -1] = 1.0, -1.0
        columns.append(F.diffusive_fluxes(props, T, PRESSURE, Y, gradient)[:, :UNKNOWN])
    return -torch.stack(columns, -1)


def _rhs(props, y, m):
    y = _t(y).T
    T, Q, Yi, ji = y[:, 0], y[:, 1], y[:, 2:6], y[:, 6:10]
    Y = torch.cat([Yi, 1.0 - Yi.sum(-1, keepdim=True)], -1)
    dT = -Q / props.conductivity(T, props.mole_fractions(Y))
    dYi = -torch.linalg.solve(_flux_matrix(props, T, Y), ji.unsqueeze(-1)).squeeze(-1)
    j = torch.cat([ji, -ji.sum(-1, keepdim=True)], -1)
    omega = props.net_production_rates(T, PRESSURE, Y)
    cp_k = GAS_CONSTANT_J_PER_KMOL_K * props.cp_species_R(T) / props.W
    h_k = GAS_CONSTANT_J_PER_KMOL_K * T.unsqueeze(-1) * props.enthalpy_species_RT(T)
    dQ = -(m * props.cp_mass(T, Y) * dT + dT * (j * cp_k).sum(-1) + (h_k * omega).sum(-1))
    dj = props.W[:UNKNOWN] * omega[:, :UNKNOWN] - m * dYi
    return torch.cat([dT[:, None], dQ[:, None], dYi, dj], -1).T.numpy()


def _state(props, ref, x):
    """y from Cantera's (coarse) solution at x: the starting guess."""
    T = np.interp(x, ref.x, ref.T)
    Y = np.array([np.interp(x, ref.x, ref.Y[k]) for k in range(SPECIES)]).T
    dT = np.interp(x, ref.x, np.gradient(ref.T, ref.x))
    dY = np.array([np.interp(x, ref.x, np.gradient(ref.Y[k], ref.x)) for k in range(SPECIES)]).T
    conductivity = props.conductivity(_t(T), props.mole_fractions(_t(Y))).numpy()
    j = F.diffusive_fluxes(props, _t(T), PRESSURE, _t(Y), _t(dY)).numpy()
    return np.vstack([T, -conductivity * dT, Y[:, :UNKNOWN].T, j[:, :UNKNOWN].T])


def collocation_flame_speed(phi: float, nodes: int = 400) -> float:
    props = GasProperties(load_mechanism())
    coarse = reference.free_flame(phi, levels=reference.REFINEMENT[:6])
    T_fix = 0.5 * (coarse.T[0] + coarse.T[-1])         # joins the subdomains inside the flame
    x_fix = float(np.interp(T_fix, coarse.T, coarse.x))
    Y_in, T_in = coarse.Y[:, 0], coarse.T[0]
    x0, x1 = coarse.x[0], coarse.x[-1]
    left, right = x_fix - x0, x1 - x_fix

    def fun(s, y, params):
        return np.vstack([left * _rhs(props, y[:10], params[0]), right * _rhs(props, y[10:], params[0])])

    def bc(ya, yb, params):
        m = params[0]
        inlet = [ya[0] - T_in, *(m * (ya[2:6] - Y_in[:UNKNOWN]) + ya[6:10])]
        outlet = [yb[11], *yb[16:20]]
        return np.array(inlet + outlet + list(yb[:10] - ya[10:]) + [yb[0] - T_fix])

    s = np.linspace(0.0, 1.0, nodes)
    guess = np.vstack([_state(props, coarse, x0 + left * s), _state(props, coarse, x_fix + right * s)])
    solution = solve_bvp(fun, bc, s, guess, p=[coarse.inlet_density * coarse.s_L], tol=1e-4, max_nodes=20000)
    assert solution.status == 0, solution.message
    return float(solution.p[0]) / coarse.inlet_density


def test_collocation_solver_gives_the_reference_flame_speed():
    """phi = 0.8: both converged solutions of the same equations agree far inside the 1e-3 the
    PINN is held to (Cantera's default tolerances were 1.8e-3 off). About 20 s."""
    s_collocation = collocation_flame_speed(0.8)
    s_reference = reference.free_flame(0.8).s_L_extrapolated
    assert abs(s_collocation / s_reference - 1.0) < 2e-4, (s_collocation, s_reference)
