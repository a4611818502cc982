"""finite_well_inverse: the truth reaches the training only through the observations, the loss sees
the trainable depth, the observation operator is the model's own density, and (slow) a full run
lands within its interval of the exact root."""

import numpy as np
import pytest
import torch

from pinn.config import compose_config
from pinn.errors import ConfigError
from pinn.problems import build_problem
from pinn.problems.base import evaluated
from pinn.problems.inverse import unknown_value
from pinn.problems.wells.depth_guess import depth_from_density
from pinn.reference import analytic
from pinn.run import run


def problem(**overrides):
    return build_problem({"name": "finite_well_inverse", **overrides})


def test_observations_are_the_exact_density_with_its_noise():
    clean = problem(noise=0.0)
    exact = analytic.symmetric_step_well(0.0, 20.0, 1.0, 4.0, 1)
    x = clean.data.x
    assert x.min() > -4.0 and x.max() < 4.0 and x.size == 12
    np.testing.assert_allclose(clean.data["density"], exact.eigenfunctions[0](x) ** 2, rtol=1e-12)
    noisy = problem(noise=0.02, noise_seed=3)
    ratio = np.log(noisy.data["density"] / clean.data["density"])
    assert 0.005 < np.std(ratio) < 0.05  # 2% multiplicative noise


def test_the_model_starts_from_the_guess_and_the_loss_sees_its_depth():
    p = problem(V0=20.0, initial_V0=10.0)
    model = p.build_model(8, 2, "tanh").double()
    start = build_problem({"name": "finite_well", "V0": 10.0})
    assert float(unknown_value(model, "V0")) == pytest.approx(10.0)
    truth = build_problem({"name": "finite_well", "V0": 20.0})
    rates = model.decay_rates.numpy()
    np.testing.assert_allclose(rates, start.decay_rates(start.level_estimates()), rtol=1e-12)
    assert not np.allclose(rates, truth.decay_rates(truth.level_estimates()))  # the truth's would differ
    batch = p.collocation(16, torch.device("cpu"), torch.float64)
    terms = p.loss_terms(model, batch, "solve")
    assert "data_density" in terms and "residual" in terms
    # the residual rows are those of the well at the trainable depth, not at the true one
    with torch.no_grad():
        model.log_V0.fill_(np.log(2.0))  # V0 = 20, the truth
        at_truth = p.loss_terms(model, batch, "solve")["residual"]()
        model.log_V0.zero_()
        at_guess = p.loss_terms(model, batch, "solve")["residual"]()
    assert not torch.allclose(at_truth, at_guess)
    reference_terms = start.loss_terms(model, start.collocation(16, torch.device("cpu"), torch.float64), "solve")
    torch.testing.assert_close(at_guess, reference_terms["residual"]())


def test_the_depth_moves_only_once_the_data_are_in():
    """Warm-up and forward stages solve the well at the current depth, held, without the data; the
    solve stage adds the data and differentiates in V0."""
    p = problem()
    model = p.build_model(8, 2, "tanh").double()
    batch = p.collocation(16, torch.device("cpu"), torch.float64)
    for stage, fitting in (("warmup", False), ("forward", False), ("solve", True)):
        terms = evaluated(p.loss_terms(model, batch, stage))
        assert ("data_density" in terms) == fitting, stage
        loss = sum((t ** 2).sum() if t.dim() else t for t in terms.values())
        (grad,) = torch.autograd.grad(loss, model.log_V0, allow_unused=True)
        assert (grad is not None and float(grad) != 0.0) == fitting, stage


def test_density_operator_is_the_models_own_and_differentiable():
    p = problem()
    model = p.build_model(8, 2, "tanh").double()
    x = torch.linspace(-3.9, 3.9, 41, dtype=torch.float64)
    density = p.predict(model, x)["density"]
    psi, _ = p.wavefunctions(model, x)
    torch.testing.assert_close(density, psi[0] ** 2)
    density.sum().backward()
    assert any(q.grad is not None and q.grad.abs().sum() > 0 for q in model.parameters())


@pytest.mark.parametrize("V0, half_width, L", [(2.0, 1.0, 4.0), (20.0, 1.0, 4.0), (150.0, 1.0, 4.0),
                                             (400.0, 0.3, 2.0), (60.0, 2.0, 2.5)])
def test_the_starting_depth_read_off_the_density_is_near_the_truth(V0, half_width, L):
    """From the exact density (independent roots of the matching conditions) and from 2% noise."""
    exact = analytic.symmetric_step_well(0.0, V0, half_width, L, 1)
    x = np.linspace(-0.95 * L, 0.95 * L, 40)
    rho = exact.eigenfunctions[0](x) ** 2
    seen = rho >= 1e-4 * rho.max()
    assert depth_from_density(x[seen], rho[seen], half_width, L) == pytest.approx(V0, rel=0.05)
    noisy = problem(V0=V0, half_width=half_width, L=L, initial_V0=None, noise_seed=1)
    assert noisy.start_V0 == pytest.approx(V0, rel=0.2)
    model = noisy.build_model(8, 2, "tanh").double()
    assert float(unknown_value(model, "V0")) == pytest.approx(noisy.start_V0)


def test_a_density_with_too_few_samples_gives_no_depth():
    assert depth_from_density(np.array([0.5, -0.5, 3.0]), np.array([0.5, 0.5, 0.01]), 1.0, 4.0) is None


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="V0"):
        problem(V0=-5.0)
    with pytest.raises(ConfigError, match="initial_V0"):
        problem(initial_V0=float("nan"))
    assert "noise_seed" not in problem().reference_parameters()


@pytest.mark.slow
def test_a_noisy_run_lands_within_its_interval(tmp_path):
    metrics = run(compose_config(["problem=finite_well_inverse", "trainer.progress=none"]), out_dir=tmp_path)
    assert metrics["status"] == "ok", metrics.get("status_detail")
    for name in ("V0", "E0"):
        item = metrics["inferred"][name]
        assert item["interval"][0] <= item["true"] <= item["interval"][1], (name, item)
    assert (tmp_path / "density.png").is_file() and (tmp_path / "inferred.png").is_file()
    # the level's estimate is at the inferred depth, its relative error against the true depth's
    from pinn.io.summary import estimated
    assert estimated(metrics, 0).endswith("at the inferred parameters)")
    assert "at the inferred" not in estimated({"estimated_relative_errors": [1e-9]}, 0)
