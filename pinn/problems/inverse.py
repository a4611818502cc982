"""The inverse problems' shared layer: unknown physical parameters, observations (drawn from the
reference with a seed, or read from a CSV file), their validation, the data misfit rows, the
uncertainty of what is inferred, and the `inferred` block of metrics.json.

A problem becomes inverse by mixing in `InverseProblem` (before its forward class) and declaring

* `unknown_parameters()`: the `Unknown`s (name, starting value, truth, unit);
* `observed_fields()`: the `ObservedField`s (name, unit, how its misfit is measured);
* `exact_observations(reference, count)`: where the reference is observed and what it shows there;
* `predict(model, x)`: the model's value of each observed field at the positions x (the
  observation operator, differentiable; it is always evaluated plainly at a point before its
  Jacobian there, so it may solve for something and reuse that under the transform),

and calling `check_inverse(...)` in its constructor and `read_observation_file()` at its end; its
forward problem provides `eigenvalue(model)`. Everything else is here: the observations
(synthesized lazily from the reference, once), the misfit rows in units of the noise (`misfits`;
a problem may measure them its own way), the tolerance, the covariance of the unknowns
(`uncertainty`, see pinn.numerics.uncertainty) with each value's standard error and 95% interval,
the inferred block and the arrays the report draws.

Unknowns are log-parametrized, p = p_start exp(log_p): positive, and a step in log_p is a relative
step whatever p's magnitude.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from pinn.errors import ConfigError
from pinn.numerics.uncertainty import columns_of, noise_scale, parameter_jacobian, profile
from pinn.problems.base import check_count, evaluated, check_number

# each observation is a row of the Levenberg-Marquardt Jacobian: more would not fit in memory
MAX_OBSERVATIONS = 10000
# settings of the observations, not of the physics: the forward reference does not depend on them
OBSERVATION_SETTINGS = frozenset({"n_observations", "noise", "noise_seed", "observations", "data_weight"})
# the noise level the misfit is measured in never drops below this (noise-free data still have
# the model's own approximation error)
NOISE_FLOOR = 0.005
Z95 = 1.959963984540054  # the two-sided 95% point of the standard normal


@dataclass(frozen=True)
class Unknown:
    """An unknown parameter. `name` is the problem parameter whose value is the truth; `start` and
    `true` are in the model's units, `report_scale` turns them into the reported `unit`; `label`
    is the name it is logged under; `reported` false for a nuisance parameter (a data offset)."""

    name: str
    start: float
    true: float | None
    unit: str
    label: str | None = None
    report_scale: float = 1.0
    reported: bool = True


@dataclass(frozen=True)
class ObservedField:
    """An observed field and how its misfit is measured: relative, (pred - obs) / (|obs| + floor),
    or logarithmic, log(pred / obs); fields with the same `term` form one block of rows (each
    observation's fields in turn)."""

    name: str
    unit: str
    floor: float = 0.0
    log: bool = False
    term: str | None = None

    @property
    def term_name(self) -> str:
        return self.term or f"data_{self.name}"


@dataclass(frozen=True)
class Observations:
    x: np.ndarray                    # positions, m
    values: dict[str, np.ndarray]    # observed field -> values at x
    source: str

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]


def attach_unknowns(model: nn.Module, starts: Mapping[str, float]) -> None:
    """Give a model the unknowns p = start exp(log_p): a buffer `<name>_start` and a parameter
    `log_<name>` (zero) each."""
    for name, start in starts.items():
        model.register_buffer(f"{name}_start", torch.tensor(float(start), dtype=torch.float64))
        setattr(model, f"log_{name}", nn.Parameter(torch.zeros((), dtype=torch.float64)))


def unknown_value(model: nn.Module, name: str) -> torch.Tensor:
    return getattr(model, f"{name}_start") * torch.exp(getattr(model, f"log_{name}"))


def synthesize(x: np.ndarray, exact: Mapping[str, np.ndarray], groups: Sequence[Sequence[str]], noise: float,
               seed: int, source: str) -> Observations:
    """The exact values times (1 + noise N(0, 1)), drawn from one seeded generator group by group
    (each group one (n, len(group)) draw, in order)."""
    rng = np.random.default_rng(seed)
    values = {}
    for group in groups:
        block = np.stack([exact[name] for name in group], axis=-1)
        block = block * (1.0 + noise * rng.standard_normal(block.shape))
        values.update({name: block[:, k] for k, name in enumerate(group)})
    return Observations(np.asarray(x, dtype=float), values, f"{source} with {noise:g} relative noise, seed {seed}")


