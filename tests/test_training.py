"""Short real training runs: each default problem lands near its reference; wrong states are flagged."""

import json

import pytest
import torch

from pinn.config import compose_config
from pinn.evaluate import evaluate_schrodinger
from pinn.problems import build_problem
from pinn.run import run
from pinn.train import Phase, Trainer

from conftest import FAST


@pytest.mark.parametrize("problem", ["infinite_well", "finite_well", "finite_barrier"])
def test_default_problem_trains_close_to_reference(problem, tmp_path):
    metrics = run(compose_config([f"problem={problem}"] + FAST), out_dir=tmp_path)
    assert metrics["status"] == "ok"
    assert metrics["relative_errors"][0] < 1e-4
    assert metrics["wavefunction_l2_errors"][0] < 1e-2
    assert metrics["rayleigh_relative_errors"][0] < 1e-4
    for name in ("metrics.json", "history.csv", "solution.npz", "wavefunction.png", "error.png",
                 "losses.png", "eigenvalue.png", "checkpoint.pt"):
        assert (tmp_path / name).is_file(), name
    saved = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("problem", "eigenvalues", "reference_eigenvalues", "relative_errors", "wavefunction_l2_errors",
                "train_seconds", "steps", "device", "dtype", "seed", "config"):
        assert key in saved, key


def test_fixed_energy_mode_learns_psi_with_exact_energy(tmp_path):
    metrics = run(compose_config(["problem=infinite_well", "problem.fixed_energy=true"] + FAST), out_dir=tmp_path)
    assert metrics["eigenvalue_trained"] is False
    assert metrics["relative_errors"][0] < 1e-14
    assert metrics["rayleigh_relative_errors"][0] < 1e-6


def test_same_seed_same_answer(tmp_path):
    cfg = compose_config(["problem=finite_barrier", "seed=3"] + FAST)
    first = run(cfg, out_dir=tmp_path / "a")
    second = run(cfg, out_dir=tmp_path / "b")
    assert first["eigenvalues"] == second["eigenvalues"]


def test_a_run_ending_in_an_excited_state_is_reported(tmp_path):
    """Start the eigenvalue at the second even state and skip the warm-up: Levenberg-Marquardt then
    converges to that state, and the evaluation must say so instead of reporting success."""
    torch.manual_seed(0)
    problem = build_problem({"name": "infinite_well", "L": 1.0})
    model = problem.build_model(16, 2, "tanh").double()
    with torch.no_grad():
        model.energy_raw.fill_(9 * torch.pi**2 / float(model.energy_scale))
    batch = problem.collocation(64, "cpu", torch.float64)
    Trainer([Phase("solve", "solve", "lm", 100)], progress="none").fit(
        model, lambda stage: problem.loss_terms(model, batch, stage), lambda: problem.observables(model))
    metrics, _ = evaluate_schrodinger(problem, model)
    assert metrics["matched_reference_states"] == [2]
    assert metrics["status"] == "wrong_state"
    assert "reference state 2" in metrics["status_detail"]


def test_float32_runs(tmp_path):
    metrics = run(compose_config(["problem=infinite_well", "dtype=float32"] + FAST), out_dir=tmp_path)
    assert metrics["dtype"] == "float32"
    assert metrics["relative_errors"][0] < 1e-3
