"""The counterflow CH4/air flame PINN (problem=flame_counterflow): trial functions, the signed
rate law, a short training run against Cantera's CounterflowPremixedFlame, and bad input."""

import numpy as np
import pytest
import torch

ct = pytest.importorskip("cantera", reason="the flames extra is not installed")

from pinn.chemistry.mechanism import load_mechanism  # noqa: E402
from pinn.chemistry.properties import GasProperties  # noqa: E402
from pinn.config import compose_config  # noqa: E402
from pinn.problems import build_problem  # noqa: E402
from pinn.reference.flame_ch4 import counterflow  # noqa: E402
from pinn.run import run  # noqa: E402

from conftest import run_cli  # noqa: E402

pytestmark = pytest.mark.xdist_group("counterflow")  # one worker solves Cantera's counterflow flame once


@pytest.mark.parametrize("params", [{}, {"phi": 1.2, "u_reactants": 2.5, "u_products": 0.5, "width": 0.01}])
def test_trial_functions_hold_the_boundary_conditions(params):
    """For any network: x runs from 0 to the width; reactants (T_in, Y_in, rho_in u_r, V = 0) at
    s = 0, products (T_b, Y_b, -rho_b u_p, V = 0) at s = 1; the mass fractions sum to one."""
    problem = build_problem({"name": "flame_counterflow", **params})
    torch.manual_seed(5)
    model = problem.build_model(12, 2, "tanh").double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
        state = problem.state(model, torch.tensor([0.0, 0.4, 1.0], dtype=torch.float64))
    x, T, Y, m, V = (a.numpy() for a in problem._split(state))
    inlet = problem.inlet
    np.testing.assert_allclose(x[[0, 2]], [0.0, problem.width], atol=1e-15)
    np.testing.assert_allclose(T[[0, 2]], [inlet.T_in, inlet.T_b], rtol=1e-12)
    np.testing.assert_allclose(Y[0], inlet.Y_in, atol=1e-14)
    np.testing.assert_allclose(Y[2], inlet.Y_b, atol=1e-14)
    np.testing.assert_allclose(Y.sum(-1), 1.0, atol=1e-14)
    rho_in = inlet.density_in
    np.testing.assert_allclose(m[[0, 2]], [rho_in * problem.u_reactants, -problem.density_b * problem.u_products],
                               rtol=1e-12)
    np.testing.assert_allclose(V[[0, 2]], 0.0, atol=1e-12)


def test_signed_rate_law_is_the_rate_law_where_concentrations_are_positive():
    """signed=True changes nothing for positive concentrations; a negative fuel concentration
    (order 1) gives a rate of the opposite sign and the same size."""
    props = GasProperties(load_mechanism())
    T = torch.tensor([1200.0, 1800.0], dtype=torch.float64)
    Y = torch.tensor([[0.03, 0.2, 0.05, 0.04, 0.68], [0.01, 0.1, 0.1, 0.1, 0.69]], dtype=torch.float64)
    torch.testing.assert_close(props.rates_of_progress(T, 101325.0, Y, signed=True),
                               props.rates_of_progress(T, 101325.0, Y), rtol=1e-14, atol=0.0)
    flipped = Y.clone()
    flipped[:, 0] *= -1.0
    C = props.density(T, 101325.0, flipped).unsqueeze(-1) * flipped / props.W
    by_hand = -props.rate_constants(T)[:, 0] * C[:, 0].abs() * C[:, 1] ** 0.5
    torch.testing.assert_close(props.rates_of_progress(T, 101325.0, flipped, signed=True)[:, 0], by_hand,
                               rtol=1e-13, atol=0.0)
    assert float(props.rates_of_progress(T, 101325.0, flipped).abs().max()) == 0.0


