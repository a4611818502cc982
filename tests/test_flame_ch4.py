"""The CH4/air free-flame PINN (problem=flame_ch4): its trial functions, a short training run
against Cantera's converged FreeFlame, and bad input."""

import json

import numpy as np
import pytest
import torch

ct = pytest.importorskip("cantera", reason="the flames extra is not installed")

from pinn.config import compose_config  # noqa: E402
from pinn.problems import build_problem  # noqa: E402
from pinn.problems.flame_ch4.free_inverse import DATA_SPACING  # noqa: E402
from pinn.reference.flame_ch4 import free_flame, inlet_gas  # noqa: E402
from pinn.run import run  # noqa: E402

from conftest import run_cli  # noqa: E402

SHORT = ["problem=flame_ch4", "tolerance=3e-3", "trainer.progress=none", "trainer.collocation_points=64",
         "trainer.phases.solve.steps=25"]


@pytest.mark.parametrize("phi", [0.6, 1.3])
def test_preheat_exponents_of_absent_species_are_their_lewis_numbers(phi):
    """CO2 and H2O are absent at the inlet, so their rows of the linearized flux are diagonal:
    their modes grow as theta^Le_k, Le_k = lambda / (rho cp D_km) of Cantera's inlet gas."""
    problem = build_problem({"name": "flame_ch4", "phi": phi})
    gas = inlet_gas(phi, 300.0, 101325.0)
    gas.transport_model = "mixture-averaged"
    for name in ("CO2", "H2O"):
        lewis = gas.thermal_conductivity / (gas.density * gas.cp_mass * gas.mix_diff_coeffs[gas.species_index(name)])
        assert np.min(np.abs(problem.inlet.exponents - lewis)) < 1e-9 * lewis


def perturbed_model(problem, seed, scale):
    """A small network of the problem with its weights moved away from the initialization."""
    torch.manual_seed(seed)
    model = problem.build_model(12, 2, "tanh").double()
    with torch.no_grad():
        for p in model.net.parameters():
            p.add_(scale * torch.randn_like(p))
    return model


def test_trial_functions_hold_the_boundary_conditions():
    """For any network: Y = Y_in and q = 0 at the inlet, Y = Y_b and q = 0 at the burnt end, and
    the mass fractions sum to one."""
    problem = build_problem({"name": "flame_ch4", "phi": 1.2})
    model = perturbed_model(problem, seed=3, scale=0.5)
    with torch.no_grad():
        state = problem.state(model, torch.tensor([1e-12, 0.3, 0.7, 1.0 - 1e-9], dtype=torch.float64))
    theta, Y, q = problem._split(state)
    np.testing.assert_allclose(Y.sum(-1).numpy(), 1.0, atol=1e-14)
    inlet, burnt = problem.inlet.Y_in, problem.inlet.Y_b
    assert np.abs(Y[0].numpy() - inlet).max() < 1e-9
    assert np.abs(Y[-1].numpy() - burnt).max() < 1e-6
    assert float(q[0]) < 1e-10 and float(q[-1]) < 1e-6 and float(q[1:3].min()) > 0


def test_short_training_approaches_cantera(tmp_path):
    """25 Levenberg-Marquardt steps on 64 nodes: s_L within 3e-3 of Cantera's converged value and
    the profiles, placed at Cantera's fixed-temperature point, within 1% in L2."""
    metrics = run(compose_config(SHORT), out_dir=tmp_path)
    reference = free_flame(0.8)
    assert metrics["reference_eigenvalues"][0] == reference.s_L_extrapolated
    assert metrics["relative_errors"][0] < 3e-3, metrics["eigenvalues"]
    assert max(metrics["field_l2_errors"].values()) < 1e-2, metrics["field_l2_errors"]
    assert metrics["status"] == "ok"
    assert (tmp_path / "fields.png").exists()
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["reference_convergence_table"][-1]["points"] > 3000


def test_one_step_is_reported_unconverged(tmp_path):
    code, out, _ = run_cli(["problem=flame_ch4", "trainer.progress=none", "trainer.collocation_points=32",
                            "trainer.phases.solve.steps=1"], tmp_path)
    assert code == 3
    assert "unconverged" in out


@pytest.mark.parametrize("override, message", [
    ("problem.phi=-0.5", "problem.phi=-0.5 must be > 0"),
    ("problem.phi=30", "outside 0.45..2"),
    ("problem.width=1e-5", "problem.width=1e-05 m must be between"),
    ("problem.T_in=nan", "problem.T_in=nan must be a finite number"),
    ("problem.pressure=0", "problem.pressure=0 must be > 0"),
    ("problem.fuel=H2", "problem.fuel is not a setting of problem=flame_ch4"),
])
def test_bad_input_is_one_line(override, message, tmp_path):
    code, _, err = run_cli(["problem=flame_ch4", override], tmp_path)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_inverse_positions_agree_with_the_trajectory():
    """x(theta) of the inverse problem's data misfit (Gauss-Legendre per observation) against the
    profile the evaluation places in x (composite quadrature over the whole flame)."""
    problem = build_problem({"name": "flame_ch4_inverse", "n_observations": 12})
    model = perturbed_model(problem, seed=1, scale=0.3)
    with torch.no_grad():
        theta = torch.tensor([0.05, 0.3, 0.5, 0.8, 0.97], dtype=torch.float64)
        x = problem.positions(model, theta).numpy()
    path = problem.trajectory(model, T_fix=problem.T_in + 0.5 * (problem.inlet.T_b - problem.T_in))
    theta_path = (path["T"] - problem.T_in) / (problem.inlet.T_b - problem.T_in)
    np.testing.assert_allclose(x, np.interp(theta.numpy(), theta_path, path["x"]), rtol=1e-6, atol=1e-8)  # linear interpolation of the path
    assert x[2] == 0.0


