"""Real multiruns through the basic, joblib and submitit_local launchers, and their summaries."""

import csv
import json
import subprocess
import sys

import pytest

TINY = ["tolerance=1e-3", "trainer.progress=none", "trainer.collocation_points=16", "trainer.phases.warmup.steps=60",
        "trainer.phases.ritz.steps=10", "trainer.phases.solve.steps=10", "figures=false"]


def pinn(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pinn", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def summary(sweep_dir):
    with open(sweep_dir / "summary.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("launcher", [["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
                                      ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10"]])
def test_launchers_run_a_sweep_and_write_its_summary(launcher, tmp_path):
    sweep = tmp_path / "sweep"
    proc = pinn("-m", "problem=infinite_well", "problem.L=1,2", *TINY, *launcher, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = summary(sweep)
    assert [r["problem.L"] for r in rows] == ["1", "2"]
    assert all(r["status"] == "ok" for r in rows)
    for r in rows:
        L = float(r["problem.L"])
        assert abs(float(r["E0_reference"]) - (3.141592653589793 / L) ** 2) < 1e-9
        assert float(r["E0_relative_error"]) < 1e-3
    assert (sweep / "summary_problem.L.png").is_file()


def test_failed_jobs_are_listed_and_the_summary_can_be_redrawn(tmp_path):
    sweep = tmp_path / "sweep"
    proc = pinn("-m", "problem=finite_well", "problem.L=-1,4", "model.width=6,8", *TINY,
                f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = summary(sweep)
    assert len(rows) == 4
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 2 and all("problem.L=-1" in r["error"] for r in failed)
    assert all(r["status"] in ("ok", "wrong_state", "unconverged") for r in rows if r["problem.L"] == "4")
    (sweep / "summary.csv").unlink()
    redo = subprocess.run([sys.executable, "-m", "pinn.sweep", str(sweep)], capture_output=True, text=True, timeout=120)
    assert redo.returncode == 0 and "4 jobs, 2 failed" in redo.stdout
    assert summary(sweep) == rows


def test_summary_of_a_missing_directory_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pinn.sweep", str(tmp_path / "nope")], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("error:") and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_convergence_experiment_sweeps_width_and_points(tmp_path):
    sweep = tmp_path / "sweep"
    proc = pinn("-m", "+experiment=convergence", *[a for a in TINY if "collocation" not in a],
                f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = summary(sweep)
    assert {(r["model.width"], r["trainer.collocation_points"]) for r in rows} == {
        (w, n) for w in ("4", "8", "16") for n in ("16", "32", "64")}
    assert all(r["status"] in ("ok", "wrong_state", "unconverged") for r in rows)
    assert json.loads((sweep / "0" / "metrics.json").read_text())["problem"] == "finite_well"


def test_ctrl_c_in_a_job_stops_the_sweep(tmp_path, monkeypatch):
    """The interrupted job keeps its record; the next job does not start; exit code 130."""
    from conftest import run_cli
    from pinn.errors import Interrupted
    from pinn.training.trainer import Trainer

    def interrupted(self, *args, **kwargs):
        raise Interrupted("interrupted after step 3; checkpoint written to somewhere")

    monkeypatch.setattr(Trainer, "fit", interrupted)
    sweep = tmp_path / "sweep"
    code, _, err = run_cli(["-m", "problem=infinite_well", "problem.L=1,2", *TINY, f"hydra.sweep.dir={sweep}"],
                           tmp_path / "unused")
    assert code == 130 and err.strip().splitlines()[-1].startswith("error: interrupted"), err
    assert "interrupted after step 3" in (sweep / "0" / "metrics.json").read_text()
    assert not (sweep / "1").exists()