def read_observations(path: Any, fields: Sequence[str], domain: tuple[float, float]) -> Observations:
    """A CSV file with a header naming x (m) and every field; one observation per line."""
    columns = ("x", *fields)
    where = f"problem.observations={path}"
    wanted = f"a CSV file with columns {', '.join(columns)}"
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{where} must be the path of {wanted}")
    file = Path(path)
    if file.is_dir():
        raise ConfigError(f"{where} is a directory; give the path of {wanted}")
    if not file.is_file():
        raise ConfigError(f"{where}: no such file; give the path of {wanted}")
    try:
        with file.open(newline="") as handle:
            rows = []
            for row in csv.DictReader(handle):
                if len(rows) == MAX_OBSERVATIONS:
                    raise ConfigError(f"{where} holds more than {MAX_OBSERVATIONS} observations; "
                                      "thin it or average neighbouring points")
                rows.append(row)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{where} cannot be read ({type(exc).__name__}); it must be {wanted}") from None
    header = set(rows[0]) if rows else set()
    missing = [c for c in columns if c not in header]
    if missing:
        raise ConfigError(f"{where} has no column {missing[0]!r}; the header must name {', '.join(columns)}")
    values: dict[str, list[float]] = {c: [] for c in columns}
    for line, row in enumerate(rows, start=2):
        for c in columns:
            try:
                v = float(row[c])
            except (TypeError, ValueError):
                raise ConfigError(f"{where}, line {line}: {c}={row[c]!r} is not a number") from None
            if not math.isfinite(v):
                raise ConfigError(f"{where}, line {line}: {c}={v} is not finite")
            values[c].append(v)
    x = np.array(values["x"])
    if x.size < 3:
        raise ConfigError(f"{where} holds {x.size} observation(s); at least 3 are needed")
    low, high = domain
    if np.any(x < low) or np.any(x > high):
        raise ConfigError(f"{where}: x must lie in [{low:g}, {high:g}] m (x is in metres)")
    return Observations(x, {f: np.array(values[f]) for f in fields}, f"file {file}")


