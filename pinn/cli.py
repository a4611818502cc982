"""Command line: `python -m pinn problem=... key=value ...` (Hydra), with one-line errors."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import sys
import traceback
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from pinn.config import CONFIG_DIR, TOP_LEVEL_KEYS, compose_config, validate
from pinn.errors import ConfigError, DivergenceError, InternalError, Interrupted, PinnError
from pinn.io.files import write_json
from pinn.problems import build_problem
from pinn.io.rundir import RunDirectory
from pinn.training.phase import Phase
from pinn.run import check_stages, plain_config, resolve_tolerance, resume_source, run

log = logging.getLogger("pinn")

PHASE_SETTINGS = frozenset(Phase.__dataclass_fields__) - {"name"}
EXIT_INTERNAL = 1  # an error of pinn itself
EXIT_CONFIG = 2
EXIT_FAILED_CHECK = 3  # wrong_state or unconverged
EXIT_DIVERGED = 4
EXIT_INTERRUPTED = 130


def _options(group: str) -> str:
    names = sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))
    return ", ".join(names)


def _explain(exc: Exception, overrides: list[str]) -> str:
    """One line for a Hydra composition error."""
    text = str(exc)
    missing = re.search(r"Could not find '([\w/]+)/([^']+)'", text)
    if missing:
        group, name = missing.groups()
        return f"{group}={name} is unknown; choose from {_options(group)}"
    unparsed = re.search(r"Error parsing override '([^']*)'", text)
    if unparsed:
        item = unparsed.group(1)
        key, _, value = item.partition("=")
        if "(" in value or " " in value:
            return (f"{item} cannot be read as a command-line value (Hydra reads parentheses and spaces as its "
                    f"own syntax); quote it: '{key}=\"{value}\"'")
        return f"{item} cannot be read as key=value; quote the value if it holds special characters"
    override = re.search(r"Could not override '([^']+)'", text)
    if override:
        return _unknown_key(override.group(1), overrides)
    present = re.search(r"An item is already at '([^']+)'", text)
    if present:
        key = present.group(1)
        return f"{key} is already a setting of this config; set it without the leading '+': {key}={_given(key, overrides, '...')}"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return first


def _unknown_key(key: str, overrides: list[str]) -> str:
    """One line for an override of a key the composed config does not hold: the settings this
    command line's config does hold there, or, for a phase setting its trainer file leaves at the
    default, the '+' that adds it."""
    if "." not in key:
        return f"{key} is not a setting; the top-level settings are {', '.join(sorted(TOP_LEVEL_KEYS))}"
    parent, _, leaf = key.rpartition(".")
    path = parent.split(".") + [leaf]
    others = [o for o in overrides if o.split("=", 1)[0] != key]
    known: list[str] = []
    try:
        node = compose_config(others)
        for depth, name in enumerate(path):
            if name not in node:
                path, known = path[:depth + 1], sorted(node)
                break
            node = node[name]
    except Exception:
        pass
    if len(path) == 4 and path[:2] == ["trainer", "phases"] and path[3] in PHASE_SETTINGS:
        return (f"{key} is a phase setting that this trainer leaves at its default; add it with a leading '+': "
                f"+{key}={_given(key, overrides, '...')}")
    key = ".".join(path)
    group = path[0]
    chosen, problem = _given(group, others), _given("problem", others)
    where = (f"{group}={chosen}" if chosen else f"the {group} of problem={problem}" if problem and group != "problem"
             else f"the default {group}")
    listing = f"; its settings are {', '.join(known)}" if known else ""
    return f"{key} is not a setting of {where}{listing}"


def _given(key: str, overrides: list[str], missing: str | None = None) -> str | None:
    """The value the command line gives `key` (with or without a leading + or ++), else `missing`."""
    return next((o.split("=", 1)[1] for o in overrides if "=" in o and o.split("=", 1)[0].lstrip("+") == key), missing)


MULTIRUN_FLAGS = ("-m", "--multirun")
# launcher groups and the plugin package each needs
LAUNCHER_PLUGINS = {"joblib": "hydra_plugins.hydra_joblib_launcher", "submitit_local": "hydra_plugins.hydra_submitit_launcher",
                    "submitit_slurm": "hydra_plugins.hydra_submitit_launcher",
                    "slurm_gpu": "hydra_plugins.hydra_submitit_launcher",
                    "batched": "hydra_plugins.pinn_batched_launcher"}


def _is_hydra(arg: str) -> bool:
    return arg.startswith(("hydra.", "hydra/", "+hydra", "~hydra"))


def preflight(argv: list[str]) -> str | None:
    """Compose and validate the config of a single run before Hydra starts, and check that its
    run directory can be written and is not in use; return an error line."""
    if any(a in MULTIRUN_FLAGS for a in argv):
        return preflight_multirun([a for a in argv if a not in MULTIRUN_FLAGS])
    if any(a.startswith("-") for a in argv):
        return None  # --cfg, --info ...: Hydra handles these itself
    overrides = [a for a in argv if not _is_hydra(a)]
    try:
        cfg = compose_config(overrides)
    except Exception as exc:  # Hydra raises many types for a bad override
        return _explain(exc, overrides)
    try:
        config = plain_config(cfg)
        if config.get("resume") is not None:
            config, _ = resume_source(config["resume"])
        settings = validate(config)
        problem = build_problem(config["problem"])
        check_stages(problem, settings)
        resolve_tolerance(problem, config, settings)
        check_run_directory(argv)
    except PinnError as exc:
        return str(exc)
    return None


def check_run_directory(argv: list[str]) -> None:
    """The run directory given as hydra.run.dir (or the current directory, where Hydra puts
    outputs/ by default) must be writable and not in use by another run."""
    given = [a.split("=", 1)[1].strip().strip("'\"") for a in argv if a.startswith("hydra.run.dir=")]
    if not given:
        if not os.access(os.getcwd(), os.W_OK):
            raise ConfigError(f"the current directory {os.getcwd()} is not writable, and the outputs go below it; "
                              "run pinn from a writable directory or set hydra.run.dir=<a writable directory>")
        return
    if "${" not in given[-1]:
        with RunDirectory(Path(given[-1])):
            pass


def preflight_multirun(argv: list[str]) -> str | None:
    """A multirun's overrides composed at the first value of every swept key (values are checked
    job by job: a bad one fails its job, not the sweep), and its launcher installed."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    launcher = next((a.split("=", 1)[1] for a in reversed(argv) if a.startswith("hydra/launcher=")), None)
    if launcher is not None and launcher not in ("basic", *LAUNCHER_PLUGINS):
        return f"hydra/launcher={launcher} is unknown; choose from basic, {', '.join(LAUNCHER_PLUGINS)}"
    plugin = LAUNCHER_PLUGINS.get(launcher or "")
    if plugin is not None and importlib.util.find_spec(plugin) is None:
        return (f"hydra/launcher={launcher} needs Hydra's launcher plugin, which is not installed; "
                "install it with pip install -e '.[sweeps]'")
    overrides = [a for a in argv if not _is_hydra(a)]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as exc:  # Hydra's grammar errors
        return _explain(exc, overrides)
    first = [f"{o.get_key_element()}={next(iter(o.sweep_string_iterator()))}" if o.is_sweep_override() else raw
             for o, raw in zip(parsed, overrides)]
    try:
        compose_config(first)
    except Exception as exc:  # Hydra raises many types for a bad override
        return _explain(exc, first)
    return None


