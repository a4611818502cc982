"""The a-posteriori estimates, checked against exact answers computed here independently."""

import math

import numpy as np
import pytest

from pinn.numerics.aposteriori import Estimate, MAX_REFINEMENT, RESOLVED_CHANGE, quotient_error, resolved
from pinn.problems import build_problem
from pinn.problems.plane.estimate import box_sine_galerkin
from pinn.problems.wells.estimate import sine_galerkin
from pinn.reference.plane import box_levels
from pinn.status import level_check, on_own_levels


def perturbed_state(levels: np.ndarray, state: int, amplitudes: np.ndarray):
    """In the eigenbasis of H = diag(levels): psi = e_state + amplitudes (off the state), normalized.
    Returns the coefficient vectors of psi and r = (H - R) psi, R and |r|, and the exact R - E."""
    psi = amplitudes.copy()
    psi[state] = 1.0
    psi /= np.linalg.norm(psi)
    R = float(psi @ (levels * psi))
    r = (levels - R) * psi
    return psi[None, :], r[None, :], np.array([R]), np.array([np.linalg.norm(r)]), R - levels[state]


@pytest.mark.parametrize("state", [0, 3])
@pytest.mark.parametrize("decay", [0.5, 2.0])
def test_quotient_error_matches_the_exact_distance(state, decay):
    """A full basis: for the ground state the estimate is the exact R - E to the size of the
    perturbation; for an excited state the sum of the absolute contributions (smooth and rough
    errors)."""
    rng = np.random.default_rng(state)
    levels = (np.arange(1, 201) * math.pi) ** 2
    amplitudes = 1e-4 * rng.standard_normal(200) / np.arange(1, 201) ** decay
    amplitudes[state] = 0.0
    psi, r, R, radius, exact = perturbed_state(levels, state, amplitudes)
    estimate = quotient_error(r, psi, levels, R, radius)[0]
    if state == 0:
        assert exact > 0 and estimate == pytest.approx(exact, rel=1e-6)
    else:  # levels on both sides: the sum of the absolute contributions, an upper bound
        assert estimate >= abs(exact)
        assert estimate == pytest.approx(np.sum(np.abs(levels - levels[state]) * psi[0] ** 2), rel=1e-6)


def test_quotient_error_counts_a_truncated_basis_as_its_top_level():
    """The residual beyond the basis is divided by the distance to the top level kept: an
    upper bound of what those (higher) levels contribute."""
    levels = (np.arange(1, 401) * math.pi) ** 2
    amplitudes = np.zeros(400)
    amplitudes[300] = 1e-5
    psi, r, R, radius, exact = perturbed_state(levels, 0, amplitudes)
    kept = 100
    estimate = quotient_error(r[:, :kept], psi[:, :kept], levels[:kept], R, radius)[0]
    assert estimate >= exact
    assert estimate <= exact * (levels[300] - R[0]) / (levels[kept - 1] - R[0]) * 1.01


def test_a_rotation_within_a_degenerate_level_costs_nothing():
    levels = np.array([1.0, 2.0, 2.0, 3.0, 5.0])
    amplitudes = np.array([0.0, 0.0, 0.3, 0.0, 0.0])  # state 1 turned towards its degenerate partner
    psi, r, R, radius, exact = perturbed_state(levels, 1, amplitudes)
    assert abs(exact) < 1e-15
    assert quotient_error(r, psi, levels, R, radius)[0] < 1e-14


def test_sine_galerkin_of_a_flat_well_gives_the_box_levels():
    x, w = np.polynomial.legendre.leggauss(200)
    levels, vectors, basis = sine_galerkin(lambda x: 0.0 * x, -1.0, 1.0, x, w, 20)
    assert np.allclose(levels, (np.arange(1, 21) * math.pi / 2) ** 2, rtol=1e-12)
    assert np.allclose((basis * w) @ basis.T, np.eye(20), atol=1e-12)


def test_box_sine_galerkin_gives_the_box_levels_of_a_long_box():
    levels, _, _ = box_sine_galerkin(lambda x, y: 0.0 * x + 0.0 * y, ((0.0, 1.0), (0.0, 3.0)), 6, 12, 48, 48)
    assert np.allclose(levels[:8], box_levels(1.0, 3.0, 8), rtol=1e-12)


def test_galerkin_levels_lie_above_the_exact_levels_of_a_step_well():
    """Ritz values bound the levels from above: the basis of level_check."""
    problem = build_problem({"name": "finite_well", "n_states": 3})
    exact = problem.reference().eigenvalues[:4]
    upper = problem.estimator.galerkin[0][:4]
    assert np.all(upper >= exact) and np.all(upper <= exact * (1 + 1e-3))


def test_level_check_flags_a_skipped_level_only():
    upper = np.array([1.0, 4.0, 9.0, 16.0])
    assert level_check([1.0, 4.0, 9.0], upper).passed
    assert level_check([0.999, 3.99, 8.9], upper).passed
    skipped = level_check([1.0, 9.0, 16.0], upper)
    assert not skipped.passed and skipped.kind == "state" and "state 1" in skipped.detail
    degenerate = np.array([2.0, 4.0, 4.0, 6.0])
    assert level_check([2.0, 4.0, 4.0], degenerate).passed
    assert not level_check([2.0, 4.0, 6.0], degenerate).passed


