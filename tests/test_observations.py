"""Observation files (pinn.problems.observations): any subset of the observed fields, empty cells,
a stated noise per value; and the inverse layer taking each data row at its value's noise."""

import numpy as np
import pytest
import torch

from pinn.errors import ConfigError
from pinn.problems import build_problem
from pinn.problems.observations import read_observations
from pinn.reference import analytic

CH4_FIELDS = ["T", "Y_CH4", "Y_O2", "Y_CO2", "Y_H2O"]


def write(tmp_path, text, name="obs.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_file_may_hold_some_fields_empty_cells_and_a_noise_per_value(tmp_path):
    path = write(tmp_path, "x,T,sigma_T,Y_CH4\n0.001,300,0.01,0.05\n0.002,,,0.03\n0.003,1500,,\n0.004,2000,0.02,0.0\n")
    data = read_observations(path, CH4_FIELDS, (0.0, 0.02), needed=("T",))
    np.testing.assert_array_equal(data.x, [0.001, 0.002, 0.003, 0.004])
    np.testing.assert_array_equal(data["T"], [300, np.nan, 1500, 2000])
    np.testing.assert_array_equal(data["Y_CH4"], [0.05, 0.03, np.nan, 0.0])
    assert np.isnan(data["Y_O2"]).all() and not data.observed("Y_O2").any()
    np.testing.assert_array_equal(data.stated_noise("T"), [0.01, np.nan, np.nan, 0.02])
    assert np.isnan(data.stated_noise("Y_CH4")).all() and set(data.noise) == {"T"}
    np.testing.assert_array_equal(data.observed("T", "Y_CH4"), [True, False, False, True])


@pytest.mark.parametrize("text, message", [
    ("x,T,Y_ch4\n0,300,0.1\n", "column 'Y_ch4' is not x, an observed field"),
    ("x,Y_CH4\n0,0.1\n1e-3,0.1\n2e-3,0.1\n", "no column 'T'"),
    ("x,T,sigma_Y_CH4\n0,300,0.1\n", "'sigma_Y_CH4' has no column 'Y_CH4'"),
    ("x,T,sigma_T\n0,300,0\n1e-3,300,0.1\n2e-3,300,0.1\n", "line 2: sigma_T=0 must be a relative standard deviation"),
    ("x,T,sigma_T\n0,300,0.1\n1e-3,300,1.5\n2e-3,300,0.1\n", "line 3: sigma_T=1.5 must be"),
    ("x,T,Y_CH4,sigma_Y_CH4\n0,300,0.1,\n1e-3,300,,0.1\n2e-3,300,0.1,\n",
     "line 3: sigma_Y_CH4 is given without a value"),
    ("x,T,Y_CH4\n0,300,0.1\n1e-3,,\n2e-3,300,0.1\n", "line 3 holds no observed value"),
    (",T\n,300\n", "no column 'x'"),
    ("x,T\n0,300\n,300\n1e-3,300\n", "line 3: x is empty"),
    ("", "no column 'x'"),
])
def test_a_malformed_file_is_one_line_naming_what_and_where(tmp_path, text, message):
    with pytest.raises(ConfigError) as raised:
        read_observations(write(tmp_path, text), CH4_FIELDS, (0.0, 0.02), needed=("T",))
    assert message in str(raised.value) and "\n" not in str(raised.value)


def density_file(tmp_path, name, sigma=None, every=1):
    """The exact ground-state density of the default finite well at 12 points; `sigma` the noise
    stated on every `every`-th line (none on the others)."""
    exact = analytic.symmetric_step_well(0.0, 20.0, 1.0, 4.0, 1)
    x = np.linspace(-2.5, 2.5, 12)
    lines = ["x,density" + (",sigma_density" if sigma else "")]
    for k, (xk, rho) in enumerate(zip(x, exact.eigenfunctions[0](x) ** 2)):
        cell = f",{sigma}" if sigma and k % every == 0 else ("," if sigma else "")
        lines.append(f"{float(xk)!r},{float(rho * (1.0 + 0.01 * np.sin(7.0 * k)))!r}{cell}")
    return write(tmp_path, "\n".join(lines) + "\n", name)


def uncertainty_of(path, **settings):
    problem = build_problem({"name": "finite_well_inverse", "observations": path, **settings})
    torch.manual_seed(0)
    model = problem.build_model(8, 2, "tanh").double()
    batch = problem.collocation(16, torch.device("cpu"), torch.float64)
    return problem.uncertainty(model, lambda: problem.loss_terms(model, batch, "solve"))


def test_each_data_row_is_taken_at_its_values_noise(tmp_path):
    """The same data with the same noise, stated in the file, in the run's settings, or half and
    half, give the same covariance; a noise twice as large, four times the covariance."""
    in_file = uncertainty_of(density_file(tmp_path, "file.csv", sigma=0.02), noise=0.01)
    in_settings = uncertainty_of(density_file(tmp_path, "plain.csv"), noise=0.02)
    half = uncertainty_of(density_file(tmp_path, "half.csv", sigma=0.02, every=2), noise=0.02)
    # no noise stated for the run: the values without one are taken at the file's median, as in training
    half_assumed = uncertainty_of(density_file(tmp_path, "half.csv", sigma=0.02, every=2), noise=None)
    doubled = uncertainty_of(density_file(tmp_path, "double.csv", sigma=0.04), noise=None)
    assert in_file.noise_from_file == ("density",) and in_settings.noise_from_file == ()
    assert half_assumed.noise_used == 0.02 and half_assumed.noise_used_from == "file"
    for other in (in_settings, half, half_assumed):
        np.testing.assert_allclose(other.covariance, in_file.covariance, rtol=1e-9)
        assert other.eigenvalue_variance == pytest.approx(in_file.eigenvalue_variance, rel=1e-9)
        assert other.misfit_rms == pytest.approx(in_file.misfit_rms, rel=1e-9)
        assert other.interval_check["rise"] == pytest.approx(in_file.interval_check["rise"], rel=1e-6)
    assert in_file.interval_check["unknown"] == "V0" and all(np.isfinite(in_file.interval_check["rise"]))
    np.testing.assert_allclose(doubled.covariance, 4.0 * in_file.covariance, rtol=1e-9)
    assert doubled.noise_used is None and doubled.noise_estimated is None
    assert doubled.misfit_rms == pytest.approx(in_file.misfit_rms / 2.0, rel=1e-9)


def test_a_noise_not_stated_is_read_off_the_misfit_of_its_rows(tmp_path):
    """Rows without a stated noise are taken at the level their misfit shows: about 1 in its units."""
    estimated = uncertainty_of(density_file(tmp_path, "plain.csv"), noise=None)
    assert estimated.noise_stated is None and estimated.noise_used == estimated.noise_estimated > 0
    assert estimated.noise_used_from == "misfit"
    assert estimated.misfit_rms == pytest.approx(1.0, rel=1e-9)


def test_values_not_observed_give_no_rows(tmp_path):
    path = write(tmp_path, "x,T,u\n0,298,0.29\n0.0005,1500,\n0.001,4990,4.9\n0.0012,5000,\n")
    problem = build_problem({"name": "flame_fpp_inverse", "observations": path})
    assert problem.starting_speed() == pytest.approx(np.median([0.29 * 298 / 298, 4.9 * 298 / 4990]))
    model = problem.build_model(8, 2, "tanh").double()
    rows = problem.misfits(model, next(model.parameters()))
    assert rows["data_T"].shape == (4,) and rows["data_u"].shape == (2,)
    arrays = problem.observation_arrays(0.01)
    np.testing.assert_array_equal(arrays["obs_u"], [0.29, np.nan, 4.9, np.nan])
    np.testing.assert_array_equal(arrays["obs_T_noise"], [0.01] * 4)


def test_the_noise_a_file_states_sets_the_tolerance(tmp_path):
    """An eigenvalue inferred from data with 3% noise is not judged at the forward tolerance."""
    stated = build_problem({"name": "flame_fpp_inverse", "noise": None,
                            "observations": write(tmp_path, "x,T,u,sigma_u\n0,298,0.29,0.03\n5e-4,1500,1.4,\n"
                                                            "1e-3,4990,4.9,0.05\n1.2e-3,5000,4.9,0.03\n")})
    assert stated.stated_noise() == 0.03 and stated.tolerance() == 0.03
    plain = build_problem({"name": "flame_fpp_inverse", "noise": None,
                           "observations": write(tmp_path, "x,T,u\n0,298,0.29\n5e-4,1500,1.4\n1e-3,4990,4.9\n")})
    assert plain.stated_noise() == 0.0 and plain.tolerance() == build_problem({"name": "flame_fpp"}).tolerance()


def test_a_file_longer_than_the_problem_takes_is_refused(tmp_path):
    """The CH4 flames take at most 1000 observations (each a row of a Jacobian through the chemistry)."""
    path = write(tmp_path, "x,T\n" + "0.01,1500\n" * 1001)
    with pytest.raises(ConfigError, match="more than 1000 observations"):
        build_problem({"name": "flame_ch4_inverse", "observations": path})


def test_a_repeated_column_and_a_position_off_the_well_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="column 'T' appears more than once"):
        read_observations(write(tmp_path, "x,T,T\n0,300,301\n"), CH4_FIELDS, (0.0, 0.02))
    path = write(tmp_path, "x,density\n-9,0.1\n0,0.5\n1,0.2\n", "well.csv")
    with pytest.raises(ConfigError, match=r"x must lie in \[-4, 4\] \(x is in the well's length unit"):
        build_problem({"name": "finite_well_inverse", "observations": path})