class InverseProblem:
    """Mixed into an inverse problem before its forward class (see the module docstring)."""

    n_observations: int
    noise: float
    noise_seed: int
    data_weight: float
    observations_path: str | None

    # ----- what an inverse problem declares ----------------------------------------------------
    def unknown_parameters(self) -> list[Unknown]:
        raise NotImplementedError

    def observed_fields(self) -> list[ObservedField]:
        raise NotImplementedError

    def noise_groups(self) -> list[tuple[str, ...]]:
        """The order in which synthetic noise is drawn (one draw per group): field by field."""
        return [(f.name,) for f in self.observed_fields()]

    def exact_observations(self, reference: Any, count: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Positions across the domain and the reference's value of every observed field there."""
        raise NotImplementedError

    def observation_domain(self) -> tuple[float, float]:
        raise NotImplementedError

    def predict(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    # ----- shared --------------------------------------------------------------------------------
    def check_inverse(self, n_observations: Any, noise: Any, noise_seed: Any, data_weight: Any,
                      observations: Any = None, max_count: int = MAX_OBSERVATIONS) -> None:
        self.n_observations = check_count("n_observations", n_observations, low=3, high=max_count)
        if noise is None and observations is None:
            raise ConfigError("problem.noise=null (not stated) needs measured data: give problem.observations=<csv>, "
                              "or a noise level to draw synthetic observations with")
        # not stated (null) or zero: the noise the misfit shows is used for the uncertainty
        self.noise = 0.0 if noise is None else check_number("noise", noise, low=0.0, high=0.5, low_inclusive=True,
                                                            what="relative noise level")
        self.noise_seed = check_count("noise_seed", noise_seed, low=0, high=2**32 - 1)
        self.data_weight = check_number("data_weight", data_weight, low=0.0, what="weight of the data misfit")
        if observations is not None and (not isinstance(observations, str) or not observations):
            raise ConfigError(f"problem.observations={observations!r} must be the path of a CSV file or null")
        self.observations_path = observations

    def read_observation_file(self) -> None:
        """Read and check a given observation file now (at the end of the constructor), so a bad
        file is reported before anything runs; drawn observations wait for the reference."""
        if self.observations_path is not None:
            fields = [f.name for f in self.observed_fields()]
            self.__dict__["_data"] = read_observations(self.observations_path, fields, self.observation_domain())

    def reference_parameters(self) -> dict[str, Any] | None:
        """The forward reference at the true parameters: the observation settings and the starting
        guesses (`initial_*`) leave it unchanged, so every noise draw shares one cache entry, and
        so does the forward problem at the same parameters when it solves its reference the same way."""
        parameters = super().reference_parameters()  # type: ignore[misc]
        if parameters is None:
            return None
        parameters = {k: v for k, v in parameters.items()
                      if k not in OBSERVATION_SETTINGS and not k.startswith("initial_")}
        forward = next((c for c in type(self).__mro__[1:] if "name" in vars(c)), None)
        if forward is not None and forward.solve_reference is type(self).solve_reference \
                and forward.reference_sources is type(self).reference_sources:
            parameters["name"] = forward.name
        return parameters

    @property
    def sigma(self) -> float:
        """The relative noise level the misfit is measured in."""
        return max(self.noise, NOISE_FLOOR)

    def tolerance(self) -> float:
        """The eigenvalue inferred from data with relative noise `noise` is judged against the
        larger of the forward default tolerance and that noise level."""
        return max(super().tolerance(), self.noise)  # type: ignore[misc]

    @property
    def data(self) -> Observations:
        """The observations: read from the file, or drawn from the reference (solved for it if
        not yet) with the seed; computed once."""
        if "_data" not in self.__dict__:
            x, exact = self.exact_observations(self.reference(), self.n_observations)  # type: ignore[attr-defined]
            self.__dict__["_data"] = synthesize(x, exact, self.noise_groups(), self.noise, self.noise_seed,
                                                self.reference_name())
        return self.__dict__["_data"]

    def reference_name(self) -> str:
        return "the reference"

    def misfits(self, model: nn.Module, like: torch.Tensor) -> dict[str, torch.Tensor]:
        """Misfit rows in units of the noise, per block: log(pred / obs) / sigma or
        (pred - obs) / (sigma (|obs| + floor)) for each field at each observed position."""
        data = self.data
        as_t = lambda a: torch.as_tensor(a, device=like.device, dtype=like.dtype)  # noqa: E731
        predicted = self.predict(model, as_t(data.x))
        blocks: dict[str, list[torch.Tensor]] = {}
        for field in self.observed_fields():
            pred, obs = predicted[field.name], as_t(data[field.name])
            misfit = torch.log(pred / obs) if field.log else (pred - obs) / (obs.abs() + field.floor)
            blocks.setdefault(field.term_name, []).append(misfit / self.sigma)
        return {term: (rows[0] if len(rows) == 1 else torch.stack(rows, dim=-1).reshape(-1))
                for term, rows in blocks.items()}

    def data_terms(self, model: nn.Module, like: torch.Tensor) -> dict[str, torch.Tensor]:
        """The loss's data blocks: the misfits times data_weight / sqrt(n)."""
        scale = self.data_weight / math.sqrt(self.data.x.size)
        return {term: rows * scale for term, rows in self.misfits(model, like).items()}

    def uncertainty(self, model: nn.Module, loss_terms: Callable[[], Mapping[str, Any]]) -> Uncertainty:
        """The covariance of the unknowns with the network profiled out (pinn.numerics.uncertainty):
        the non-data rows of `loss_terms()` as the constraints, the misfits as the data, and the
        forward problem's `eigenvalue(model)` (differentiable, in its reported unit) as the
        derived quantity."""
        like = next(model.parameters())
        data_terms = {f.term_name for f in self.observed_fields()}

        def equation_rows() -> torch.Tensor:
            rows = []
            for name, term in evaluated(loss_terms()).items():
                if name not in data_terms and term.dim() > 0:
                    rows.append(term.reshape(-1))
            return torch.cat(rows)

        def data_rows() -> torch.Tensor:
            return torch.cat([rows.reshape(-1) for rows in self.misfits(model, like).values()])

        names = {f"log_{u.name}": u.name for u in self.unknown_parameters()}
        with torch.no_grad():  # before the Jacobians: predict is evaluated plainly first (see above)
            ratio = noise_scale(data_rows(), len(names))
        J_e, columns = parameter_jacobian(model, equation_rows)
        J_d, _ = parameter_jacobian(model, data_rows)
        J_q, _ = parameter_jacobian(model, lambda: self.eigenvalue(model).reshape(1))
        mask = columns_of(columns, names)
        order = [names[c.rsplit(".", 1)[-1]] for c, m in zip(columns, mask.tolist()) if m]
        profiled = profile(J_e, J_d, J_q, mask.to(J_e.device))
        estimated = ratio * self.sigma
        used = self.noise if self.noise > 0 else estimated
        factor = (used / self.sigma) ** 2
        covariance = (profiled.covariance * factor).double().cpu().numpy()
        return Uncertainty(order, covariance, float(profiled.derived_variances()[0]) * factor,
                           self.noise if self.noise > 0 else None, estimated, used, int(J_d.shape[0]))

    def unknown_observables(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The unknowns to log every step, under their labels, in the reported units."""
        return {u.label or u.name: (unknown_value(model, u.name) * u.report_scale).detach()
                for u in self.unknown_parameters() if u.reported}

    def inferred(self, model: nn.Module, eigenvalue: tuple[str, float, float, str],
                 uncertainty: Uncertainty | None = None) -> dict[str, dict[str, Any]]:
        """metrics.json's `inferred` block: the eigenvalue (name, value, reference value, unit) and
        every reported unknown, each with its value, true value, relative error and unit, and
        with `uncertainty` its standard error `std` and 95% `interval` (an unknown's from its
        logarithm, so always positive; the eigenvalue's symmetric)."""
        name, value, true, unit = eigenvalue
        block = {name: _inferred(value, true, unit)}
        if uncertainty is not None:
            std = math.sqrt(max(uncertainty.eigenvalue_variance, 0.0))
            block[name].update(std=std, interval=[value - Z95 * std, value + Z95 * std])
        for u in self.unknown_parameters():
            if u.reported:
                found = float(unknown_value(model, u.name).detach()) * u.report_scale
                block[u.name] = _inferred(found, None if u.true is None else u.true * u.report_scale, u.unit)
                if uncertainty is not None:
                    log_std = uncertainty.log_std(u.name)
                    spread = math.exp(min(Z95 * log_std, 700.0))  # beyond: the data do not bound it
                    block[u.name].update(std=found * log_std, log_std=log_std, interval=[found / spread, found * spread])
        return block

    def observation_arrays(self) -> dict[str, np.ndarray]:
        """The observations as the report draws them: obs_x and obs_<field>."""
        return {"obs_x": self.data.x, **{f"obs_{name}": v for name, v in self.data.values.items()}}

    def starts(self) -> dict[str, float]:
        return {u.name: u.start for u in self.unknown_parameters()}


def _inferred(value: float, true: float | None, unit: str) -> dict[str, Any]:
    item: dict[str, Any] = {"value": value, "true": true, "unit": unit}
    if true is not None:
        item["relative_error"] = abs(value / true - 1.0)
    return item


def inverse_results(problem: Any, model: nn.Module, eigenvalue: tuple[str, float, float, str],
                    criteria: Any = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The inverse part of an evaluation, for any problem: (metrics: `inferred`, the source of the
    `observations`, the `noise` stated, estimated and used, and the `correlation` of the
    unknowns; arrays: the observations), both empty for a forward problem. Without the final
    loss terms in `criteria` there is no covariance, and no std or interval."""
    if not isinstance(problem, InverseProblem):
        return {}, {}
    terms = getattr(criteria, "loss_terms", None)
    uncertainty = problem.uncertainty(model, terms) if terms is not None else None
    metrics: dict[str, Any] = {"inferred": problem.inferred(model, eigenvalue, uncertainty),
                               "observations": problem.data.source}
    if uncertainty is not None:
        metrics.update(uncertainty.as_metrics())
    return metrics, problem.observation_arrays()


@dataclass(frozen=True)
class Uncertainty:
    """The covariance of the unknowns' logarithms (`names` in order) at the noise level `noise_used`
    (the stated one, or the one estimated from the misfit when none is stated), and the variance
    of the eigenvalue; `rows` observations' worth of data rows."""

    names: list[str]
    covariance: np.ndarray
    eigenvalue_variance: float
    noise_stated: float | None
    noise_estimated: float
    noise_used: float
    rows: int

    def log_std(self, name: str) -> float:
        k = self.names.index(name)
        return math.sqrt(max(float(self.covariance[k, k]), 0.0))

    def as_metrics(self) -> dict[str, Any]:
        std = np.sqrt(np.clip(np.diag(self.covariance), 0.0, None))
        with np.errstate(invalid="ignore", divide="ignore"):
            correlation = self.covariance / np.outer(std, std)
        return {"noise": {"stated": self.noise_stated, "estimated": self.noise_estimated, "used": self.noise_used,
                          "data_rows": self.rows},
                "correlation": {"names": self.names, "matrix": np.nan_to_num(correlation).tolist()}}
