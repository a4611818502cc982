"""Problem names (what users type after problem=) mapped to their classes, and report kinds mapped
to what a run of that kind draws and prints.

Every subpackage of pinn.problems is a family; importing it registers its problems and its report.
The families are found and imported on the first lookup, so adding one touches nothing here."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from pinn.errors import ConfigError
from pinn.problems.base import Problem

PROBLEMS: dict[str, type[Problem]] = {}


@dataclass(frozen=True)
class Report:
    """What a run of one kind draws and prints: `figures(metrics, history, solution)` -> {file
    name: a function of no arguments that draws that Figure} (so one figure is drawn without the
    others), `summary(metrics)` -> lines of the printed summary (after the generic first line)."""

    kind: str
    figures: Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]
    summary: Callable[[Mapping[str, Any]], list[str]]


REPORTS: dict[str, Report] = {}


def register(name: str) -> Callable[[type[Problem]], type[Problem]]:
    def decorate(cls: type[Problem]) -> type[Problem]:
        cls.name = name
        PROBLEMS[name] = cls
        return cls

    return decorate


def register_report(report: Report) -> Report:
    REPORTS[report.kind] = report
    return report


_loaded = False


def load_families() -> None:
    """Import every family package under pinn.problems once (each registers itself)."""
    global _loaded
    if _loaded:
        return
    import pinn.problems as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.ispkg:
            importlib.import_module(f"pinn.problems.{module.name}")
    _loaded = True


def problems() -> dict[str, type[Problem]]:
    load_families()
    return PROBLEMS


def report_of(metrics: Mapping[str, Any]) -> Report:
    """The report of a run from its metrics: the kind it recorded, or its problem's kind."""
    load_families()
    kind = metrics.get("report")
    if kind is None and metrics.get("problem") in PROBLEMS:
        kind = PROBLEMS[metrics["problem"]].report
    if kind not in REPORTS:
        raise ConfigError(f"this run's report kind {kind!r} is unknown to this version of pinn "
                          f"(known: {', '.join(sorted(REPORTS))})")
    return REPORTS[kind]


def build_problem(cfg: Mapping[str, Any]) -> Problem:
    """Instantiate from a plain mapping with a `name` key; unknown keys are a ConfigError."""
    load_families()
    params = dict(cfg)
    name = params.pop("name", None)
    if not isinstance(name, str) or name not in PROBLEMS:
        raise ConfigError(f"problem={name!r} is unknown; choose from {', '.join(sorted(PROBLEMS))}")
    cls = PROBLEMS[name]
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ConfigError(
            f"problem.{unknown[0]} is not a parameter of {name}; its parameters are {', '.join(sorted(accepted))}"
        )
    problem = cls(**params)
    problem.arguments = {"name": name, **params}
    return problem
