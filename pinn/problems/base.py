"""The problem contract: what every problem provides for a whole run, from the model it trains to
the reference it is judged against and the report its run produces."""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

import torch
from torch import nn

from pinn.errors import ConfigError
from pinn.reference.cache import ReferenceCache, code_version, entry_key, solve_uncached


class Deferred:
    """A block of residual rows a problem computes only on demand: `Deferred(fn)()` is fn(). The
    Levenberg-Marquardt optimizer then leaves it out of the other blocks' Jacobian and takes its
    own alone (a few rows that cost as much as all the others, like a quotient on a fine rule)."""

    def __init__(self, fn: Callable[[], torch.Tensor]):
        self.fn = fn

    def __call__(self) -> torch.Tensor:
        return self.fn()


class Pointwise(Deferred):
    """Residual rows r_i = f(x_i), each depending on the parameters only through the model at its
    own node x_i: `Pointwise(f, *inputs)()` is f(*inputs), the nodes along the inputs' first axis
    (f must work on any number of them). Levenberg-Marquardt then forms the block's Jacobian one
    node at a time (reverse mode over a single node, vectorized over the nodes): about the cost of
    one evaluation, where one reverse pass per row costs as many evaluations as there are rows.

    The inputs are data (nodes, weights, a fixed potential): anything the parameters move must be
    computed inside f from the model. `join` concatenates blocks (their rows in order)."""

    def __init__(self, f: Callable[..., torch.Tensor], *inputs: torch.Tensor):
        self.segments = [(f, inputs)]
        super().__init__(self._evaluate)

    def _evaluate(self) -> torch.Tensor:
        values = [f(*inputs).reshape(-1) for f, inputs in self.segments]
        return values[0] if len(values) == 1 else torch.cat(values)

    @staticmethod
    def join(blocks: "list[Pointwise]") -> "Pointwise":
        joined = Pointwise.__new__(Pointwise)
        joined.segments = [segment for block in blocks for segment in block.segments]
        Deferred.__init__(joined, joined._evaluate)
        return joined


