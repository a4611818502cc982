"""Every registered problem honours the whole-run contract: built from its YAML defaults, trained
two steps per phase, evaluated against its reference, every file written, every figure of its
report drawn again through pinn.load, and the run read back by the sweep summary. A new family
that forgets a piece fails here."""

import shutil

import numpy as np
import pytest

from pinn import load
from pinn.config import compose_config
from pinn.io.files import read_run
from pinn.problems import PROBLEMS
from pinn.problems.base import Problem
from pinn.problems.registry import REPORTS, report_of
from pinn.run import plain_config, run
from pinn.status import STATUSES
from pinn.sweep import collect

FILES = ("metrics.json", "history.csv", "solution.npz", "config.json", "checkpoint.pt")


def tiny(name):
    """The problem's own config with two steps in every phase, and at most one refinement round
    on the same nodes."""
    config = plain_config(compose_config([f"problem={name}", "trainer.progress=none", "trainer.log_every=1"]))
    for phase in config["trainer"]["phases"].values():
        phase["steps"], phase["extra_steps_per_state"] = 2, 0
    config["trainer"]["refine"] = {"rounds": 1, "growth": 1}
    return config


# with the other tests of Cantera's counterflow flame, on one worker: its reference is solved once
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xdist_group("counterflow"))
                                  if n.startswith("flame_counterflow") else n for n in sorted(PROBLEMS)])
def test_every_problem_runs_end_to_end(name, tmp_path):
    cls = PROBLEMS[name]
    assert issubclass(cls, Problem) and cls.report in REPORTS and cls.default_tolerance > 0
    out = tmp_path / "sweep" / "0"
    metrics = run(tiny(name), out_dir=out)
    assert metrics["problem"] == name and metrics["report"] == cls.report
    assert metrics["status"] in STATUSES and all(c["kind"] for c in metrics["checks"])
    if "estimated_relative_errors" in metrics:  # two steps are far from any tolerance: one round follows
        actions = [row["action"] for row in metrics["refinement"]]
        if actions[0] == "restart":  # a state far from converged may sit above the next Galerkin level
            actions = actions[1:]
        assert actions == ["refine", "rounds_spent"]
        assert metrics["status"] != "ok"
    for key in ("eigenvalues", "reference_eigenvalues", "relative_errors"):
        assert len(metrics[key]) >= 1 and all(np.isfinite(metrics[key])), key
    for file in FILES:
        assert (out / file).is_file(), file
    assert metrics["reference"]["source"] in ("solved", "cache"), metrics["reference"]  # its reference pickles
    result = load(out)
    figures = result.figures()
    assert figures and set(figures) == set(report_of(metrics).figures(*read_run(out)))  # names only: nothing drawn
    for figure in figures:
        assert (out / f"{figure}.png").is_file(), figure
    for named in (result.wavefunctions_figure, result.states_figure, result.fields_figure, result.error_figure,
                  result.losses_figure, result.eigenvalue_figure):
        try:
            named()
        except ValueError as exc:  # a figure this kind does not draw: said plainly, with the ones it does
            assert "has no" in str(exc) and all(name in str(exc) for name in figures), exc
    (out / ".hydra").mkdir()
    (out / ".hydra" / "overrides.yaml").write_text(f"- problem={name}\n")
    shutil.copytree(out, tmp_path / "sweep" / "1")
    rows, _ = collect(tmp_path / "sweep")
    assert [r["status"] for r in rows] == [metrics["status"]] * 2
    assert rows[0]["E0"] == metrics["eigenvalues"][0]
