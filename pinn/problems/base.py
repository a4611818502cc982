"""What every problem provides: a model with its eigenvalue parameters, collocation, loss terms."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Mapping

import torch
from torch import nn

from pinn.errors import ConfigError


class Problem(ABC):
    """A problem declares WHAT is solved; it knows nothing of optimizers, logging or files.

    `loss_terms(model, batch, stage)` returns named scalar tensors. The stage is a label chosen by
    the trainer config ("warmup" or "solve"); the problem decides what each stage minimizes.
    """

    name: ClassVar[str]
    stages: ClassVar[tuple[str, ...]]
    # relative eigenvalue accuracy a run is judged by when `tolerance` is not set
    default_tolerance: ClassVar[float]

    def tolerance(self) -> float:
        """The default relative eigenvalue tolerance for these parameters."""
        return self.default_tolerance

    @abstractmethod
    def build_model(self, width: int, depth: int, activation: str) -> nn.Module: ...

    @abstractmethod
    def collocation(self, n_points: int, device: torch.device, dtype: torch.dtype,
                    generator: torch.Generator | None = None) -> dict[str, Any]:
        """Points where the losses are evaluated; a generator asks for a fresh random draw."""

    @abstractmethod
    def loss_terms(self, model: nn.Module, batch: Mapping[str, Any], stage: str) -> dict[str, torch.Tensor]: ...

    @abstractmethod
    def observables(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """Scalars worth logging during training (the eigenvalues)."""

    def start_stage(self, model: nn.Module, stage: str) -> None:
        """Called when a training phase of this stage begins afresh (not on resuming inside it)."""

    def parts(self, model: nn.Module) -> dict[str, torch.Tensor] | None:
        """Independent sub-problems of the loss, as the index of the part that owns each parameter
        entry (label tensors shaped like the parameters); then `loss_terms(..., part=k)` returns
        the terms of part k alone (in every stage), and Levenberg-Marquardt and L-BFGS phases
        solve the parts separately. None: the loss is one problem."""
        return None


class NoisyData:
    """Mixed into an inverse problem (before its forward class): the eigenvalue inferred from data
    with relative noise `noise` is judged against the larger of the forward default tolerance
    and that noise level."""

    noise: float

    def tolerance(self) -> float:
        return max(super().tolerance(), self.noise)  # type: ignore[misc]


def owners_by_state(model: nn.Module) -> dict[str, torch.Tensor] | None:
    """Parts (one per state) of a model with per-state networks `states.<j>` and one eigenvalue per
    state in `energy_raw`."""
    if len(model.states) < 2:
        return None
    owners = {}
    for name, p in model.named_parameters():
        if name == "energy_raw":
            owners[name] = torch.arange(p.numel(), device=p.device)
        elif name.startswith("states."):
            owners[name] = torch.full(p.shape, int(name.split(".")[1]), device=p.device)
        else:
            raise ValueError(f"parameter {name} belongs to no state")
    return owners


def check_number(key: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_inclusive: bool = False, what: str = "") -> float:
    """Return value as a float, or raise a one-line ConfigError naming `problem.<key>`."""
    hint = f" ({what})" if what else ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"problem.{key}={value!r} is not a number{hint}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"problem.{key}={value} must be a finite number{hint}")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        relation = ">=" if low_inclusive else ">"
        raise ConfigError(f"problem.{key}={value:g} must be {relation} {low:g}{hint}")
    if high is not None and value > high:
        raise ConfigError(f"problem.{key}={value:g} must be <= {high:g}{hint}")
    return value


# Lengths in the units of the Schrödinger problems (hbar^2 / 2m = 1): eight decades either side of
# one cover any choice of unit, and keep E ~ 1 / L^2 and the squares of the residuals in float64.
SHORTEST, LONGEST = 1e-8, 1e8


def check_length(key: str, value: Any, *, longest: float = LONGEST, what: str = "") -> float:
    """A length between SHORTEST and `longest` (see above)."""
    return check_number(key, value, low=SHORTEST, high=longest, low_inclusive=True, what=what)


def check_ratio(key: str, value: float, other_key: str, other: float, largest: float) -> None:
    """`other / value` at most `largest`: a feature this much smaller than the domain is below what
    the quadrature rules and the reference's grids resolve."""
    if other / value > largest:
        raise ConfigError(f"problem.{key}={value:g} is below 1/{largest:g} of problem.{other_key}={other:g}, finer than "
                          f"the solver resolves; make problem.{key} larger or problem.{other_key} smaller")


def check_count(key: str, value: Any, *, low: int = 1, high: int | None = None, what: str = "") -> int:
    hint = f" ({what})" if what else ""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"problem.{key}={value!r} must be a whole number{hint}")
    if value < low or (high is not None and value > high):
        allowed = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ConfigError(f"problem.{key}={value} must be {allowed}{hint}")
    return value