@pytest.mark.slow
def test_short_training_approaches_cantera(tmp_path):
    """30 flow and 60 solve Levenberg-Marquardt steps on 64 nodes take Lambda from 9% off (the
    flow stage's, with the flame placed by the Zel'dovich speed) to within 3% of Cantera's
    converged value, and the fields to within 10% in L2."""
    metrics = run(compose_config(["problem=flame_counterflow", "tolerance=3e-2", "trainer.progress=none",
                                  "trainer.collocation_points=64",
                                  "trainer.phases.solve.steps=60"]), out_dir=tmp_path)
    reference = counterflow(0.8)
    assert metrics["reference_eigenvalues"][0] == reference.Lambda_extrapolated
    assert metrics["relative_errors"][0] < 3e-2, metrics["eigenvalues"]
    assert max(metrics["field_l2_errors"].values()) < 0.1, metrics["field_l2_errors"]
    assert metrics["status"] == "ok"
    assert (tmp_path / "fields.png").exists()


@pytest.mark.parametrize("override, message", [
    ("problem.u_reactants=-1", "problem.u_reactants=-1 must be >= 0.01"),
    ("problem.u_products=100", "problem.u_products=100 must be <= 50"),
    ("problem.u_reactants=0.1", "below the flame speed"),
    ("problem.width=0.0005", "problem.width=0.0005 m is too narrow"),
    ("problem.phi=nan", "problem.phi=nan must be a finite number"),
])
def test_bad_input_is_one_line(override, message, tmp_path):
    code, _, err = run_cli(["problem=flame_counterflow", override], tmp_path)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_inverse_nodes_invert_the_learnt_map_and_carry_its_gradient():
    """x(s_i) = x_i on a perturbed map, and the derivative of a field at x_i with respect to the
    flame position is the implicit-function one: f(s(x_f), x_f) differenced in x_f."""
    problem = build_problem({"name": "flame_counterflow_inverse", "n_observations": 8, "noise": 0.0})
    torch.manual_seed(2)
    model = problem.build_model(12, 2, "tanh").double()
    with torch.no_grad():
        for p in model.scalars.parameters():
            p.add_(0.2 * torch.randn_like(p))
    x = torch.as_tensor(problem.data.x)
    s = problem.nodes_at(model, x)
    np.testing.assert_allclose(problem.state(model, s)[:, 0].detach().numpy(), x.numpy(), rtol=0, atol=1e-14)
    T = problem.state(model, s)[:, 1]
    (grad,) = torch.autograd.grad(T.sum(), model.shift)
    h = 1e-6
    sums = []
    for sign in (1.0, -1.0):
        with torch.no_grad():
            model.shift.fill_(sign * h)
            sums.append(float(problem.state(model, problem.nodes_at(model, x))[:, 1].sum()))
    assert float(grad) == pytest.approx((sums[0] - sums[1]) / (2 * h), rel=1e-5)


def test_inverse_data_and_unknowns(tmp_path):
    """Synthetic observations come from Cantera's counterflow flame; the flame starts where the
    temperature data cross the middle of the rise; E_a starts at its guess; bad settings are
    one-line errors."""
    problem = build_problem({"name": "flame_counterflow_inverse", "n_observations": 15, "noise": 0.0})
    reference = counterflow(0.8)
    np.testing.assert_allclose(problem.data["u"], np.interp(problem.data.x, reference.x, reference.u))
    middle = 0.5 * (problem.T_in + problem.inlet.T_b)
    assert np.interp(problem.flame_start(), reference.x, reference.T) == pytest.approx(middle, rel=0.1)
    model = problem.build_model(8, 2, "tanh")
    assert float(model.unknown("activation_energy").detach()) == pytest.approx(7.0e7)
    assert problem.unknown_parameters()[0].true == pytest.approx(20.0 * 4184.0 * 1000.0)
    for override, message in [("problem.noise=-0.1", "problem.noise=-0.1 must be >= 0"),
                              ("problem.n_observations=2", "problem.n_observations=2 must be between 3"),
                              ("problem.initial_activation_energy=0", "must be > 0")]:
        code, _, err = run_cli(["problem=flame_counterflow_inverse", override], tmp_path)
        assert code == 2 and message in err and "Traceback" not in err, err
