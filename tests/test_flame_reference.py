"""The flame-speed reference: second-order convergence, agreement of independent methods, and the
value docs/problems.md documents for the defaults (a collocation BVP solve made elsewhere)."""

import numpy as np
import pytest
from scipy.integrate import solve_bvp

from pinn.reference import flame as F


@pytest.fixture(scope="module")
def default_flame():
    return F.solve_converged(F.FlameParameters())


def test_default_speed_matches_the_documented_value(default_flame):
    assert abs(default_flame.s / 0.29278611 - 1) < 5e-8  # documented to 8 digits
    assert default_flame.error_estimate < 1e-8 * default_flame.s


def test_finite_differences_converge_at_second_order(default_flame):
    table = default_flame.table
    assert len(table) >= 3
    assert abs(table[-1]["order"] - 2.0) < 0.05
    # the raw error of the coarsest level is far above the extrapolated one: refinement matters
    assert abs(table[0]["s"] - default_flame.s) > 100 * default_flame.error_estimate


@pytest.mark.parametrize("params", [{}, {"phi": 0.5, "T_in": 400.0}, {"phi": 0.38, "pressure": 2e5}])
def test_shooting_and_finite_differences_agree(params):
    result = F.solve_converged(F.FlameParameters(**params))
    assert abs(result.shooting_s / result.s - 1) < 1e-8


def test_scipy_collocation_agrees(default_flame):
    """A third method: scipy's solve_bvp with s as an unknown parameter, in the scaled variables
    xi = x / L, theta = (T - T_in) / (T_max - T_in), started from the coarse FD profile."""
    p = F.FlameParameters()
    fd = default_flame.finest
    rise = p.T_max - p.T_in

    def rhs(xi, y, s):
        T = p.T_in + rise * y[0]
        peclet = p.rho_in * s[0] * p.cp * p.L / p.conductivity
        source = p.heat_release * p.L**2 / (p.conductivity * rise) * F.reaction_rate(p, T, s[0])
        return np.vstack([y[1], peclet * y[1] - source])

    def bc(ya, yb, s):
        return np.array([ya[0], ya[1] - p.inlet_gradient * p.L / rise, yb[1]])

    xi = fd.x[::16] / p.L
    theta = (fd.T[::16] - p.T_in) / rise
    sol = solve_bvp(rhs, bc, xi, np.vstack([theta, np.gradient(theta, xi)]), p=[0.3], tol=1e-8, max_nodes=500000)
    assert sol.success, sol.message
    assert abs(sol.p[0] / default_flame.s - 1) < 1e-7


def test_residual_of_the_converged_profile_is_small(default_flame):
    """Fourth-order differences of the finest profile: the energy equation holds to O(h^2)
    relative to the size of its terms."""
    p, fd = F.FlameParameters(), default_flame.finest
    h, T = fd.x[1] - fd.x[0], fd.T
    d1 = (-T[4:] + 8 * T[3:-1] - 8 * T[1:-3] + T[:-4]) / (12 * h)
    d2 = (-T[4:] + 16 * T[3:-1] - 30 * T[2:-2] + 16 * T[1:-3] - T[:-4]) / (12 * h * h)
    conduction = p.conductivity * d2
    convection = p.rho_in * fd.s * p.cp * d1
    reaction = p.heat_release * F.reaction_rate(p, T[2:-2], fd.s)
    size = np.max(np.abs(convection))
    assert np.max(np.abs(conduction - convection + reaction)) < 1e-4 * size


def test_a_domain_shorter_than_the_flame_is_refused():
    with pytest.raises(F.FlameDoesNotFit, match="increase L"):
        F.solve_converged(F.FlameParameters(L=5e-4))