def evaluated(terms: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The terms with every `Deferred` (and `Pointwise`) one computed."""
    return {name: v() if isinstance(v, Deferred) else v for name, v in terms.items()}


class Problem(ABC):
    """A problem declares WHAT is solved and how its answer is judged; it knows nothing of
    optimizers, logging or files.

    Training: `build_model`, `collocation`, `loss_terms(model, batch, stage)` (named terms: 0-d
    tensors, residual vectors whose squares sum to the term, or `Deferred` blocks), `observables`
    (the eigenvalues and unknowns to log), and optionally `start_stage` and `parts`.

    Judging: `reference()` (the independent reference, solved once, lazily, before training) and
    `evaluate(model, reference, criteria)` -> (metrics, arrays), whose metrics hold at least
    `eigenvalues`, `reference_eigenvalues`, `relative_errors` and the status of pinn.status. The
    run's figures and summary lines are those of the report kind named by `report`.

    Constructors only validate and store; anything expensive belongs in `solve_reference` (or
    another lazily computed, cached value).

    A problem built from its config (`build_problem`) keeps the config's parameters in `arguments`;
    they, less the `training_only` ones, key its reference in the on-disk cache
    (pinn.reference.cache), together with a hash of the files in `reference_sources()`.
    """

    name: ClassVar[str]
    stages: ClassVar[tuple[str, ...]]
    # relative eigenvalue accuracy a run is judged by when `tolerance` is not set
    default_tolerance: ClassVar[float]
    # the kind of report its runs produce: a key of pinn.problems.registry.REPORTS
    report: ClassVar[str]

    def tolerance(self) -> float:
        """The default relative eigenvalue tolerance for these parameters."""
        return self.default_tolerance

    # config keys that shape the training but not the reference (left out of the cache key)
    training_only: ClassVar[frozenset[str]] = frozenset()
    arguments: dict[str, Any] | None = None

    def reference(self, cache: ReferenceCache | None = None) -> Any:
        """The independent reference for these parameters, on the first call loaded from `cache`
        or solved (and then stored there); `reference_lookup` says which, and how long it took."""
        if "_reference" not in self.__dict__:
            parameters = self.reference_parameters()
            if cache is None or parameters is None:
                why = "caching is off" if cache is None else "built without its config's parameters"
                value, lookup = solve_uncached(self.solve_reference, why)
            else:
                key = entry_key(parameters, code_version(self.reference_sources()))
                value, lookup = cache.obtain(key, self.solve_reference)
            self.__dict__["_reference"], self.__dict__["reference_lookup"] = value, lookup
        return self.__dict__["_reference"]

    def reference_parameters(self) -> dict[str, Any] | None:
        """What the reference depends on: the configured parameters less the training-only ones;
        None for a problem built without its config (it is then never cached)."""
        if self.arguments is None:
            return None
        return {k: v for k, v in self.arguments.items() if k not in self.training_only}

    def misplaced_states(self, model: nn.Module) -> list[int]:
        """The states that an independent count (never the reference) shows on a higher level
        than their index; none by default."""
        return []

    def states_placed(self, model: nn.Module) -> bool | None:
        """Whether every state lies near its own level and no other, by an independent count (never
        the reference): a variational warm-up may then end (`Phase.until_placed`). None: the
        problem cannot tell, and the warm-up runs all its steps."""
        return None

    def restart_state(self, model: nn.Module, state: int) -> tuple[nn.Module, Callable[[], torch.Tensor]]:
        """Set `state`'s eigenvalue to the independent estimate of its level and return the network
        to refit and the residual rows of the fit to that estimate's eigenfunction (the training
        side fits it: pinn.training.restart). Only problems with `misplaced_states` have one."""
        raise NotImplementedError(f"{self.name} cannot restart a state")

    def reference_sources(self) -> list[Path]:
        """The code (and data) the reference is computed by: its family's folder and
        pinn/reference; a change to any of these files makes the cached entries stale."""
        package = Path(__file__).resolve().parent.parent
        return [Path(inspect.getfile(type(self))).resolve().parent, package / "reference"]

    @abstractmethod
    def solve_reference(self) -> Any:
        """Solve the reference (numpy/scipy/Cantera; pinn.reference). A parameter set that has no
        solution (a flame that does not fit its domain) is a ConfigError here."""

    @abstractmethod
    def evaluate(self, model: nn.Module, reference: Any, criteria: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """(metrics, arrays) of the trained model against the reference, judged by `criteria`
        (pinn.status.Criteria); arrays are what the report draws (solution.npz)."""

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

    def estimate(self, model: nn.Module) -> Mapping[str, float] | None:
        """The relative error of each eigenvalue (by observable name) estimated from the trained
        model alone, never from the reference; training goes on while one exceeds the tolerance
        (pinn.training.refine). None: the problem has no such estimate."""
        return None

    def settle_scales(self, model: nn.Module, loss_terms: Callable[[], Mapping[str, Any]]) -> dict[str, float] | None:
        """The standard error of each inferred observable (by its name in `observables`), given the
        loss terms of the last stage: a phase that could end early goes on while one of them still
        moves by more than ENDING_STD of it (pinn.training.phase). None: the problem infers nothing."""
        return None

    def start_stage(self, model: nn.Module, stage: str) -> None:
        """Called when a training phase of this stage begins afresh (not on resuming inside it)."""

    def part_estimates(self, model: nn.Module) -> list[str] | None:
        """The name (in `estimate`) of the estimate that judges each part of `parts`, in the order of
        the parts' indices; a Levenberg-Marquardt phase stops stepping a part once its own estimate
        is well within the tolerance. None: no part has its own."""
        return None

    def parts(self, model: nn.Module) -> dict[str, torch.Tensor] | None:
        """Independent sub-problems of the loss, as the index of the part that owns each parameter
        entry (label tensors shaped like the parameters); then `loss_terms(..., part=k)` returns
        the terms of part k alone (in every stage), and Levenberg-Marquardt and L-BFGS phases
        solve the parts separately. None: the loss is one problem."""
        return None


def state_estimates(model: nn.Module) -> list[str] | None:
    """The estimate of each part of `owners_by_state`: state j's eigenvalue, E<j>."""
    return [f"E{j}" for j in range(len(model.states))] if len(model.states) >= 2 else None


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
