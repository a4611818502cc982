"""The references: exact roots of the matching conditions and the FD solver's convergence to them."""

import numpy as np
import pytest

from pinn.reference import infinite_well, solve, solve_richardson, symmetric_step_well

STEP_CASES = [  # (V_in, V_out, a, L): finite wells and barriers, defaults and others
    (0.0, 20.0, 1.0, 4.0),
    (50.0, 0.0, 0.1, 1.0),
    (0.0, 37.0, 0.7, 2.5),
    (120.0, 0.0, 0.25, 1.0),
    (-30.0, 0.0, 0.4, 2.0),
]


def step_potential(V_in, V_out, a):
    return lambda x: np.where(np.abs(x) < a, V_in, V_out + 0.0 * x)


def second_derivative(f, x, h=1e-4):
    return (f(x + h) - 2 * f(x) + f(x - h)) / h**2


@pytest.mark.parametrize("case", STEP_CASES)
def test_exact_eigenfunctions_solve_the_equation(case):
    V_in, V_out, a, L = case
    pairs = symmetric_step_well(V_in, V_out, a, L, 3)
    V = step_potential(V_in, V_out, a)
    x = np.linspace(-L + 1e-3, L - 1e-3, 3001)
    x = x[np.abs(np.abs(x) - a) > 1e-3]  # the equation holds on each side of a jump
    nodes, weights = np.polynomial.legendre.leggauss(200)
    for E, psi in zip(pairs.eigenvalues, pairs.eigenfunctions):
        residual = -second_derivative(psi, x) + (V(x) - E) * psi(x)
        assert np.max(np.abs(residual)) < 1e-4 * max(1.0, abs(E))
        assert abs(psi(-L)) < 1e-12 and abs(psi(L)) < 1e-12
        # psi and psi' are continuous at the jumps
        for xj in (-a, a):
            assert abs(psi(xj - 1e-9) - psi(xj + 1e-9)) < 1e-7
            left = (psi(xj) - psi(xj - 1e-6)) / 1e-6
            right = (psi(xj + 1e-6) - psi(xj)) / 1e-6
            assert abs(left - right) < 1e-3 * (1 + abs(left))
        norm = sum(0.5 * (hi - lo) * np.sum(weights * psi(0.5 * (hi - lo) * nodes + 0.5 * (hi + lo)) ** 2)
                   for lo, hi in [(-L, -a), (-a, a), (a, L)])
        assert norm == pytest.approx(1.0, abs=1e-10)


def test_published_values_of_the_default_problems():
    """docs/problems.md lists these to 10-11 digits; our roots must agree."""
    assert symmetric_step_well(0.0, 20.0, 1.0, 4.0, 3).eigenvalues == pytest.approx(
        [1.6394801475, 6.4418799581, 13.891534756], rel=1e-9)
    assert symmetric_step_well(50.0, 0.0, 0.1, 1.0, 3).eigenvalues == pytest.approx(
        [7.7160641433, 10.145740125, 31.121769209], rel=1e-9)
    assert infinite_well(1.0, 3).eigenvalues == pytest.approx([9.869604401, 39.47841760, 88.82643961], rel=1e-9)


@pytest.mark.parametrize("case", STEP_CASES)
def test_fd_converges_at_second_order_to_exact_roots(case):
    V_in, V_out, a, L = case
    exact = symmetric_step_well(V_in, V_out, a, L, 3).eigenvalues
    V = step_potential(V_in, V_out, a)
    errors = [np.abs(solve(V, -L, L, n, 3, (-a, a)).eigenvalues - exact) for n in (400, 800, 1600, 3200)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders[-1] > 1.85) and np.all(orders[-1] < 2.15), orders


def test_naive_grid_without_breakpoints_loses_order():
    """The reason for breakpoint-aligned meshes: an unaligned jump degrades the convergence."""
    V = step_potential(0.0, 20.0, 1.0 / 3.0)
    exact = symmetric_step_well(0.0, 20.0, 1.0 / 3.0, 4.0, 1).eigenvalues
    aligned = [abs(solve(V, -4, 4, n, 1, (-1 / 3, 1 / 3)).eigenvalues[0] - exact[0]) for n in (1000, 2000)]
    unaligned = [abs(solve(V, -4, 4, n, 1).eigenvalues[0] - exact[0]) for n in (1000, 2000)]
    assert unaligned[1] > 10 * aligned[1]


@pytest.mark.parametrize("case", STEP_CASES)
def test_richardson_estimate_bounds_the_true_error(case):
    V_in, V_out, a, L = case
    exact = symmetric_step_well(V_in, V_out, a, L, 3).eigenvalues
    result = solve_richardson(step_potential(V_in, V_out, a), -L, L, 3, (-a, a))
    error = np.abs(result.eigenvalues - exact)
    assert np.all(error <= result.error_estimate)
    assert np.all(error / np.abs(exact) < 1e-8)