def resume_arguments(argv: list[str]) -> list[str] | str:
    """`resume=DIR` alone on the command line becomes the arguments that make Hydra write into DIR
    again (and leave the .hydra/ record of the original run alone); an error line otherwise."""
    given = [a for a in argv if a.startswith("resume=")]
    if not given:
        return argv
    run_dir = given[-1].split("=", 1)[1].strip().strip("'\"")
    others = [a for a in argv if not a.startswith("resume=")]
    if others:
        return (f"resume={run_dir} continues that run with its saved config, so it takes no other "
                f"arguments (got {' '.join(others)})")
    if "'" in run_dir:
        return f"resume={run_dir}: a directory name with a quote (') cannot be passed to Hydra; rename it"
    return [f"resume='{run_dir}'", f"hydra.run.dir='{run_dir}'", "hydra.output_subdir=null"]


def _multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.get().mode == RunMode.MULTIRUN


@hydra.main(version_base=None, config_path=str(CONFIG_DIR), config_name="config")
def _hydra_main(cfg: DictConfig) -> float | None:
    try:
        metrics = run(cfg)
    except Exception as exc:
        if not isinstance(exc, PinnError):
            exc = _internal_error(exc)
        if _multirun():
            log.error("job failed: %s", exc)
            _record_failure(exc, cfg)
            if isinstance(exc, Interrupted):  # the user stopped the sweep: no further job starts
                raise KeyboardInterrupt from None
            return None
        print(f"error: {exc}", file=sys.stderr)
        if isinstance(exc, Interrupted):
            sys.exit(EXIT_INTERRUPTED)
        if isinstance(exc, InternalError):
            sys.exit(EXIT_INTERNAL)
        sys.exit(EXIT_DIVERGED if isinstance(exc, DivergenceError) else EXIT_CONFIG)
    if metrics["status"] != "ok" and not _multirun():
        sys.exit(EXIT_FAILED_CHECK)
    return float(max(metrics["relative_errors"]))


