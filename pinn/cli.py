"""Command line: `python -m pinn problem=... key=value ...` (Hydra), with one-line errors."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from pinn.config import CONFIG_DIR, compose_config, validate
from pinn.errors import DivergenceError, Interrupted, PinnError
from pinn.outputs import write_json
from pinn.problems import build_problem
from pinn.run import check_stages, plain_config, resume_source, run

log = logging.getLogger("pinn")

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
    override = re.search(r"Could not override '([^']+)'", text)
    if override:
        key = override.group(1)
        group = key.split(".")[0]
        chosen = next((o.split("=", 1)[1] for o in overrides if o.startswith(f"{group}=")), None)
        try:
            known = sorted(compose_config([f"{group}={chosen}"] if chosen else [])[group])
        except Exception:
            known = []
        where = f"{group}={chosen}" if chosen else f"the default {group}"
        listing = f"; its settings are {', '.join(known)}" if known else ""
        return f"{key} is not a setting of {where}{listing}"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return first


def preflight(argv: list[str]) -> str | None:
    """Compose and validate the config of a single run before Hydra starts; return an error line."""
    if any(a.startswith("-") for a in argv):
        return None  # multirun, --help, --cfg ...: Hydra handles these itself
    overrides = [a for a in argv if not a.startswith(("hydra.", "hydra/", "+hydra", "~hydra"))]
    try:
        cfg = compose_config(overrides)
    except Exception as exc:  # Hydra raises many types for a bad override
        return _explain(exc, overrides)
    try:
        config = plain_config(cfg)
        if config.get("resume") is not None:
            config, _ = resume_source(config["resume"])
        settings = validate(config)
        check_stages(build_problem(config["problem"]), settings)
    except PinnError as exc:
        return str(exc)
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
    except PinnError as exc:
        if _multirun():
            log.error("job failed: %s", exc)
            _record_failure(exc, cfg)
            return None
        print(f"error: {exc}", file=sys.stderr)
        if isinstance(exc, Interrupted):
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(EXIT_DIVERGED if isinstance(exc, DivergenceError) else EXIT_CONFIG)
    if metrics["status"] != "ok" and not _multirun():
        sys.exit(EXIT_FAILED_CHECK)
    return float(max(metrics["relative_errors"]))


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


def main() -> None:
    if not CONFIG_DIR.is_dir():
        print(f"error: config directory {CONFIG_DIR} is missing; install pinn from its source tree "
              "with `pip install -e .`", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    argv = resume_arguments(sys.argv[1:])
    problem = argv if isinstance(argv, str) else preflight(argv)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    sys.argv[1:] = argv
    try:
        _hydra_main()
    except Exception as exc:  # Hydra's own argument errors (e.g. -m with --cfg)
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        print(f"error: {first}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
