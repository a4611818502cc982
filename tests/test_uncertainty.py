"""The profiled covariance (pinn.numerics.uncertainty) on linear problems where it is known in
closed form, through the same Jacobian code path the inverse runs use, and its intervals cover the
truth at the nominal rate over many noise draws."""

import numpy as np
import pytest
import torch
from torch import nn

from pinn.numerics.uncertainty import (at_parameters, columns_of, interval_ends, noise_scale, parameter_jacobian,
                                      profile, profile_shape, restore_constraint)
from pinn.status import decide, interval_checks

rng = np.random.default_rng(7)
N_W, N_P, N_DATA = 6, 2, 15
B = rng.normal(size=(N_W, N_P))          # the "equations": w = B p
C = rng.normal(size=(N_DATA, N_W))       # the data see the "network" w ...
D = rng.normal(size=(N_DATA, N_P))       # ... and the unknowns p directly
P_TRUE = np.array([0.3, -1.2])
SIGMA = 0.05


class Linear(nn.Module):
    """w (the network, fixed by the equations w - B p = 0), p (the unknowns, named log_* as the
    inverse layer names them), and an eigenvalue-like derived quantity q = a . w."""

    def __init__(self, w, p):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))
        self.log_a = nn.Parameter(torch.tensor(p[0]))
        self.log_b = nn.Parameter(torch.tensor(p[1]))

    def p(self):
        return torch.stack([self.log_a, self.log_b])


def closed_form_fit(y):
    """Least squares of y = (C B + D) p + noise: the estimate and its covariance sigma^2 (G^T G)^-1."""
    G = C @ B + D
    p_hat = np.linalg.lstsq(G, y, rcond=None)[0]
    return p_hat, SIGMA**2 * np.linalg.inv(G.T @ G), G


def profiled(model, y, a, sigma=SIGMA, response=lambda p: p):
    """The profile of the linear problem, or with the unknowns seen through `response`."""
    t = lambda v: torch.tensor(v)  # noqa: E731
    equations = lambda: model.w - t(B) @ model.p()  # noqa: E731
    data = lambda: (t(C) @ model.w + t(D) @ response(model.p()) - t(y)) / sigma  # noqa: E731
    J_e, columns = parameter_jacobian(model, equations)
    J_d, _ = parameter_jacobian(model, data)
    J_q, _ = parameter_jacobian(model, lambda: (t(a) @ model.w).reshape(1))
    return profile(J_e, J_d, J_q, columns_of(columns, ["log_a", "log_b"])), data


def test_profiled_covariance_is_the_closed_form_one():
    y = (C @ B + D) @ P_TRUE + SIGMA * rng.normal(size=N_DATA)
    p_hat, covariance, _ = closed_form_fit(y)
    a = rng.normal(size=N_W)
    model = Linear(B @ p_hat, p_hat)
    result, data = profiled(model, y, a)
    # data rows in units of the noise: F = G^T G / sigma^2, so cov = sigma^2 (G^T G)^-1
    np.testing.assert_allclose(result.covariance.numpy(), covariance, rtol=1e-9)
    np.testing.assert_allclose(result.sensitivity.numpy(), B, rtol=1e-12)
    gradient = a @ B  # q = a . w = a . B p
    np.testing.assert_allclose(result.derived_variances().numpy(), [gradient @ covariance @ gradient], rtol=1e-9)
    with torch.no_grad():
        ratio = noise_scale(data(), N_P)  # the misfit says sigma_hat / sigma, about 1
    assert 0.4 < ratio < 1.8


