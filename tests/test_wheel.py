"""pinn installed like a user installs it: the built wheel into a fresh virtual environment, run
from a directory that has nothing to do with the source tree (its configs travel inside it)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# the default schedule (about 10 s): a cut-short one can leave a spike narrower than the nodes, which
# the Kato-Temple check then rightly reports as `inaccurate`
TINY = ["problem=finite_well", "trainer.progress=none"]


def _run(command, **kwargs):
    proc = subprocess.run(command, capture_output=True, text=True, timeout=1200, **kwargs)
    assert proc.returncode == 0, (command, proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


@pytest.mark.slow
def test_the_built_wheel_installs_and_runs_from_any_directory(tmp_path):
    dist, venv, elsewhere = tmp_path / "dist", tmp_path / "venv", tmp_path / "elsewhere"
    elsewhere.mkdir()
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)])
    (wheel,) = dist.glob("pinn-*.whl")
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", "torch==2.13.0"])
    _run([str(python), "-m", "pip", "install", "-q", str(wheel)])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    for entry, out in (([str(venv / "bin" / "pinn")], "script"), ([str(python), "-m", "pinn"], "module")):
        _run([*entry, *TINY, f"hydra.run.dir={elsewhere / out}"], cwd=elsewhere, env=env)
        metrics = json.loads((elsewhere / out / "metrics.json").read_text())
        assert metrics["problem"] == "finite_well" and metrics["status"] == "ok"
        assert metrics["versions"]["git_commit"] is None  # installed: no source checkout around it
    where = _run([str(python), "-c", "import pinn.config as c; print(c.CONFIG_DIR)"], cwd=elsewhere, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv)
