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

    monkeypatch.setattr(batched.BatchedLBFGS, "step", stopped)
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

    monkeypatch.setattr(batched.BatchedLBFGS, "step", stopped)
    sweep_dir = tmp_path / "sweep"
    code, _, err = run_cli(["-m", "problem=finite_well", "problem.V0=5,20", *FAST, "trainer.phases.warmup.steps=20",
                            "hydra/launcher=batched", f"hydra.sweep.dir={sweep_dir}"], tmp_path / "unused")
    assert code == 130 and err.strip().splitlines()[-1].startswith("error: interrupted"), err
    for job in ("0", "1"):
        assert (sweep_dir / job / "checkpoint.pt").is_file() and (sweep_dir / job / "history.csv").is_file()


class Quadratics:
    """A stand-in batch for the L-BFGS alone: point b's loss 0.5 (x - c_b)^T A_b (x - c_b), A_b
    diagonal with entries over four decades, and for the last point the Rosenbrock function."""

    def __init__(self, centres, scales):
        self.size, self.names = len(centres), ["x"]
        self.params = {"x": torch.zeros(len(centres), centres.shape[1], dtype=torch.float64, requires_grad=True)}
        self.buffers = {"c": centres, "a": scales}

    def flat(self):
        return self.params["x"].detach()

    def unflat(self, theta):
        return {"x": theta}

    def assign(self, theta):
        with torch.no_grad():
            self.params["x"].copy_(theta)

    def losses(self, params, data, stage, buffers):
        x, c, a = params["x"], buffers["c"], buffers["a"]
        quadratic = 0.5 * (a * (x - c) ** 2).sum(1)
        rosenbrock = 100 * (x[:, 1] - x[:, 0] ** 2) ** 2 + (1 - x[:, 0]) ** 2 + (x[:, 2:] ** 2).sum(1)
        return torch.where(data["rosenbrock"], rosenbrock, quadratic)


def test_batched_lbfgs_finds_each_points_own_minimum():
    """Three quadratics with different centres and curvatures, and Rosenbrock's valley from (0, 0):
    each point ends at its own minimum (the centre; (1, 1, 0, ...)), to 1e-6, and a point whose
    line search cannot decrease its loss any more is done and stays where it is."""
    from pinn.training.batched_lbfgs import BatchedLBFGS

    generator = torch.Generator().manual_seed(0)
    n = 6
    centres = torch.randn(4, n, generator=generator, dtype=torch.float64)
    scales = 10.0 ** torch.linspace(-2, 2, n, dtype=torch.float64).repeat(4, 1)
    batch = Quadratics(centres, scales)
    data = {"rosenbrock": torch.tensor([False, False, False, True])}
    lbfgs = BatchedLBFGS(batch, "stage", lr=1.0, history_size=10)
    for _ in range(200):
        losses = lbfgs.step(data)
        if bool(lbfgs.done.all()):
            break
    x = batch.params["x"].detach()
    minimum = torch.cat([torch.ones(2), torch.zeros(n - 2)]).to(torch.float64)
    assert torch.allclose(x[:3], centres[:3], atol=1e-6), (x[:3] - centres[:3]).abs().max()
    assert torch.allclose(x[3], minimum, atol=1e-6), x[3]
    assert bool(lbfgs.done.all())
    before = x.clone()
    losses = lbfgs.step(data)
    assert torch.equal(batch.params["x"].detach(), before) and bool(torch.isinf(losses).all())