def test_states_are_placed_only_near_their_own_levels():
    """Nearer its own level than the nearest level it could mix with: with the parity built in
    (stride 2) a tunnel doublet's partner is no competitor; a skipped level never counts."""
    upper = np.array([1.0, 4.0, 9.0, 16.0, 25.0])
    assert on_own_levels([1.2, 4.3, 11.4], upper)
    assert not on_own_levels([1.2, 4.3, 11.6], upper)      # 2.6 from 9, half the gap below is 2.5
    assert not on_own_levels([1.0, 9.0, 16.0], upper)      # state 1 on level 2
    doublet = np.array([13.85, 13.92, 54.3, 55.0, 120.0])
    near = [13.85 * 1.004, 13.92 * 0.996, 54.3 * 1.01]
    assert not on_own_levels(near, doublet)
    assert on_own_levels(near, doublet, stride=2)
    assert not on_own_levels([13.85, 13.92, 120.0], doublet, stride=2)  # state 2 on the next even level
    assert on_own_levels([2.0, 4.0, 4.0], np.array([2.0, 4.0, 4.0, 6.0]))


def estimate_with(radius):
    """An estimate of Rayleigh quotients 1 whose radii and estimated errors are `radius`."""
    value = np.asarray(radius, dtype=float)
    return Estimate(np.ones_like(value), value, value, value, value)


def test_the_reported_estimate_is_taken_where_doubling_the_rule_no_longer_moves_it():
    """A feature narrower than the rule's nodes shows up as a radius that still moves with the rule."""
    radius = {1: [1.0, 3.0], 2: [1.0, 5.0], 4: [1.0, 5.2], 8: [1.0, 5.21]}
    asked = []

    def on(refinement):
        asked.append(refinement)
        return estimate_with(radius[refinement])

    found = resolved(on)
    assert found.agreed and found.refinement == 4 and asked == [1, 2, 4]
    assert found.estimate.radius[1] == 5.2
    rounding = resolved(lambda refinement: estimate_with([1.0, 1e-14 * refinement]))
    assert rounding.agreed and rounding.refinement == 2  # changes at the rounding level are none
    moving = resolved(lambda refinement: estimate_with([1.0, float(refinement)]))
    assert not moving.agreed and moving.refinement == MAX_REFINEMENT
    assert moving.changes[0] == 0 and moving.changes[1] == pytest.approx(0.5)


def test_a_short_schedule_is_refined_and_its_estimate_is_honest(tmp_path):
    """Ten LM steps of a 16-wide network (the 32-wide default gets there in ten) leave the
    estimate above the tolerance: a refinement round follows, with twice
    the nodes; the estimate then stands within a factor 10 of the true error, and the status agrees
    with it."""
    from pinn.config import compose_config
    from pinn.run import run

    metrics = run(compose_config(["problem=harmonic", "model.width=16", "tolerance=1e-7", "trainer.progress=none",
                                  "trainer.phases.solve.steps=10", "trainer.refine.rounds=1"]), out_dir=tmp_path)
    log = metrics["refinement"]
    assert log[0]["action"] == "refine" and log[0]["estimate"] > 1e-7
    assert log[0]["collocation_points"] == 256 and "solve_refine1" in metrics["phase_steps"]
    assert log[-1]["action"] in ("met", "rounds_spent")
    true, estimated = metrics["relative_errors"][0], metrics["estimated_relative_errors"][0]
    assert estimated == pytest.approx(log[-1]["estimate"], rel=RESOLVED_CHANGE)  # reported on a finer rule
    assert true / 10 <= estimated <= 10 * true
    if metrics["status"] == "ok":
        assert estimated <= 1e-7 and true <= 1e-7
    if estimated > 1e-7:
        assert metrics["status"] == "unconverged" and "estimated relative error" in metrics["status_detail"]


def test_kato_temple_bounds_the_states_of_an_unresolved_doublet():
    """finite_barrier V0=408.4 half_width=1.209 L=2.116: two wells behind a wide barrier, their
    levels split by less than a rounding unit. A Rayleigh quotient of state 0 a little above the
    level of state 1 used to get no bound (R not between its index neighbours); the doublet is one
    point of the spectrum, and each state's interval must contain it."""
    from pinn.problems.wells.evaluate import kato_temple
    from pinn.reference import symmetric_step_well

    levels = symmetric_step_well(408.4, 0.0, 1.209, 2.116, 4).eigenvalues
    rayleigh = np.array([levels[0] * (1 + 1e-11), levels[1] * (1 + 4.5e-9)])
    radius = np.array([1e-4, 2e-3])  # |R - E| <= radius^2 / gap needs at least 6e-5 and 1.3e-3
    bounds = kato_temple(rayleigh, radius, levels)
    for j in range(2):
        assert bounds[j] is not None
        assert bounds[j][0] <= levels[j] <= bounds[j][1]
        assert bounds[j][1] - bounds[j][0] < 2e-8 * levels[j]
