"""A run's status is evidence: a wrong or unfinished answer never exits 0 with `ok`; bad input is one
line; two runs never share a directory; the thread count is chosen and recorded."""

import json
import os
import subprocess
import sys

import pytest
import torch

from pinn.training import threads
from pinn.errors import ConfigError, DivergenceError
from pinn.io.rundir import RunDirectory
from pinn.status import Check, decide, effective_tolerance, optimizer_check

from conftest import run_cli

SHORT_WELL = ["trainer.progress=none", "trainer.phases.warmup.steps=3", "trainer.phases.ritz.steps=3",
              "trainer.phases.solve.steps=3", "figures=false"]
SHORT_FLAME = ["trainer.progress=none", "trainer.phases.solve.steps=3", "trainer.phases.domain_end.steps=2",
               "figures=false"]


def one_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("argv, status", [
    (["dtype=float32", *SHORT_WELL], "unconverged"),
    (["problem=flame_fpp", "problem.phi=100", *SHORT_FLAME], "unconverged"),
    (["problem.L=1e3", *SHORT_WELL], "unconverged"),
])
def test_a_short_or_wrong_run_is_never_ok(argv, status, tmp_path):
    """The commands of the report: 20%, 45% and 77% off, each once reported as ok with exit 0."""
    code, out, _ = run_cli(argv, tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert code == 3 and metrics["status"] == status, metrics.get("status_detail")
    assert f"FAILED ({status})" in out and "\n" not in metrics["status_detail"]
    assert metrics["tolerance"] > 0 and metrics["tolerance_source"]
    failed = {c["kind"] for c in metrics["checks"] if not c["passed"]}
    assert "reference" in failed and failed & {"optimizer", "estimate"}, failed  # and evidence without the reference


def test_checks_name_the_evidence():
    ok = Check("reference", True, "fine")
    assert decide([ok]) == ("ok", "")
    assert decide([ok, Check("reference", False, "E0 off"), Check("optimizer", False, "E0 moving")]) == \
        ("unconverged", "E0 off; E0 moving")
    assert decide([Check("containment", False, "outside"), Check("state", False, "level 2")])[0] == "wrong_state"
    assert decide([Check("containment", False, "outside")])[0] == "inaccurate"


def test_convergence_is_judged_over_the_last_steps():
    moving = {"phase": "solve", "steps": 300, "stopped": False, "window": 10, "moves": {"E0": 1e-6},
              "last": {"E0": 1.0}}
    assert not optimizer_check(moving, 1e-8).passed and optimizer_check(moving, 1e-4).passed
    assert optimizer_check({**moving, "stopped": True}, 1e-8).passed
    assert not optimizer_check({**moving, "window": 1, "steps": 1}, 1e-2).passed
    assert not optimizer_check(None, 1e-2).passed
    # an eigenvalue near zero is measured against the problem's energy scale
    near_zero = {**moving, "moves": {"E0": 1e-9}, "last": {"E0": 1e-12}}
    assert not optimizer_check(near_zero, 1e-6).passed and optimizer_check(near_zero, 1e-6, {"E0": 1.0}).passed


def test_tolerance_defaults_and_limits():
    assert effective_tolerance(None, 1e-8, torch.float64) == (1e-8, "the problem's default")
    value, source = effective_tolerance(None, 1e-8, torch.float32)
    assert value == pytest.approx(100 * torch.finfo(torch.float32).eps) and "float32" in source
    for bad in (0, 1.5, float("nan"), "tight", True):
        with pytest.raises(ConfigError, match="tolerance"):
            effective_tolerance(bad, 1e-8, torch.float64)
    with pytest.raises(ConfigError, match="float32 resolves"):
        effective_tolerance(1e-9, 1e-8, torch.float32)


@pytest.mark.parametrize("argv, named", [
    (["problem=infinite_well", "problem.L=1e-300"], "problem.L=1e-300"),
    (["problem=infinite_well", "problem.L=1e300"], "problem.L=1e+300"),
    (["problem.L=1e300"], "problem.L=1e+300"),
    (["problem.half_width=1e-300"], "problem.half_width"),
    (["problem.half_width=1e-7"], "problem.half_width=1e-07 is below 1/1e+06 of problem.L=4"),
    (["problem=custom", "problem.potential='exp(x)'", "problem.L=700"], "reaches |V| = "),
    (["problem=box2d", "problem.Lx=1e-5", "problem.Ly=1"], "problem.Lx"),
    (["foo=1"], "foo is not a setting; the top-level settings are"),
    (["problem=custom", "problem.potential=log(x)"], "quote it"),
    (["tolerance=2"], "tolerance=2"),
    (["threads=0"], "threads=0"),
    (["problem=flame_fpp", "trainer.phases.solve.collocation_points=64"],
     "add it with a leading '+': +trainer.phases.solve.collocation_points=64"),
    (["problem=flame_fpp", "+trainer.phases.solve.steps=3"],
     "trainer.phases.solve.steps is already a setting of this config; set it without the leading '+': "
     "trainer.phases.solve.steps=3"),
    (["problem=flame_fpp", "trainer.phases.slove.steps=3"],
     "trainer.phases.slove is not a setting of the trainer of problem=flame_fpp; its settings are domain_end, solve"),
])
def test_extreme_and_malformed_input_is_one_line(argv, named, tmp_path):
    code, _, err = run_cli(["trainer.progress=none", *argv], tmp_path / "run")
    assert code == 2 and named in one_line(err)


def test_the_plus_that_the_error_suggests_adds_the_phase_setting():
    from pinn.config import compose_config, validate
    from pinn.run import plain_config

    config = plain_config(compose_config(["problem=flame_fpp", "+trainer.phases.solve.collocation_points=64"]))
    solve = next(p for p in validate(config).phases if p.name == "solve")
    assert solve.collocation_points == 64


def test_an_unwritable_run_directory_is_one_line(tmp_path):
    (tmp_path / "taken").write_text("")
    code, _, err = run_cli(["trainer.progress=none"], tmp_path / "taken")
    assert code == 2 and "is a file" in one_line(err)
    code, _, err = run_cli(["trainer.progress=none"], tmp_path / "taken" / "below")
    assert code == 2 and "cannot be created" in one_line(err)
    if os.path.isdir("/proc/self"):
        code, _, err = run_cli(["trainer.progress=none"], "/proc/pinn-test")
        assert code == 2 and "hydra.run.dir=/proc/pinn-test cannot be created" in one_line(err)


def test_a_sum_of_many_terms_is_a_legitimate_potential():
    from pinn.problems import build_problem

    problem = build_problem({"name": "custom", "potential": " + ".join(["0.01*x**2"] * 300)})
    import numpy as np

    assert problem.potential(np.array([2.0]))[0] == pytest.approx(12.0)


@pytest.mark.parametrize("argv, named", [
    (["problem.foo=1,2"], "problem.foo is not a setting"),
    (["problem.V0=1,2", "hydra/launcher=nope"], "hydra/launcher=nope is unknown"),
])
def test_a_malformed_sweep_is_one_line(argv, named, tmp_path):
    code, _, err = run_cli(["-m", *argv], tmp_path)
    assert code == 2 and named in one_line(err)


def test_a_launcher_without_its_plugin_names_the_extra(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("hydra_plugins.hydra_joblib") else real(name, *a))
    code, _, err = run_cli(["-m", "problem.V0=1,2", "hydra/launcher=joblib"], tmp_path)
    assert code == 2 and "pip install -e '.[sweeps]'" in one_line(err)


def test_large_observation_files_are_refused_before_reading_them_all(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("x,T,u\n" + "".join(f"{1e-4 * (k % 10):g},400,0.5\n" for k in range(10001)))
    code, _, err = run_cli(["problem=flame_fpp_inverse", f"problem.observations={path}", "trainer.progress=none"],
                           tmp_path / "run")
    assert code == 2 and "more than 10000 observations" in one_line(err)
    code, _, err = run_cli(["problem=flame_fpp_inverse", f"problem.observations={tmp_path}", "trainer.progress=none"],
                           tmp_path / "run")
    assert code == 2 and "is a directory" in one_line(err)


def test_a_corrupt_checkpoint_is_one_plain_line(tmp_path):
    from pinn.training.checkpoints import load_checkpoint

    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError) as err:
        load_checkpoint(path)
    assert "weights_only" not in str(err.value) and "delete it" in str(err.value)


def test_divergence_before_any_checkpoint_says_so(tmp_path):
    from pinn.problems import build_problem
    from pinn.training.trainer import Phase, Trainer

    problem = build_problem({"name": "finite_well"})
    model = problem.build_model(8, 2, "tanh").double()

    def poisoned(stage, batch):
        terms = problem.loss_terms(model, batch, stage)
        return {**terms, "normalization": terms["normalization"] * float("nan")}

    trainer = Trainer([Phase("warmup", "warmup", "adam", 5)], checkpoint_every=100,
                      checkpoint_path=tmp_path / "checkpoint.pt", progress="none")
    with pytest.raises(DivergenceError) as err:
        trainer.fit(model, poisoned, lambda gen: problem.collocation(16, "cpu", torch.float64, gen),
                    lambda: problem.observables(model))
    assert "no checkpoint had been written yet" in str(err.value) and "kept at" not in str(err.value)


def test_a_directory_in_use_refuses_a_second_run(tmp_path):
    """While one run holds the directory a second one stops with one line; once it ends (or dies:
    the kernel drops the lock) the directory is free again."""
    with RunDirectory(tmp_path):
        code, _, err = run_cli(["trainer.progress=none"], tmp_path)
        assert code == 2 and "in use by a running pinn run" in one_line(err)
        assert not (tmp_path / "metrics.json").exists()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from pinn.io.rundir import RunDirectory; d = RunDirectory(Path(sys.argv[1])); "
                               "d.__enter__(); print('locked', flush=True); time.sleep(60)", str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(ConfigError, match=f"pid {holder.pid}"):
        RunDirectory(tmp_path).__enter__()
    holder.kill()
    holder.wait()
    with RunDirectory(tmp_path):
        pass


def test_help_shows_the_problems_examples_and_outputs():
    proc = subprocess.run([sys.executable, "-m", "pinn", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "powered by Hydra" not in proc.stdout
    for text in ("finite_well", "flame_counterflow_inverse", "examples:", "outputs/", "exit codes"):
        assert text in proc.stdout


def test_sweep_summary_refuses_a_single_run_and_explains_itself(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    proc = subprocess.run([sys.executable, "-m", "pinn.sweep", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "a single run, not a sweep" in one_line(proc.stderr)
    assert not (tmp_path / "summary.csv").exists()
    proc = subprocess.run([sys.executable, "-m", "pinn.sweep", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: python -m pinn.sweep")


def test_solve_without_a_directory_points_to_none(capsys):
    from pinn import solve

    solve("infinite_well", overrides=SHORT_WELL)
    assert "outputs:" not in capsys.readouterr().out


def test_thread_count_follows_the_setting_the_cores_and_the_sweep(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv(threads.JOBS_VARIABLE, raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 8)
    monkeypatch.setattr(threads, "busy_cores_elsewhere", lambda seconds=0.2: 0.0)
    assert threads.choose("auto").used == 8
    assert threads.choose(3).used == 3
    monkeypatch.setattr(threads, "busy_cores_elsewhere", lambda seconds=0.2: 2.7)
    assert threads.choose("auto").used == 5
    monkeypatch.setenv(threads.JOBS_VARIABLE, "4")
    choice = threads.choose("auto")
    assert choice.used == 2 and choice.concurrent_jobs == 4 and choice.busy_cores_elsewhere is None
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.choose("auto").used == 1


def test_busy_cores_are_measured_from_proc():
    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc")
    busy = threads.busy_cores_elsewhere(0.05)
    assert busy is None or 0.0 <= busy <= threads.usable_cores() + 0.5


def test_sweep_jobs_are_counted_for_their_share_of_the_cores():
    from omegaconf import OmegaConf

    from pinn.sweep import concurrent_jobs, sweep_size

    config = OmegaConf.create({"hydra": {"overrides": {"task": ["problem.V0=5,10,20", "seed=0,1", "model.width=8"]},
                                         "sweeper": {"params": {"seed": "0,1,2,3"}},
                                         "launcher": {"_target_": "hydra_plugins.hydra_joblib_launcher."
                                                                  "joblib_launcher.JoblibLauncher", "n_jobs": 4}}})
    assert sweep_size(config) == 6
    assert concurrent_jobs(config) == min(4, 6)
    config.hydra.launcher = {"_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"}
    assert concurrent_jobs(config) == 6
    config.hydra.launcher = {"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}
    assert concurrent_jobs(config) == 1


def test_the_thread_trial_keeps_the_count_whose_steps_were_faster():
    before = torch.get_num_threads()
    try:
        for slow, fast in ((2, 1), (1, 2)):
            trial = threads.ThreadTrial([2, 1], steps=3, skip=1)
            assert torch.get_num_threads() == 2
            while not trial.done:
                trial.after_step(0.05 if torch.get_num_threads() == slow else 0.01)
            assert trial.chosen == fast and torch.get_num_threads() == fast
            assert trial.as_dict()["median_step_ms"] == {str(slow): 50.0, str(fast): 10.0}
    finally:
        torch.set_num_threads(before)


def test_an_auto_run_records_its_thread_trial_and_checkpoints_the_count_it_chose(tmp_path, monkeypatch):
    import pinn.run

    monkeypatch.setattr(pinn.run, "choose_threads", lambda setting: threads.ThreadChoice(2, setting, 2, 1, 0.0, None))
    code, _, _ = run_cli(["tolerance=1e-2", *SHORT_WELL[:1], "trainer.phases.warmup.steps=30",
                          "trainer.phases.ritz.steps=2", "trainer.phases.solve.steps=2"], tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    trial = metrics["threads"]["trial"]
    assert trial["chosen"] in (1, 2) and set(trial["median_step_ms"]) == {"1", "2"}
    assert metrics["threads"]["used"] == trial["chosen"]
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["threads"] == trial["chosen"]


def test_metrics_record_the_threads_and_a_resumed_run_keeps_them(tmp_path):
    code, _, _ = run_cli(["threads=1", "tolerance=1e-2", *SHORT_WELL[:1], "trainer.phases.warmup.steps=20",
                          "trainer.phases.ritz.steps=5", "trainer.phases.solve.steps=5"], tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["threads"]["used"] == 1 and metrics["threads"]["setting"] == 1
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["threads"] == 1


def test_an_internal_error_is_one_line_with_its_traceback_kept(tmp_path, monkeypatch):
    """A bug in evaluation (after training) is reported in one line with exit code 1; the traceback
    is saved beside the run and the checkpoint kept for a resume."""
    from pinn.problems.wells.eigenproblem import SchrodingerProblem

    def broken(self, *args, **kwargs):
        raise RuntimeError("linalg.svd: failed to converge\nsecond line")

    monkeypatch.setattr(SchrodingerProblem, "evaluate", broken)
    code, _, err = run_cli(SHORT_WELL, tmp_path)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1, err
    assert lines[0].startswith("error: internal error (RuntimeError: linalg.svd: failed to converge)")
    assert "resume=" in lines[0] and (tmp_path / "checkpoint.pt").is_file()
    assert "second line" in (tmp_path / "traceback.txt").read_text()
