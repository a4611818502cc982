"""Smooth and user-typed potentials: the safe expression parser, the FD reference against exact
whole-line spectra, and short training runs against that reference."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from pinn.config import compose_config
from pinn.errors import ConfigError
from pinn.numerics.expressions import Expression
from pinn.problems import build_problem
from pinn.reference.finite_difference import solve_richardson
from pinn.run import run

from conftest import FAST


def test_expression_values_match_numpy_and_torch():
    expr = Expression("k * x**4 - x**2 + sin(pi * x) / (1 + exp(-x)) + sqrt(abs(x)) + arctan(x)", {"k": 0.5})
    x = np.linspace(-2, 2, 9)
    expected = 0.5 * x**4 - x**2 + np.sin(np.pi * x) / (1 + np.exp(-x)) + np.sqrt(np.abs(x)) + np.arctan(x)
    assert np.allclose(expr(x), expected, rtol=1e-14, atol=1e-14)
    assert np.allclose(expr(torch.tensor(x)).numpy(), expected, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("text", ["__import__('os').system('true')", "x.real", "x[0]", "lambda: 1", "open('f')",
                                  "x if x else 1", "1 +", "exp(x, 2)", "x < 1", "'a'", "y * 2", "", "(1, 2)",
                                  "sin(x=1)", "[x for x in ()]", "globals()"])
def test_hostile_expressions_are_refused(text):
    with pytest.raises(ConfigError, match="problem.potential"):
        Expression(text)


def test_a_hostile_expression_on_the_command_line_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pinn", "problem=custom", "problem.potential='__import__(\"os\")'",
                           f"hydra.run.dir={tmp_path}"], capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "problem.potential" in lines[0], proc.stderr


@pytest.mark.parametrize("text", ["1 / 0", "2.5 ** 1e300", "(-3) ** 2.5", "x / 0", "0 ** -1", "log(0)", "sqrt(x)"])
def test_potentials_that_cannot_be_evaluated_are_config_errors(text):
    with pytest.raises(ConfigError, match="problem.potential"):
        build_problem({"name": "custom", "potential": text})


def test_custom_potential_must_be_finite_and_detects_symmetry():
    with pytest.raises(ConfigError, match="not finite"):
        build_problem({"name": "custom", "potential": "log(x)"})
    assert build_problem({"name": "custom", "potential": "cosh(x) - x**2"}).symmetric
    assert not build_problem({"name": "custom", "potential": "x**2 + 0.3 * x"}).symmetric


@pytest.mark.parametrize("problem,exact", [
    ({"name": "harmonic", "omega": 1.5, "L": 7.0}, [1.5 * (2 * n + 1) for n in range(3)]),
    ({"name": "poschl_teller", "lam": 2.0, "L": 12.0}, [-4.0, -1.0]),
])
def test_fd_reference_matches_whole_line_spectra(problem, exact):
    """Truncation at +-L moves these levels by far less than the tolerance."""
    p = build_problem(problem)
    fd = solve_richardson(p.potential, *p.domain, len(exact), n_cells=4000)
    assert np.allclose(fd.eigenvalues, exact, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("overrides", [
    ["problem=harmonic"],
    ["problem=double_well"],
    ["problem=poschl_teller"],
    ["problem=custom", "problem.potential='x**2 + 0.3 * x'"],
])
def test_short_training_lands_near_the_spectral_reference(overrides, tmp_path):
    metrics = run(compose_config(overrides + FAST), out_dir=tmp_path)
    assert metrics["reference_source"] == "spectral"
    assert metrics["tolerance"] == 1e-4
    assert metrics["status"] == "ok"
    assert metrics["relative_errors"][0] < 1e-3
    assert all(math.isfinite(e) for e in metrics["eigenvalues"])
    lo, hi = metrics["eigenvalue_bounds"][0]
    assert lo <= metrics["reference_eigenvalues"][0] <= hi
