"""The command line, as a user types it, in a subprocess writing into tmp_path."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import FAST, FAST_WITH_FIGURES, run_cli


def pinn(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pinn", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_cli_run_writes_every_output(tmp_path):
    out = tmp_path / "run"
    proc = pinn("problem=finite_well", "problem.V0=37", "problem.half_width=0.7", "problem.L=2.5",
                *FAST_WITH_FIGURES, f"hydra.run.dir={out}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in ("metrics.json", "history.csv", "solution.npz", "wavefunction.png", "error.png",
                 "losses.png", "eigenvalue.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["problem"]["V0"] == 37
    assert metrics["relative_errors"][0] < 1e-4
    solution = np.load(out / "solution.npz")
    assert {"x", "psi", "psi_ref", "V"} <= set(solution.files)
    assert "relative error" in proc.stdout and str(out) in proc.stdout


@pytest.mark.parametrize("args,named", [
    (["problem=nonexistent"], "problem"),
    (["problem.half_width=-1"], "half_width"),
    (["problem.L=0.5"], "problem.L"),
    (["dtype=float16"], "dtype"),
    (["problem.V0=nan"], "V0"),
    (["problem=finite_barrier", "problem.colour=blue"], "problem.colour"),
    (["device=cuda:7"], "device"),
    (["figures=maybe"], "figures"),
])
def test_bad_input_is_one_line_and_nonzero(args, named, tmp_path):
    """In process (the same cli.main), so the cases do not each pay for a new interpreter; the
    first also as a real subprocess."""
    code, _, err = run_cli(list(args), tmp_path / "run")
    if args == ["problem=nonexistent"]:
        proc = pinn(*args, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
        assert (proc.returncode, proc.stderr) == (code, err)
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error:") and named in lines[0]
    assert "Traceback" not in err


def test_a_run_without_figures_draws_them_later(tmp_path, capsys):
    """figures=false writes every file but the PNGs; python -m pinn.plot then draws exactly the
    report's figures; a directory that is not a finished run is one line."""
    from pinn import plot
    from pinn.config import compose_config
    from pinn.problems.registry import report_of
    from pinn.io.files import read_run
    from pinn.run import run

    out = tmp_path / "run"
    run(compose_config(["problem=harmonic", *FAST]), out_dir=out)
    assert (out / "metrics.json").is_file() and not list(out.glob("*.png"))
    assert plot.main([str(out)]) == 0
    names = set(report_of(json.loads((out / "metrics.json").read_text())).figures(*read_run(out)))
    assert {p.stem for p in out.glob("*.png")} == names and "wavefunction" in names
    capsys.readouterr()
    assert plot.main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error:") and "not a finished pinn run" in err