def test_a_run_from_a_file_with_gaps_and_stated_noise_writes_every_file(tmp_path):
    """Through the command line: the run reads the file, says where its noise came from, and
    draws the observations it has (NaN where a field was not observed)."""
    import json

    from conftest import run_cli

    path = write(tmp_path, "x,T,sigma_T,u\n0,298,0.02,0.29\n0.0004,1900,0.02,\n0.0008,4900,0.03,4.8\n"
                           "0.0012,5030,,5.0\n")
    code, out, err = run_cli(["problem=flame_fpp_inverse", f"problem.observations={path}", "problem.noise=null",
                              "trainer.progress=none", "trainer.phases.solve.steps=3",
                              "trainer.phases.domain_end.steps=2"], tmp_path / "run")
    assert code in (0, 3) and "Traceback" not in err, err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["noise"]["from_file"] == ["T"] and metrics["noise"]["used_from"] == "file"
    assert metrics["noise"]["used"] == pytest.approx(0.02) and "noise: as the file states for T" in out
    solution = np.load(tmp_path / "run" / "solution.npz")
    np.testing.assert_array_equal(solution["obs_u"], [0.29, np.nan, 4.8, 5.0])
    np.testing.assert_allclose(solution["obs_T_noise"], [0.02, 0.02, 0.03, 0.02])
    assert (tmp_path / "run" / "fields.png").is_file() and (tmp_path / "run" / "inferred.png").is_file()
