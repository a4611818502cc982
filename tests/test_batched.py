"""Batched sweeps (pinn.batching, pinn.training.batched, hydra/launcher=batched): the points of a
sweep trained together end where they end alone, a diverging point fails alone, and every point's
run directory is a single run's."""

import json
import subprocess
import sys

import pytest
import torch

from conftest import FAST, FAST_WITH_FIGURES
from pinn import batching
from pinn.config import compose_config
from pinn.errors import DivergenceError, Interrupted
from pinn.run import plain_config, run
from pinn.training.batched import train_together

DEPTHS = (5.0, 20.0, 80.0)


def configs(problem="finite_well", values=DEPTHS, key="V0", fast=FAST):
    return [plain_config(compose_config([f"problem={problem}", f"problem.{key}={v}", *fast])) for v in values]


def continue_run(config, outcome, tmp_path, name):
    with batching.handed_over(config, outcome):
        return run(config, out_dir=tmp_path / name, keep=False)


def test_points_trained_together_end_where_they_end_alone(tmp_path):
    """Each point of the batch meets the tolerance as it does alone, on the same eigenvalue."""
    sweep = configs(values=(DEPTHS[0], DEPTHS[-1]))
    outcomes = batching.train_batch(sweep)
    assert not isinstance(outcomes, str), outcomes
    for k, (config, outcome) in enumerate(zip(sweep, outcomes)):
        together = continue_run(config, outcome, tmp_path, f"batch{k}")
        alone = run(config, out_dir=tmp_path / f"alone{k}", keep=False)
        assert together["batch"] == {"points": 2, "seconds": outcome.batch["seconds"]}
        assert together["status"] == alone["status"] == "ok", (config["problem"], together.get("status_detail"))
        tolerance = together["tolerance"]
        assert together["relative_errors"][0] <= tolerance and alone["relative_errors"][0] <= tolerance
        E, E_alone = together["eigenvalues"][0], alone["eigenvalues"][0]
        assert abs(E - E_alone) <= 2 * tolerance * abs(E_alone)


def test_a_diverging_point_fails_while_the_others_finish(tmp_path):
    sweep = configs(values=DEPTHS[:2])
    built = batching.points_of(sweep)
    assert not isinstance(built, str), built
    points, phases, settings = built
    with torch.no_grad():
        next(points[0].model.parameters()).fill_(float("nan"))
    outcomes = train_together(points, phases, settings.collocation_points, settings.log_every)
    assert isinstance(outcomes[0].error, DivergenceError) and outcomes[0].start is None
    assert "batch" in str(outcomes[0].error)
    with pytest.raises(DivergenceError):
        continue_run(sweep[0], outcomes[0], tmp_path, "failed")
    assert json.loads((tmp_path / "failed" / "metrics.json").read_text())["status"] == "diverged"
    assert outcomes[1].error is None
    assert continue_run(sweep[1], outcomes[1], tmp_path, "finished")["status"] == "ok"


def test_points_that_cannot_share_a_batch_say_why():
    """Different problems or networks are batched apart; a loss that reads a model's state in Python
    (flame_fpp's domain end) cannot be evaluated for several points at once."""
    sweep = [{"problem": {"name": "finite_well", "V0": 5.0}, "model": {"width": 16}},
             {"problem": {"name": "finite_well", "V0": 9.0}, "model": {"width": 16}},
             {"problem": {"name": "finite_well", "V0": 5.0}, "model": {"width": 8}},
             {"problem": {"name": "box2d"}, "model": {"width": 16}},
             {"problem": {"name": "finite_well", "V0": 7.0}, "model": {"width": 16}},
             {"problem": {"name": "finite_well"}, "resume": "somewhere"}]
    assert batching.plan(sweep, max_batch=2) == [[0, 1], [4], [2], [3], [5]]
    why = batching.train_batch(configs("flame_fpp", (0.40, 0.44), key="phi", fast=()))
    assert isinstance(why, str) and "at once" in why


def test_a_batched_sweep_writes_every_file_a_single_run_writes(tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = subprocess.run(
        [sys.executable, "-m", "pinn", "-m", "problem=finite_well", "problem.V0=5,20", *FAST_WITH_FIGURES,
         "hydra/launcher=batched", f"hydra.sweep.dir={sweep_dir}"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "training jobs #0, #1 together" in result.stderr + result.stdout
    single = tmp_path / "single"
    run(compose_config(["problem=finite_well", *FAST_WITH_FIGURES]), out_dir=single, keep=False)
    expected = sorted(p.name for p in single.iterdir() if not p.name.startswith("."))
    for job in ("0", "1"):
        written = sorted(p.name for p in (sweep_dir / job).iterdir() if not p.name.startswith("."))
        assert set(expected) <= set(written), (job, set(expected) - set(written))
        metrics = json.loads((sweep_dir / job / "metrics.json").read_text())
        assert metrics["status"] == "ok" and metrics["batch"]["points"] == 2
    summary = (sweep_dir / "summary.csv").read_text().splitlines()
    assert len(summary) == 3 and all(",ok" in line for line in summary[1:])


def test_an_interrupted_batch_keeps_each_points_weights_to_resume_from(tmp_path, monkeypatch):
    """Ctrl-C in the batch's second phase (L-BFGS): every point is handed over at the weights its
    first phase reached, its run keeps a checkpoint and stops, and a resume continues from the
    start of the interrupted phase to the tolerance."""
    from pinn.training import batched

    sweep = configs(values=DEPTHS[:2])
    points, phases, settings = batching.points_of(sweep)

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batched, "_lbfgs_point_by_point", stopped)
    outcomes = train_together(points, phases, settings.collocation_points, settings.log_every)
    assert [o.interrupted for o in outcomes] == [True, True]
    assert all(o.start["phase_index"] == 0 and o.rows[-1]["phase"] == phases[0].name for o in outcomes)
    monkeypatch.undo()
    with pytest.raises(Interrupted, match="resume="):
        continue_run(sweep[0], outcomes[0], tmp_path, "stopped")
    assert (tmp_path / "stopped" / "checkpoint.pt").is_file() and not (tmp_path / "stopped" / "metrics.json").exists()
    resumed = run(compose_config([f"resume={tmp_path / 'stopped'}"]), out_dir=None)
    assert resumed["resumed_from_step"] == outcomes[0].start["step"] > 0
    assert resumed["status"] == "ok" and resumed["relative_errors"][0] <= resumed["tolerance"]


def test_ctrl_c_in_a_batched_sweep_stops_it_with_every_trained_job_kept(tmp_path, monkeypatch):
    from conftest import run_cli
    from pinn.training import batched

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batched, "_lbfgs_point_by_point", stopped)
    sweep_dir = tmp_path / "sweep"
    code, _, err = run_cli(["-m", "problem=finite_well", "problem.V0=5,20", *FAST, "trainer.phases.warmup.steps=20",
                            "hydra/launcher=batched", f"hydra.sweep.dir={sweep_dir}"], tmp_path / "unused")
    assert code == 130 and err.strip().splitlines()[-1].startswith("error: interrupted"), err
    for job in ("0", "1"):
        assert (sweep_dir / job / "checkpoint.pt").is_file() and (sweep_dir / job / "history.csv").is_file()
