"""Nothing lost on interruption: a run killed at any moment continues from its last checkpoint
and ends exactly where the uninterrupted run ends; the same seed gives the same answer."""

import csv
import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from pinn.config import compose_config
from pinn.io.files import HistoryWriter
from pinn.run import run

from conftest import FAST

SCHEDULE = ["problem=finite_well", *FAST, "trainer.log_every=5", "trainer.checkpoint_every=7"]


class SimulatedKill(BaseException):
    """Raised from inside training; like SIGKILL, nothing in pinn catches it."""


def history(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k != "time"} for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    return run(compose_config(SCHEDULE), out_dir=out), out


def test_same_config_and_seed_give_the_same_metrics_and_history(uninterrupted, tmp_path):
    first, first_dir = uninterrupted
    second = run(compose_config(SCHEDULE), out_dir=tmp_path)
    for key in ("eigenvalues", "relative_errors", "rayleigh_quotients", "wavefunction_l2_errors", "steps"):
        assert first[key] == second[key], key
    assert history(first_dir / "history.csv") == history(tmp_path / "history.csv")


def test_metrics_record_versions_and_commit(uninterrupted):
    versions = uninterrupted[0]["versions"]
    assert versions["torch"] == torch.__version__ and versions["pinn"] and versions["numpy"]
    assert "git_commit" in versions  # None outside a git checkout


@pytest.mark.parametrize("phase", ["warmup", "ritz", "solve"])
def test_killed_run_resumes_bitwise_in_every_phase(phase, uninterrupted, tmp_path, monkeypatch):
    """Kill in the middle of each phase (Adam, L-BFGS, Levenberg-Marquardt), after some rows were
    logged past the last checkpoint; resuming must reproduce the uninterrupted run exactly."""
    reference, reference_dir = uninterrupted
    before = sum(reference["phase_steps"].get(p, 0) for p in ["warmup", "ritz", "solve"][: ["warmup", "ritz", "solve"].index(phase)])
    kill_at = before + reference["phase_steps"][phase] // 2 + 3
    original = HistoryWriter.__call__
    killed = {}

    def dying(self, row):
        original(self, row)
        if row["step"] >= kill_at:
            killed["step"] = row["step"]
            raise SimulatedKill

    monkeypatch.setattr(HistoryWriter, "__call__", dying)
    with pytest.raises(SimulatedKill):
        run(compose_config(SCHEDULE), out_dir=tmp_path)
    monkeypatch.setattr(HistoryWriter, "__call__", original)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["step"] < killed["step"] and saved["step"] % 7 == 0  # rows past the checkpoint exist

    resumed = run(compose_config([f"resume={tmp_path}"]), out_dir=None)
    assert resumed["resumed_from_step"] == saved["step"]
    assert resumed["eigenvalues"] == reference["eigenvalues"]  # bitwise
    assert resumed["steps"] == reference["steps"]
    assert history(tmp_path / "history.csv") == history(reference_dir / "history.csv")


def pinn(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pinn", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def wait_for_checkpoint(path, min_step, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            if torch.load(path, weights_only=True)["step"] >= min_step:
                return
        except (FileNotFoundError, RuntimeError, EOFError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"no checkpoint past step {min_step} appeared")


@pytest.mark.slow  # 30 s; the in-process kill tests cover resuming in every phase
def test_sigkill_then_resume_from_the_command_line(tmp_path):
    args = [*SCHEDULE, "trainer.checkpoint_every=10"]
    full = pinn(*args, f"hydra.run.dir={tmp_path / 'full'}", cwd=tmp_path)
    assert full.returncode == 0, full.stderr
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "pinn", *args, f"hydra.run.dir={out}"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_checkpoint(out / "checkpoint.pt", 320, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (out / "metrics.json").exists()

    resumed = pinn(f"resume={out}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads((tmp_path / "full" / "metrics.json").read_text())
    b = json.loads((out / "metrics.json").read_text())
    assert b["resumed_from_step"] >= 320
    assert a["eigenvalues"] == b["eigenvalues"] and a["steps"] == b["steps"]
    assert history(tmp_path / "full" / "history.csv") == history(out / "history.csv")


def test_ctrl_c_checkpoints_the_finished_step_and_the_run_resumes(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "pinn", *SCHEDULE, "trainer.phases.warmup.steps=400",
                             "trainer.checkpoint_every=100000", f"hydra.run.dir={out}"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "history.csv").exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: interrupted after step"), err
    assert f"python -m pinn resume={out}" in lines[0]
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert 0 < saved["step"] < 400 and not saved["phase_finished"]
    assert f"step {saved['step']};" in lines[0]

    resumed = pinn(f"resume={out}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    steps = [int(row["step"]) for row in history(out / "history.csv")]
    assert steps == sorted(set(steps)) and steps[-1] == json.loads((out / "metrics.json").read_text())["steps"]


@pytest.mark.parametrize("args,named", [
    (["resume=/no/such/run"], "resume"),
    (["resume=/tmp", "seed=2"], "resume"),
])
def test_bad_resume_is_one_line(args, named, tmp_path):
    proc = pinn(*args, cwd=tmp_path)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:") and named in lines[0], proc.stderr


def test_killed_run_resumes_bitwise_inside_a_refinement_round(tmp_path, monkeypatch):
    """A refinement round is a phase the run added to its schedule: a kill inside it resumes into
    the same round, with the same nodes and the same decisions, and ends where the uninterrupted
    run ends (a 16-wide network: the 32-wide default needs no round after ten LM steps)."""
    schedule = ["problem=harmonic", "model.width=16", "tolerance=1e-7", "trainer.progress=none",
                "trainer.phases.solve.steps=10",
                "trainer.refine.rounds=1", "trainer.log_every=2", "trainer.checkpoint_every=3"]
    reference = run(compose_config(schedule), out_dir=tmp_path / "whole")
    assert reference["refinement"][0]["action"] == "refine"
    kill_at = reference["steps"] - reference["phase_steps"]["solve_refine1"] // 2
    original = HistoryWriter.__call__

    def dying(self, row):
        original(self, row)
        if row["step"] >= kill_at:
            raise SimulatedKill

    out = tmp_path / "killed"
    monkeypatch.setattr(HistoryWriter, "__call__", dying)
    with pytest.raises(SimulatedKill):
        run(compose_config(schedule), out_dir=out)
    monkeypatch.setattr(HistoryWriter, "__call__", original)
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["phase"] == "solve_refine1" and saved["added_phases"][0]["collocation_points"] == 256
    resumed = run(compose_config([f"resume={out}"]), out_dir=None)
    assert resumed["eigenvalues"] == reference["eigenvalues"]  # bitwise
    assert resumed["refinement"] == reference["refinement"]
    assert history(out / "history.csv") == history(tmp_path / "whole" / "history.csv")