def _internal_error(exc: Exception) -> InternalError:
    """The one-line report of an unexpected error: what it was, where its traceback and the run's
    last checkpoint are."""
    from hydra.core.hydra_config import HydraConfig

    out = Path(HydraConfig.get().runtime.output_dir)
    first = (str(exc).strip().splitlines() or [""])[0]
    where = "its traceback could not be saved"
    try:
        (out / "traceback.txt").write_text("".join(traceback.format_exception(exc)))
        where = f"its traceback is in {out / 'traceback.txt'}"
    except OSError:
        pass
    resume = f"; the last checkpoint is kept: python -m pinn resume={out}" if (out / "checkpoint.pt").is_file() else ""
    return InternalError(f"internal error ({type(exc).__name__}: {first}); {where} (please report it){resume}")


def _record_failure(exc: PinnError, cfg: DictConfig) -> None:
    """A failed sweep job leaves metrics.json with its error, for the sweep summary."""
    from hydra.core.hydra_config import HydraConfig

    out = Path(HydraConfig.get().runtime.output_dir)
    metrics = out / "metrics.json"
    if isinstance(exc, DivergenceError) and metrics.exists():
        data = json.loads(metrics.read_text())
        data["error"] = str(exc)
        write_json(metrics, data)
        return
    write_json(metrics, {"status": "failed", "error": str(exc),
                         "problem": OmegaConf.select(cfg, "problem.name", default=None)})


HELP = """pinn: eigenproblems solved by physics-informed neural networks whose eigenvalue is a trained
parameter, every answer checked against an independent reference (exact roots, converged finite
differences, Cantera) and given a status: ok, unconverged, inaccurate or wrong_state.

usage: python -m pinn [problem=NAME] [problem.PARAM=VALUE ...] [SETTING=VALUE ...]
       python -m pinn -m KEY=V1,V2 ...        a sweep (one job per combination)
       python -m pinn resume=RUN_DIR          continue an interrupted run

problems:
{problems}

examples:
  python -m pinn problem=finite_well problem.V0=30 problem.n_states=3
  python -m pinn problem=custom problem.potential="0.5*x**4 - x**2" tolerance=1e-6
  python -m pinn -m problem=flame_fpp problem.phi=0.38,0.42,0.46 hydra/launcher=joblib

settings: tolerance (relative eigenvalue accuracy; null: the problem's default), dtype, device,
seed, threads, model.width/depth/activation, trainer.phases.<phase>.steps, trainer.refine.rounds
(Schrödinger runs: rounds after the schedule while the estimated error exceeds the tolerance),
trainer.refine.max_seconds (a training time budget), ...
(python -m pinn --cfg job prints every setting of a run).

outputs: outputs/<date>/<time>_<problem>/ (hydra.run.dir=DIR to choose): metrics.json, history.csv,
solution.npz, figures (figures=false: none; python -m pinn.plot DIR draws them later), checkpoint.pt;
sweeps in multirun/<date>/<time>/ with summary.csv.
exit codes: 0 ok, 1 internal error, 2 bad input, 3 a check failed, 4 diverged, 130 interrupted.
Hydra's own options: python -m pinn --hydra-help"""


def help_text() -> str:
    """HELP with one line per problem, from the first comment line of its YAML file."""
    lines = []
    for path in sorted((CONFIG_DIR / "problem").glob("*.yaml")):
        first = next((line.lstrip("# ").strip() for line in path.read_text().splitlines() if line.startswith("#")), "")
        lines.append(f"  {path.stem:<26} {first}")
    return HELP.format(problems="\n".join(lines))


def main() -> None:
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(help_text())
        return
    if not CONFIG_DIR.is_dir():
        print(f"error: config directory {CONFIG_DIR} is missing; reinstall pinn (pip install <wheel>, or "
              "pip install -e . in its source tree)", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    argv = resume_arguments(sys.argv[1:])
    problem = argv if isinstance(argv, str) else preflight(argv)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    sys.argv[1:] = argv
    try:
        _hydra_main()
    except KeyboardInterrupt:  # a sweep stopped between its jobs (a run stops itself, see Trainer)
        print("error: interrupted; the jobs that had started kept their checkpoints (python -m pinn "
              "resume=<job directory>)", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # Hydra's own argument errors (e.g. -m with --cfg)
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        print(f"error: {first}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
