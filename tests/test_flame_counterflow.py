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
