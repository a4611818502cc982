"""The flame PINN: its physics against the reference's independent implementation, the phase-plane
equation on the converged reference profile, a short real training run, and bad input."""

import json

import numpy as np
import pytest
import torch

from pinn.config import compose_config
from pinn.errors import ConfigError
from pinn.problems import build_problem
from pinn.reference import flame as F
from pinn.run import run

from conftest import run_cli

QUICK = ["tolerance=2e-3", "trainer.progress=none", "trainer.phases.solve.steps=150", "model.width=20", "trainer.collocation_points=192"]


@pytest.fixture(scope="module")
def default_flame():
    return F.solve_converged(F.FlameParameters())


@pytest.mark.parametrize("params", [{}, {"phi": 0.5, "T_in": 400.0, "pressure": 3e5}])
def test_torch_physics_matches_the_reference_implementation(params):
    problem = build_problem({"name": "flame_fpp", **params})
    p = F.FlameParameters(**params)
    rng = np.random.default_rng(0)
    T = rng.uniform(p.T_in, p.T_max, 200)
    s = rng.uniform(0.05, 2.0, 200)
    eq = problem.physics
    left = (p.T_max - T) / (p.T_max - p.T_in)
    Tt, st, lt = (torch.tensor(v) for v in (T, s, left))
    np.testing.assert_allclose(eq.velocity(Tt, st).numpy(), F.velocity(p, T, s), rtol=1e-12)
    np.testing.assert_allclose(eq.rate(Tt, lt, st).numpy(), F.reaction_rate(p, T, s), rtol=1e-9)
    assert eq.T_max == pytest.approx(p.T_max, rel=1e-14)


def test_phase_plane_equation_holds_on_the_reference_profile(default_flame):
    """q dq/dtheta - Pe q + D omega = 0 with q = dtheta/dxi, evaluated on the converged FD profile by
    finite differences, relative to the size of its terms (the PINN's residual), where the flame is."""
    problem = build_problem({"name": "flame_fpp"})
    p = F.FlameParameters()
    fd = default_flame.finest
    xi = fd.x / p.L
    theta = (fd.T - p.T_in) / (p.T_max - p.T_in)
    q = np.gradient(theta, xi, edge_order=2)
    inside = (xi > 0.01) & (xi < 0.9)
    dq = (np.gradient(q, xi, edge_order=2)[inside] / q[inside])
    s = default_flame.s
    convection = problem.peclet(s) * q[inside]
    source = problem.damkohler() * F.reaction_rate(p, fd.T[inside], s)
    relative = (q[inside] * dq - convection + source) / (convection + source)
    assert np.max(np.abs(relative)) < 1e-4
    # and the inlet gradient is the anchoring condition g
    assert q[0] == pytest.approx(problem.gradient, rel=1e-6)


def test_short_training_lands_near_the_reference(tmp_path):
    metrics = run(compose_config(["problem=flame_fpp"] + QUICK), out_dir=tmp_path)
    assert metrics["status"] == "ok"
    assert metrics["reference_eigenvalues"][0] == pytest.approx(0.29278611, rel=1e-7)
    assert metrics["relative_errors"][0] < 2e-3
    assert metrics["field_l2_errors"]["T"] < 1e-2
    for name in ("metrics.json", "history.csv", "solution.npz", "fields.png", "error.png", "losses.png",
                 "eigenvalue.png", "checkpoint.pt"):
        assert (tmp_path / name).is_file(), name
    saved = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("eigenvalues", "reference_eigenvalues", "relative_errors", "field_l2_errors",
                "reference_error_estimate", "train_seconds", "steps", "versions"):
        assert key in saved, key


def test_temperature_reconstruction_is_consistent_with_the_phase_plane(tmp_path):
    """T(x) from x(theta) = L int dtheta / q: its slope at the inlet is G and it is monotone."""
    problem = build_problem({"name": "flame_fpp"})
    torch.manual_seed(0)
    model = problem.build_model(8, 2, "tanh").double()
    p = problem.physics
    h = 1e-7 * p.L
    T = problem.temperature(model, np.array([0.0, h, 2 * h]))
    slope = (-3 * T[0] + 4 * T[1] - T[2]) / (2 * h)
    assert T[0] == pytest.approx(p.T_in, abs=1e-9)
    assert slope == pytest.approx(p.inlet_gradient, rel=1e-5)
    x = np.linspace(0.0, p.L, 500)
    assert np.all(np.diff(problem.temperature(model, x)) >= 0)