def test_intervals_cover_the_truth_at_the_nominal_rate():
    """1000 noise draws of the linear problem: the 95% intervals from the profiled covariance
    contain the true p (each component) and the true derived quantity 95% +- 2% of the time."""
    a = rng.normal(size=N_W)
    q_true = a @ B @ P_TRUE
    hits, z = np.zeros(3), []
    draws = 1000
    G = C @ B + D
    model = Linear(B @ P_TRUE, P_TRUE)
    result, _ = profiled(model, G @ P_TRUE, a)  # linear: the covariance does not depend on the draw
    std = np.sqrt(np.append(np.diag(result.covariance.numpy()), result.derived_variances().numpy()))
    for _ in range(draws):
        y = G @ P_TRUE + SIGMA * rng.normal(size=N_DATA)
        p_hat = np.linalg.lstsq(G, y, rcond=None)[0]
        estimate = np.append(p_hat, a @ B @ p_hat)
        truth = np.append(P_TRUE, q_true)
        hits += np.abs(estimate - truth) <= 1.959963984540054 * std
        z.append((estimate - truth) / std)
    coverage = hits / draws
    assert np.all(np.abs(coverage - 0.95) < 0.025), coverage
    assert np.all(np.abs(np.std(z, axis=0) - 1.0) < 0.08)


def test_directions_the_equations_do_not_fix_stay_put():
    """A network column no equation row sees (a zero column of J_e,w) gets no sensitivity, and the
    covariance is still the closed form one."""
    y = (C @ B + D) @ P_TRUE
    _, covariance, _ = closed_form_fit(y)
    J_e = torch.tensor(np.hstack([np.eye(N_W), np.zeros((N_W, 1)), -B]))
    J_d = torch.tensor(np.hstack([C, np.zeros((N_DATA, 1)), D])) / SIGMA
    J_q = torch.zeros(1, N_W + 1 + N_P, dtype=torch.float64)
    unknown = torch.tensor([False] * (N_W + 1) + [True] * N_P)
    result = profile(J_e, J_d, J_q, unknown)
    assert torch.all(result.sensitivity[N_W] == 0)
    np.testing.assert_allclose(result.covariance.numpy(), covariance, rtol=1e-9)


@pytest.mark.parametrize("n_unknowns", [1, 3])
def test_noise_scale_reads_the_misfit(n_unknowns):
    rows = torch.tensor(np.random.default_rng(3).normal(scale=2.0, size=4000))
    assert noise_scale(rows, n_unknowns) == pytest.approx(2.0, rel=0.05)


def misfit_rises(model, data, result, k):
    """How |data|^2 rises from the model's parameters to the ends of unknown k's interval, the
    "network" w re-solved there from the equations w = B p."""
    equations = lambda: model.w - torch.tensor(B) @ model.p()  # noqa: E731
    at, theta, columns = at_parameters(model, data)
    equations_at, _, _ = at_parameters(model, equations)
    unknown = columns_of(columns, ["log_a", "log_b"])
    rises = []
    for step in interval_ends(result.covariance, unknown, k, Z95):
        end, left = restore_constraint(equations_at, theta + step, unknown, 1e-12)
        assert left <= 1e-12
        with torch.no_grad():
            rises.append(float((at(end) ** 2).sum()) - float((at(theta) ** 2).sum()))
    return rises


Z95 = 1.959963984540054


@pytest.mark.parametrize("k", [0, 1])
def test_the_misfit_rises_by_z_squared_at_a_linear_models_interval_ends(k):
    y = (C @ B + D) @ P_TRUE + SIGMA * rng.normal(size=N_DATA)
    p_hat, _, _ = closed_form_fit(y)
    model = Linear(B @ p_hat, p_hat)
    result, data = profiled(model, y, rng.normal(size=N_W))
    rises = misfit_rises(model, data, result, k)
    np.testing.assert_allclose(rises, [Z95 ** 2] * 2, rtol=1e-8)
    assert profile_shape(*rises, Z95) == pytest.approx((1.0, 0.0), abs=1e-8)


@pytest.mark.parametrize("shift", [-0.8, 1.5])
def test_an_estimate_off_the_datas_optimum_is_found_where_it_is(shift):
    """Placed `shift` standard errors along unknown 0's profile from the exact fit, the estimate's
    rises say the data's optimum lies -shift standard errors away, at the curvature of a linear model."""
    y = (C @ B + D) @ P_TRUE + SIGMA * rng.normal(size=N_DATA)
    p_hat, covariance, _ = closed_form_fit(y)
    p = p_hat + shift * covariance[:, 0] / np.sqrt(covariance[0, 0])
    model = Linear(B @ p, p)
    result, data = profiled(model, y, rng.normal(size=N_W))
    curvature, offset = profile_shape(*misfit_rises(model, data, result, 0), Z95)
    assert curvature == pytest.approx(1.0, rel=1e-8) and offset == pytest.approx(-shift, rel=1e-8)


def test_a_model_curved_across_its_interval_shows_in_the_rises():
    """Data that see exp(3 p) with a noise as large as the signal: the Gauss-Newton interval is
    wide enough for the curvature to show, the misfit rising unevenly at its two ends."""
    response = lambda p: torch.exp(3.0 * p)  # noqa: E731
    y = C @ B @ P_TRUE + D @ np.exp(3.0 * P_TRUE)  # noise-free: the truth is the optimum
    model = Linear(B @ P_TRUE, P_TRUE)
    result, data = profiled(model, y, rng.normal(size=N_W), sigma=2.0, response=response)
    low, high = misfit_rises(model, data, result, 0)
    assert min(low, high) < 0.8 * Z95 ** 2 or max(low, high) > 1.25 * Z95 ** 2, (low, high)


def test_the_constraint_is_restored_with_more_equations_than_network_parameters():
    """The re-solve takes the primal form when J_e,w is tall: w = B p again after p moved."""
    extra = rng.normal(size=(4, N_W))
    model = Linear(B @ P_TRUE, P_TRUE)
    t = lambda v: torch.tensor(v)  # noqa: E731
    equations = lambda: torch.cat([model.w - t(B) @ model.p(), t(extra) @ (model.w - t(B) @ model.p())])  # noqa: E731
    equations_at, theta, columns = at_parameters(model, equations)
    unknown = columns_of(columns, ["log_a", "log_b"])
    step = torch.zeros_like(theta)
    step[unknown] = torch.tensor([0.1, -0.2], dtype=theta.dtype)
    end, left = restore_constraint(equations_at, theta + step, unknown, 1e-10)
    assert left <= 1e-10
    np.testing.assert_allclose(end[~unknown].numpy(), B @ (P_TRUE + np.array([0.1, -0.2])), atol=1e-9)


UNVERIFIED = {"unknown": "activation_energy", "rise": [0.0, 0.0], "expected": 3.84, "restored": [1.0, 1.0],
              "curvature": 0.0, "offset": None, "linear": False, "centred": False}
VERIFIED = {**UNVERIFIED, "rise": [3.9, 3.8], "curvature": 1.0, "offset": 0.01, "linear": True, "centred": True}
INFERRED = {"Lambda": {"value": -9031.8, "std": 0.35, "unit": "Pa/m^2"},
            "activation_energy": {"value": 83510.0, "std": 1.9, "unit": "J/mol"}}


def test_an_unsettled_estimate_and_an_unverified_interval_are_not_ok():
    """The counterflow inverse run of 2026-12-07: E_a still moving by 4.4 of its std, and its
    interval's ends not seen by the data misfit at all."""
    final = {"moves": {"Lambda": 0.1, "E_a": 8.4}, "window": 10}
    checks = interval_checks(INFERRED, {"activation_energy": "E_a"}, UNVERIFIED, final)
    assert [c.passed for c in checks] == [False, False]
    assert "E_a moved 8.4 J/mol" in checks[0].detail and "Lambda" not in checks[0].detail
    assert "more finely than the equations are solved" in checks[1].detail
    assert decide(checks)[0] == "unconverged"


def test_a_settled_estimate_with_a_verified_interval_is_ok():
    final = {"moves": {"Lambda": 0.1, "E_a": 0.9}, "window": 10}
    checks = interval_checks(INFERRED, {"activation_energy": "E_a"}, VERIFIED, final)
    assert [c.passed for c in checks] == [True, True] and decide(checks) == ("ok", "")
    curved = {**VERIFIED, "rise": [1.0, 12.0], "curvature": 1.7, "offset": -0.8, "centred": False}
    assert not interval_checks(INFERRED, {}, curved, final)[-1].passed