def test_inverse_positions_hold_far_into_the_preheat_zone():
    """The observations farthest upstream lie at theta ~ 1e-4, where q vanishes like theta: x(theta)
    = delta int_{1/2}^{theta} dtheta' / q there against scipy's adaptive quadrature of the same
    integrand, and on the burnt side as well."""
    from scipy.integrate import quad

    from pinn.problems.flame_ch4.free import STRETCH

    problem = build_problem({"name": "flame_ch4_inverse", "n_observations": 12})
    model = perturbed_model(problem, seed=3, scale=0.3)

    def inverse_q(theta):
        t = torch.tensor([1.0 - (1.0 - theta) ** (1.0 / STRETCH)], dtype=torch.float64)
        with torch.no_grad():
            return 1.0 / float(problem.state(model, t)[0, -1])

    theta = [1e-5, 1e-4, 1e-3, 0.02, 0.9, 0.999]
    with torch.no_grad():
        x = problem.positions(model, torch.tensor(theta, dtype=torch.float64)).numpy()
    expected = [problem.delta * quad(inverse_q, 0.5, th, epsabs=0.0, epsrel=1e-12, limit=400,
                                     points=[th * 10.0 ** -k for k in range(1, 4)] if th < 0.5 else None)[0]
                for th in theta]
    np.testing.assert_allclose(x, expected, rtol=1e-9)


def test_inverse_compares_the_model_where_each_observation_was_made():
    """T and Y at the observed positions: against the profile the evaluation places in x (its own
    quadrature and interpolation), and the implicit derivative of the located theta against a
    central difference."""
    problem = build_problem({"name": "flame_ch4_inverse", "n_observations": 40})
    model = perturbed_model(problem, seed=2, scale=0.3)
    x = torch.as_tensor(problem.data.x)
    with torch.no_grad():
        predicted = problem.predict(model, x)
    rise = problem.inlet.T_b - problem.T_in
    placed = problem.fields(model, problem.data.x, problem.T_in + 0.5 * rise, float(model.unknown("offset").detach()))
    inside = (predicted["T"].numpy() > problem.T_in + 1e-3 * rise) & (predicted["T"].numpy() < problem.inlet.T_b - 1e-3 * rise)
    assert inside.sum() >= 5
    np.testing.assert_allclose(predicted["T"].numpy()[inside], placed["T"][inside], rtol=1e-5)
    np.testing.assert_allclose(predicted["Y_CH4"].numpy()[inside], placed["Y_CH4"][inside], rtol=1e-4, atol=1e-8)

    def theta(log_offset):
        with torch.no_grad():
            model.log_offset.fill_(log_offset)
            return problem.observed_theta(model, x).clone()

    h = 1e-7
    slope = (theta(h) - theta(-h)) / (2 * h)
    theta(0.0)
    (implicit,) = torch.autograd.grad(problem.observed_theta(model, x)[torch.as_tensor(inside)].sum(), model.log_offset)
    assert float(implicit) == pytest.approx(float(slope[torch.as_tensor(inside)].sum()), rel=1e-6)


def test_inverse_data_and_unknowns(tmp_path):
    """Synthetic observations come from Cantera's flame; the unknowns start at the guesses; bad
    settings are one-line errors."""
    problem = build_problem({"name": "flame_ch4_inverse", "n_observations": 15, "noise": 0.0})
    reference = free_flame(0.8, resolved_spacing=DATA_SPACING)
    np.testing.assert_allclose(problem.data["T"], np.interp(problem.data.x, reference.x, reference.T))
    assert reference.s_L_extrapolated == free_flame(0.8).s_L_extrapolated
    theta = (reference.T - reference.T[0]) / (reference.T[-1] - reference.T[0])
    preheat = reference.x[(theta > 1e-5) & (theta < 0.05)]
    assert np.diff(preheat).max() <= 1.001 * DATA_SPACING
    assert problem.data["T"].min() < problem.T_in + 50 and problem.data["T"].max() > problem.inlet.T_b - 50
    model = problem.build_model(8, 2, "tanh")
    assert float(model.unknown("activation_energy")) == pytest.approx(7.0e7)
    truth = {u.name: u.true for u in problem.unknown_parameters()}
    assert truth["activation_energy"] == pytest.approx(20.0 * 4184.0 * 1000.0)
    for override, message in [("problem.noise=-0.1", "problem.noise=-0.1 must be >= 0"),
                              ("problem.n_observations=2", "problem.n_observations=2 must be between 3"),
                              ("problem.initial_activation_energy=0", "must be > 0")]:
        code, _, err = run_cli(["problem=flame_ch4_inverse", override], tmp_path)
        assert code == 2 and message in err and "Traceback" not in err, err


@pytest.mark.slow
def test_inverse_recovers_the_kinetics_from_clean_data(tmp_path):
    metrics = run(compose_config(["problem=flame_ch4_inverse", "problem.noise=0", "trainer.progress=none"]),
                  out_dir=tmp_path)
    inferred = metrics["inferred"]
    assert inferred["s_L"]["relative_error"] < 1e-2
    assert inferred["activation_energy"]["relative_error"] < 2e-2
    assert inferred["pre_exponential"]["relative_error"] < 1e-1