@pytest.mark.parametrize("override, message", [
    ("problem.phi=0", "problem.phi=0 must be >= 0.001"),
    ("problem.phi=-0.4", "problem.phi=-0.4 must be >= 0.001"),
    ("problem.T_in=0", "problem.T_in=0 must be >= 1"),
    ("problem.T_in=1e5", "problem.T_in=100000 must be <= 10000"),
    ("problem.L=-1e-3", "problem.L=-0.001 must be >= 1e-07"),
    ("problem.L=nan", "problem.L=nan must be a finite number"),
    ("problem.L=2e-4", "increase L"),
])
def test_bad_flame_input_is_one_line(override, message, tmp_path):
    code, _, err = run_cli(["problem=flame_fpp", override, "trainer.progress=none"], tmp_path)
    err = err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], err


def test_inverse_recovers_parameters_from_noise_free_data(tmp_path):
    metrics = run(compose_config(["problem=flame_fpp_inverse", "problem.noise=0", "trainer.progress=none",
                                  "trainer.phases.solve.steps=150", "model.width=20",
                                  "trainer.collocation_points=192"]), out_dir=tmp_path)
    inferred = metrics["inferred"]
    assert inferred["s_L"]["relative_error"] < 2e-3
    assert inferred["conductivity"]["relative_error"] < 2e-2
    assert inferred["activation_energy"]["relative_error"] < 2e-2
    # started far away: 0.04 W/m/K and 1.0e5 J/mol
    assert inferred["conductivity"]["true"] == 0.026
    assert (tmp_path / "fields.png").is_file() and (tmp_path / "inferred.png").is_file()
    # no noise stated: the one the misfit shows is used, and it is the model's own small error
    assert metrics["noise"]["stated"] is None and metrics["noise"]["used"] == metrics["noise"]["estimated"]
    assert 0 < metrics["noise"]["estimated"] < 5e-3
    for name, item in inferred.items():
        low, high = item["interval"]
        assert 0 < item["std"] < 0.05 * abs(item["value"]) and low < item["value"] < high, name
    assert metrics["correlation"]["names"] == ["conductivity", "activation_energy"]


def test_observations_from_a_csv_file(tmp_path):
    from pinn.problems.observations import read_observations

    path = tmp_path / "obs.csv"
    path.write_text("x,T,u\n0,298,0.29\n0.0005,1500,1.4\n0.001,4990,4.9\n")
    data = read_observations(str(path), ["T", "u"], (0.0, 1.5e-3))
    np.testing.assert_array_equal(data["T"], [298, 1500, 4990])
    problem = build_problem({"name": "flame_fpp_inverse", "observations": str(path)})
    assert problem.data.x.size == 3
    assert problem.starting_speed() == pytest.approx(np.median(data["u"] * 298 / data["T"]))


def test_noise_not_stated_needs_measured_data(tmp_path):
    with pytest.raises(ConfigError, match="problem.noise=null"):
        build_problem({"name": "flame_fpp_inverse", "noise": None})
    path = tmp_path / "obs.csv"
    path.write_text("x,T,u\n0,298,0.29\n0.0005,1500,1.4\n0.001,4990,4.9\n")
    problem = build_problem({"name": "flame_fpp_inverse", "noise": None, "observations": str(path)})
    assert problem.noise == 0.0  # the uncertainty then uses the noise the misfit shows


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("x,T\n0,298\n1e-4,300\n2e-4,310\n", "no column 'u'"),
    ("x,T,u\n0,298,0.3\n1e-4,abc,0.3\n2e-4,310,0.3\n", "line 3: T='abc' is not a number"),
    ("x,T,u\n0,298,0.3\n", "at least 3"),
    ("x,T,u\n0,298,0.3\n1,300,0.3\n2,310,0.3\n", "x must lie in [0, 0.0015] (x is in metres)"),
])
def test_unreadable_observations_are_one_line(content, message, tmp_path):
    path = tmp_path / "obs.csv"
    if content is not None:
        path.write_text(content)
    code, _, err = run_cli(["problem=flame_fpp_inverse", f"problem.observations={path}", "trainer.progress=none"],
                           tmp_path / "run")
    lines = err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines
