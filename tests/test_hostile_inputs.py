"""Random and hostile values at every parameter, through the entry point users type into.

Each example either validates and runs (with a tiny step budget) or stops with exit code 2 and one
line `error: ...`; never a traceback, never non-finite results reported as success."""

import inspect
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinn.problems import PROBLEMS

from conftest import run_cli

def tiny(name):
    """Two steps per phase; the flame trainers have the solve phase (and the counterflow's flow).
    The well trainers add no warm-up steps for extra states (a drawn n_states=4 once added 2700)
    and no refinement rounds."""
    common = ["trainer.progress=none", "trainer.collocation_points=8", "trainer.phases.solve.steps=2"]
    if name.startswith("flame_counterflow"):
        return common + ["trainer.phases.flow.steps=2"]
    wells = ["trainer.phases.warmup.steps=2", "trainer.phases.ritz.steps=2",
             "++trainer.phases.warmup.extra_steps_per_state=0", "trainer.refine.rounds=0"]
    if name == "finite_well_inverse":
        wells.append("trainer.phases.forward.steps=2")
    return common + ([] if name.startswith("flame") else wells)


# Cantera's counterflow reference alone takes from a minute to half an hour (phi >= 1) per new
# parameter set: those problems are drawn in the slow variant only (their bad input is tested in
# test_flame_counterflow.py). So is finite_well_inverse (its bad input: test_wells_inverse.py):
# one more name reshuffles the derandomized draws, and the new ones ran 6x longer.
LATER_PROBLEMS = ("finite_well_inverse",)
QUICK_PROBLEMS = sorted(name for name in PROBLEMS
                        if not name.startswith("flame_counterflow") and name not in LATER_PROBLEMS)
GENERAL_KEYS = ["seed", "dtype", "device", "resume", "logger", "model.width", "model.depth", "model.activation",
                "trainer.collocation_points", "trainer.log_every", "trainer.checkpoint_every",
                "trainer.progress", "trainer.phases.warmup.lr", "trainer.phases.solve.damping",
                "trainer.phases.ritz.patience", "trainer.phases.warmup.optimizer", "trainer.phases.solve.stage",
                "problem.weights.residual", "problem.weights.bogus", "problem.bogus", "bogus"]
WORDS = ["nan", "inf", "-inf", "null", "true", "abc", "''", "[1,2]", "{a: 1}", "1,2", "${nope}", "1e400",
         "-0.0", "5e-324", "1e-300", "1e300", "float16", "cuda:3", "adam", "lm", "warmup", "/no/such/dir", "sin"]


def problem_keys(name):
    params = inspect.signature(PROBLEMS[name].__init__).parameters
    return [f"problem.{p}" for p in params if p not in ("self", "weights")]


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-10, max_value=10).map(str),
    st.sampled_from([-1e6, -100.0, 1e-8, 1e-4, 0.01, 0.5, 2.0, 50.0, 1e4, 1e8]).map(repr),
)
plausible = st.one_of(
    st.floats(min_value=1e-3, max_value=1e3).map(repr),
    st.floats(min_value=-1e3, max_value=1e3).map(repr),
    st.integers(min_value=1, max_value=5).map(str),
)
values = st.one_of(plausible, numbers, st.sampled_from(WORDS))


@st.composite
def command_lines(draw, names=QUICK_PROBLEMS):
    name = draw(st.sampled_from(names))
    keys = problem_keys(name) + GENERAL_KEYS
    chosen = draw(st.lists(st.tuples(st.sampled_from(keys), values), min_size=1, max_size=3,
                           unique_by=lambda kv: kv[0]))
    return [f"problem={name}", *tiny(name), *(f"{k}={v}" for k, v in chosen)]


@st.composite
def physical_command_lines(draw, names=QUICK_PROBLEMS):
    """Every parameter of one problem at once, anywhere over many decades: the values a user may
    type that validate, where wrong answers would hide."""
    name = draw(st.sampled_from(names))
    chosen, half_width = [], None
    for key in problem_keys(name):
        if key == "problem.n_states":
            chosen.append(f"{key}={draw(st.integers(min_value=1, max_value=4))}")
        elif key == "problem.fixed_energy":
            chosen.append(f"{key}={draw(st.sampled_from(['true', 'false']))}")
        elif key == "problem.L" and half_width is not None and draw(st.booleans()):
            chosen.append(f"{key}={half_width * (1 + 10 ** draw(st.floats(min_value=-3, max_value=3)))!r}")
        else:
            magnitude = 10 ** draw(st.floats(min_value=-4, max_value=4))
            sign = draw(st.sampled_from([1, 1, -1])) if key == "problem.V0" else 1
            chosen.append(f"{key}={sign * magnitude!r}")
            if key == "problem.half_width":
                half_width = magnitude
    return [f"problem={name}", *tiny(name), *chosen]


EXTREMES = ["1e-300", "-1e-300", "1e300", "-1e300", "5e-324", "1.7e308"]
# output directories a user may type: one that cannot be created, one below a file, a deep new one
RUN_DIRS = ["/proc/pinn-hostile", "{tmp}/a_file/run", "{tmp}/new/deeper/run"]


