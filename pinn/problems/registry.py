"""Problem names (what users type after problem=) mapped to their classes."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping

from pinn.errors import ConfigError
from pinn.problems.base import Problem

PROBLEMS: dict[str, type[Problem]] = {}


def register(name: str) -> Callable[[type[Problem]], type[Problem]]:
    def decorate(cls: type[Problem]) -> type[Problem]:
        cls.name = name
        PROBLEMS[name] = cls
        return cls

    return decorate


def build_problem(cfg: Mapping[str, Any]) -> Problem:
    """Instantiate from a plain mapping with a `name` key; unknown keys are a ConfigError."""
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
    return cls(**params)