def test_fd_eigenvectors_match_exact_eigenfunctions():
    pairs = symmetric_step_well(0.0, 20.0, 1.0, 4.0, 3)
    sol = solve(step_potential(0.0, 20.0, 1.0), -4, 4, 8000, 3, (-1, 1))
    for k in range(3):
        assert np.max(np.abs(sol.eigenvectors[:, k] - pairs.eigenfunctions[k](sol.x))) < 1e-5


def test_infinite_well_fd_matches_closed_form():
    exact = infinite_well(2.0, 3).eigenvalues
    result = solve_richardson(lambda x: 0.0 * x, 0.0, 2.0, 3)
    assert np.all(np.abs(result.eigenvalues - exact) <= result.error_estimate)
    assert result.eigenvalues == pytest.approx(exact, rel=1e-8)


def test_exact_roots_over_extreme_geometries():
    """Cases the property test once broke (a scan too fine to allocate, a node lost in a barrier):
    each level comes out in order and near its physical limit."""
    wide = symmetric_step_well(0.0, 2330.0, 2330.0, 9894.7, 4).eigenvalues  # deep wide well ~ box of width 2a
    box = (np.arange(1, 5) * np.pi / (2 * 2330.0)) ** 2
    assert np.all(np.abs(wide / box - 1) < 1e-2)
    twin = symmetric_step_well(0.0, -1.0, 1000.0, 45104.2, 4).eigenvalues  # two far-apart outer wells
    assert np.all(np.diff(twin) >= 0) and np.all(twin > -1.0)
    assert abs(twin[1] - twin[0]) < 1e-12 and twin[2] - twin[1] > 1e-9  # tunnelling splitting below round-off
    tall = symmetric_step_well(100.0, 0.0, 1e4, 1.01e6, 4).eigenvalues  # two wide boxes behind a barrier
    side = (np.array([1, 1, 2, 2]) * np.pi / (1.01e6 - 1e4)) ** 2
    assert np.all(np.abs(tall / side - 1) < 1e-3)


@pytest.mark.parametrize("potential, a, b, exact", [
    (lambda x: 0.0 * x, -1.0, 1.0, [(np.pi / 2) ** 2 * n * n for n in (1, 2, 3)]),
    # the walls at +-4.607 move these by ~exp(-223): the whole-line levels omega (2n + 1)
    (lambda x: 10.52**2 * x * x, -4.607, 4.607, [10.52, 31.56, 52.6]),
    (lambda x: 400.0 * x * x, -8.0, 8.0, [20.0, 60.0, 100.0]),
    # Poschl-Teller lam = 2 on [-12, 12]: the ground state -4 to ~1e-19
    (lambda x: -6.0 / np.cosh(x) ** 2, -12.0, 12.0, [-4.0]),
])
def test_spectral_solver_reaches_exact_levels_to_rounding(potential, a, b, exact):
    from pinn.reference.spectral import solve_converged

    galerkin = solve_converged(potential, a, b, len(exact))
    assert np.allclose(galerkin.eigenvalues, exact, rtol=2e-13, atol=0)
    assert np.all(galerkin.error_estimate < 1e-12 * np.abs(exact))


def test_spectral_and_fd_agree_on_an_asymmetric_potential():
    """Two independent discretizations of x^4 - 3 x^2 + 0.7 x on [-3, 3]: the levels within the
    FD's own error estimate, the eigenfunctions (normalized, same sign) pointwise."""
    from pinn.reference.spectral import solve_converged

    V = lambda x: x**4 - 3 * x**2 + 0.7 * x  # noqa: E731
    galerkin = solve_converged(V, -3.0, 3.0, 3)
    fd = solve_richardson(V, -3.0, 3.0, 3, n_cells=2000)
    assert np.all(np.abs(galerkin.eigenvalues - fd.eigenvalues) <= fd.error_estimate + 1e-9 * np.abs(fd.eigenvalues))
    x = fd.finest.x
    for k in range(3):
        assert np.max(np.abs(galerkin.eigenfunction(k, x) - fd.finest.eigenvectors[:, k])) < 1e-5


def test_spectral_solver_moves_a_wall_where_the_states_have_vanished():
    """A Morse well V = a (1 - exp(1 - x))^2 - a on [-5.915, 14]: V reaches 6e6 at the left wall,
    hundreds of e-folds beyond where its states are negligible. The wall moves in, and the ground
    state meets the whole-line level -(sqrt(a) - 1/2)^2 (the right wall moves it by ~1e-19)."""
    from pinn.reference.spectral import solve_converged

    a = 6.141
    galerkin = solve_converged(lambda x: a * (1 - np.exp(-(x - 1))) ** 2 - a, -5.915, 14.0, 1)
    exact = -((np.sqrt(a) - 0.5) ** 2)
    assert -5.915 < galerkin.a < -1.0 and galerkin.b == 14.0
    assert abs(galerkin.eigenvalues[0] - exact) < 1e-12 * abs(exact)
    assert galerkin.eigenfunction(0, np.array([-5.0]))[0] == 0.0