@st.composite
def extreme_command_lines(draw, names=QUICK_PROBLEMS):
    """One to three lengths, energies or rates of a problem at the edges of float64, with a run
    directory that may not be writable and, for the observed flame, a file of observations far too
    long: each must run or fail with one line."""
    name = draw(st.sampled_from(names))
    numeric = [k for k in problem_keys(name) if k not in ("problem.n_states", "problem.fixed_energy",
                                                          "problem.potential", "problem.constants",
                                                          "problem.observations", "problem.noise_seed")]
    keys = draw(st.lists(st.sampled_from(numeric), min_size=1, max_size=3, unique=True))
    argv = [f"problem={name}", *tiny(name), *(f"{k}={draw(st.sampled_from(EXTREMES))}" for k in keys)]
    if name == "flame_fpp_inverse" and draw(st.booleans()):
        argv.append("problem.observations={tmp}/many.csv")
    if draw(st.booleans()):
        argv.append(f"hydra.run.dir={draw(st.sampled_from(RUN_DIRS))}")
    return argv


def check_outcome(argv, run_dir):
    given = [a.split("=", 1)[1] for a in argv if a.startswith("hydra.run.dir=")]
    if given:
        (run_dir / "a_file").write_text("")
        (run_dir / "many.csv").write_text("x,T,u\n" + "1e-4,400,0.5\n" * 10001)
        argv = [a.replace("{tmp}", str(run_dir)) for a in argv if not a.startswith("hydra.run.dir=")]
        run_dir = type(run_dir)(given[-1].replace("{tmp}", str(run_dir)))
    elif any("{tmp}" in a for a in argv):
        (run_dir / "many.csv").write_text("x,T,u\n" + "1e-4,400,0.5\n" * 10001)
        argv = [a.replace("{tmp}", str(run_dir)) for a in argv]
    code, out, err = run_cli(argv, run_dir)
    assert "Traceback" not in err and "Traceback" not in out, (argv, err)
    if code in (0, 3):
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert all(isinstance(e, float) and math.isfinite(e) for e in metrics["eigenvalues"]), (argv, metrics)
        assert (metrics["status"] == "ok") == (code == 0), (argv, metrics["status"])
    else:
        lines = [line for line in err.splitlines() if line.strip()]
        assert code in (2, 4), (argv, code, err)
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)


def _property(examples, draw_from=command_lines, names=QUICK_PROBLEMS):
    def strategy():
        return draw_from(names)

    # the decorated source is what derandomize seeds from: kept as it was, the quick problems
    # see the same examples as before the counterflow problems existed
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(argv=strategy())
    def check(tmp_path_factory, argv):
        check_outcome(argv, tmp_path_factory.mktemp("hostile"))
    return check


def test_hostile_inputs_run_or_fail_with_one_line(tmp_path_factory):
    _property(25)(tmp_path_factory)


def test_physical_parameters_over_many_decades_run_or_fail_with_one_line(tmp_path_factory):
    _property(6, physical_command_lines)(tmp_path_factory)


def test_extreme_magnitudes_and_unwritable_directories_run_or_fail_with_one_line(tmp_path_factory):
    _property(15, extreme_command_lines)(tmp_path_factory)


@pytest.mark.slow
def test_many_hostile_inputs(tmp_path_factory):
    _property(400, names=sorted(PROBLEMS))(tmp_path_factory)
    _property(200, physical_command_lines, names=sorted(PROBLEMS))(tmp_path_factory)
    _property(200, extreme_command_lines, names=sorted(PROBLEMS))(tmp_path_factory)


atoms = st.sampled_from(["x", "pi", "e", "1", "0", "2.5", "1e300", "-3", "k", "y", "__import__", "x.real",
                         "x[0]", "'s'", "None", "True", "(x, x)", "lambda: 0", "[x]", "{}", "os"])


def _combine(children):
    ops = st.sampled_from([" + ", " - ", " * ", " / ", " ** ", " < ", " and ", " if x else ", ".", "("])
    functions = st.sampled_from(["sin", "exp", "log", "sqrt", "abs", "cosh", "eval", "open", "getattr"])
    return st.one_of(
        st.tuples(children, ops, children).map("".join),
        st.tuples(functions, children).map(lambda fc: f"{fc[0]}({fc[1]})"),
        children.map(lambda c: f"-({c})"),
    )


expressions = st.recursive(atoms, _combine, max_leaves=8)


@settings(max_examples=500, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(text=expressions)
def test_random_potential_expressions_evaluate_or_are_refused(text):
    """The parser either refuses an expression with a ConfigError naming problem.potential, or
    the problem it builds evaluates V to finite numbers on the whole domain; nothing else escapes."""
    import numpy as np

    from pinn.errors import ConfigError
    from pinn.problems import build_problem

    try:
        problem = build_problem({"name": "custom", "potential": text, "L": 2.0, "constants": {"k": 0.5}})
    except ConfigError as exc:
        assert "problem.potential" in str(exc) and "\n" not in str(exc)
        return
    values = problem.potential(np.linspace(-2.0, 2.0, 101))
    assert np.all(np.isfinite(values)), text
