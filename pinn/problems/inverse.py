"""The inverse problems' shared layer: unknown physical parameters, their observations
(pinn.problems.observations), the data misfit rows, the uncertainty of what is inferred, and the
`inferred` block of metrics.json.

A problem becomes inverse by mixing in `InverseProblem` (before its forward class) and declaring

* `unknown_parameters()`: the `Unknown`s (name, starting value, truth, unit);
* `observed_fields()`: the `ObservedField`s (name, unit, how its misfit is measured);
* `exact_observations(reference, count)`: where the reference is observed and what it shows there;
* `start_fields()` (optional): the observed fields its starting guesses are read from;
* `predict(model, x)`: the model's value of each observed field at the positions x (the
  observation operator, differentiable; it is always evaluated plainly at a point before its
  Jacobian there, so it may solve for something and reuse that under the transform),

and calling `check_inverse(...)` in its constructor and `read_observation_file()` at its end; its
forward problem provides `eigenvalue(model)`. Everything else is here: the observations
(synthesized lazily from the reference, once), the misfit rows in units of the noise (`misfits`;
a problem may measure them its own way), the tolerance, the covariance of the unknowns
(`uncertainty`, see pinn.numerics.uncertainty) with each value's standard error and 95% interval,
the inferred block and the arrays the report draws. Each data row is measured in its value's
noise: the one the observation file states for it, else the run's `noise`.

Unknowns are log-parametrized, p = p_start exp(log_p): positive, and a step in log_p is a relative
step whatever p's magnitude.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from pinn.errors import ConfigError
from pinn.numerics.uncertainty import (Profiled, columns_of, interval_check, noise_scale, parameter_jacobian,
                                      profile)
from pinn.problems.base import check_count, evaluated, check_number
from pinn.problems.observations import MAX_OBSERVATIONS, Observations, read_observations, synthesize
from pinn.status import Check, interval_checks, record

# settings of the observations, not of the physics: the forward reference does not depend on them
OBSERVATION_SETTINGS = frozenset({"n_observations", "noise", "noise_seed", "observations", "data_weight"})
# the noise level the misfit is measured in never drops below this (noise-free data still have
# the model's own approximation error)
NOISE_FLOOR = 0.005
# a noise level estimated below this (data the model fits exactly) is taken at it
MIN_NOISE = 1e-9
Z95 = 1.959963984540054  # the two-sided 95% point of the standard normal


@dataclass(frozen=True)
class MisfitBlock:
    """One block of data rows (one term): the observed values of `fields`, position by position
    and each position's fields in turn; `index` their places in that (positions, fields) table,
    `sigma` the noise each row is divided by (the stated one, or `InverseProblem.assumed_noise`,
    never below NOISE_FLOOR) and `stated` the one the observation file states (NaN where none)."""

    term: str
    fields: tuple[ObservedField, ...]
    index: np.ndarray
    sigma: np.ndarray
    stated: np.ndarray


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


def attach_unknowns(model: nn.Module, starts: Mapping[str, float]) -> None:
    """Give a model the unknowns p = start exp(log_p): a buffer `<name>_start` and a parameter
    `log_<name>` (zero) each."""
    for name, start in starts.items():
        model.register_buffer(f"{name}_start", torch.tensor(float(start), dtype=torch.float64))
        setattr(model, f"log_{name}", nn.Parameter(torch.zeros((), dtype=torch.float64)))


def unknown_value(model: nn.Module, name: str) -> torch.Tensor:
    return getattr(model, f"{name}_start") * torch.exp(getattr(model, f"log_{name}"))


class InverseProblem:
    """Mixed into an inverse problem before its forward class (see the module docstring)."""

    n_observations: int
    max_observations: int
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

    def start_fields(self) -> tuple[str, ...]:
        """The observed fields the starting guesses are read from: an observation file must have them."""
        return ()

    def position_unit(self) -> str:
        """The unit of the observations' positions x."""
        return "metres"

    def predict(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    # ----- shared --------------------------------------------------------------------------------
    def check_inverse(self, n_observations: Any, noise: Any, noise_seed: Any, data_weight: Any,
                      observations: Any = None, max_count: int = MAX_OBSERVATIONS) -> None:
        self.n_observations = check_count("n_observations", n_observations, low=3, high=max_count)
        self.max_observations = max_count
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
            self.__dict__["_data"] = read_observations(self.observations_path, fields, self.observation_domain(),
                                                       self.start_fields(), self.max_observations,
                                                       self.position_unit())

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

    def _file_noise(self) -> float | None:
        """The median of the noise an observation file states for its values; None without any."""
        if self.observations_path is None:
            return None
        stated = [v[np.isfinite(v)] for v in self.data.noise.values()]
        return float(np.median(np.concatenate(stated))) if any(v.size for v in stated) else None

    def assumed_noise(self) -> float:
        """The noise of a value the file states none for: the run's `noise`, else the median of the
        noise the file states for its other values; 0 when neither is stated (the level is then
        estimated from the misfit)."""
        return self.noise if self.noise > 0 else (self._file_noise() or 0.0)

    @property
    def sigma(self) -> float:
        """The relative noise level the misfit of a value without a stated noise is measured in."""
        return max(self.assumed_noise(), NOISE_FLOOR)

    def stated_noise(self) -> float:
        """The noise level the data are stated to have: the run's `noise`, or the median of the
        noise an observation file states for its values, whichever is larger; 0 when neither is."""
        return max(self.noise, self._file_noise() or 0.0)

    def tolerance(self) -> float:
        """The eigenvalue inferred from noisy data is judged against the larger of the forward
        default tolerance and the stated noise level."""
        return max(super().tolerance(), self.stated_noise())  # type: ignore[misc]

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

    def misfit_blocks(self) -> list[MisfitBlock]:
        """The data rows' layout: one block per term with an observed value, computed once."""
        if "_blocks" not in self.__dict__:
            data, grouped = self.data, {}
            for f in self.observed_fields():
                grouped.setdefault(f.term_name, []).append(f)
            blocks = []
            for term, fields in grouped.items():
                index = np.flatnonzero(np.stack([data.observed(f.name) for f in fields], axis=-1).ravel())
                stated = np.stack([data.stated_noise(f.name) for f in fields], axis=-1).ravel()[index]
                sigma = np.maximum(np.where(np.isnan(stated), self.assumed_noise(), stated), NOISE_FLOOR)
                if index.size:
                    blocks.append(MisfitBlock(term, tuple(fields), index, sigma, stated))
            self.__dict__["_blocks"] = blocks
        return self.__dict__["_blocks"]

    def misfits(self, model: nn.Module, like: torch.Tensor) -> dict[str, torch.Tensor]:
        """Misfit rows in units of the noise, per block: log(pred / obs) / sigma or
        (pred - obs) / (sigma (|obs| + floor)) for each observed value, position by position."""
        data = self.data
        as_t = lambda a: torch.as_tensor(a, device=like.device, dtype=like.dtype)  # noqa: E731
        predicted = self.predict(model, as_t(data.x))
        result = {}
        for block in self.misfit_blocks():
            table = []
            for f in block.fields:
                pred = predicted[f.name]
                obs = as_t(np.nan_to_num(data[f.name], nan=1.0))  # a finite stand-in where unobserved, dropped below
                table.append(torch.log(pred / obs) if f.log else (pred - obs) / (obs.abs() + f.floor))
            rows = torch.stack(table, dim=-1).reshape(-1)[torch.as_tensor(block.index, device=like.device)]
            result[block.term] = rows / as_t(block.sigma)
        return result

    def data_terms(self, model: nn.Module, like: torch.Tensor) -> dict[str, torch.Tensor]:
        """The loss's data blocks: the misfits times data_weight / sqrt(n)."""
        scale = self.data_weight / math.sqrt(self.data.x.size)
        return {term: rows * scale for term, rows in self.misfits(model, like).items()}

    def uncertainty(self, model: nn.Module, loss_terms: Callable[[], Mapping[str, Any]],
                    check: bool = True) -> Uncertainty:
        """The covariance of the unknowns with the network profiled out (pinn.numerics.uncertainty):
        the non-data rows of `loss_terms()` as the constraints, the misfits as the data, and the
        forward problem's `eigenvalue(model)` (differentiable, in its reported unit) as the
        derived quantity. Each data row is taken at its value's noise: the one the file states,
        else the run's `noise`, else the median the file states for the others (the weights the
        training used), else the level the misfit of the rows without a stated noise shows. `check`:
        with the profile check of the least determined unknown's interval (`_interval_check`)."""
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
        blocks = self.misfit_blocks()
        sigma, stated = (np.concatenate([getattr(b, k) for b in blocks]) for k in ("sigma", "stated"))
        unstated = np.isnan(stated)
        with torch.no_grad():  # before the Jacobians: predict is evaluated plainly first (see above)
            rows = data_rows().cpu().numpy()
        estimated = noise_scale(torch.as_tensor(rows[unstated]), len(names)) * self.sigma if unstated.any() else None
        assumed = self.assumed_noise()
        used = (assumed or estimated) if unstated.any() else None
        source = "misfit" if not assumed else ("stated" if self.noise > 0 else "file")
        noise = np.where(unstated, used if used is not None else np.nan, stated)
        weight = torch.as_tensor(sigma / np.maximum(noise, MIN_NOISE), device=like.device, dtype=like.dtype)
        J_e, columns = parameter_jacobian(model, equation_rows)
        J_d, _ = parameter_jacobian(model, data_rows)
        J_q, _ = parameter_jacobian(model, lambda: self.eigenvalue(model).reshape(1))
        mask = columns_of(columns, names)
        order = [names[c.rsplit(".", 1)[-1]] for c, m in zip(columns, mask.tolist()) if m]
        profiled = profile(J_e, J_d * weight[:, None], J_q, mask.to(J_e.device))
        from_file = tuple(f.name for f in self.observed_fields() if f.name in self.data.noise)
        interval = self._interval_check(model, equation_rows, lambda: data_rows() * weight, profiled,
                                        mask.to(J_e.device), order) if check else None
        return Uncertainty(order, profiled.covariance.double().cpu().numpy(), float(profiled.derived_variances()[0]),
                           self.noise if self.noise > 0 else None, estimated, used, source, from_file,
                           noise_scale(torch.as_tensor(rows * weight.cpu().numpy()), len(names)), int(J_d.shape[0]),
                           interval)

    def _interval_check(self, model: nn.Module, equation_rows: Callable[[], torch.Tensor],
                        weighted_rows: Callable[[], torch.Tensor], profiled: Profiled, mask: torch.Tensor,
                        order: list[str]) -> dict[str, Any] | None:
        """The profile check of the intervals (pinn.numerics.uncertainty.interval_check) on the
        least determined reported unknown."""
        reported = {u.name for u in self.unknown_parameters() if u.reported}
        variances = torch.diagonal(profiled.covariance)
        candidates = [k for k, name in enumerate(order) if name in reported and torch.isfinite(variances[k])
                      and variances[k] > 0]
        if not candidates:
            return None
        k = max(candidates, key=lambda j: float(variances[j]))
        return {"unknown": order[k], **interval_check(model, weighted_rows, equation_rows, profiled.covariance, mask,
                                                      k, Z95)}

    def settle_scales(self, model: nn.Module, loss_terms: Callable[[], Mapping[str, Any]]) -> dict[str, float]:
        """Each reported unknown's standard error by its logged label, in its reported unit (the
        covariance of `uncertainty`, without the profile check)."""
        uncertainty = self.uncertainty(model, loss_terms, check=False)
        return {u.label or u.name: abs(float(self.reported(model, u))) * uncertainty.log_std(u.name)
                for u in self.unknown_parameters() if u.reported}

    @staticmethod
    def reported(model: nn.Module, unknown: Unknown) -> torch.Tensor:
        """The unknown's value in its reported unit."""
        return (unknown_value(model, unknown.name) * unknown.report_scale).detach()

    def unknown_observables(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The unknowns to log every step, under their labels, in the reported units."""
        return {u.label or u.name: self.reported(model, u) for u in self.unknown_parameters() if u.reported}

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
                found = float(self.reported(model, u))
                block[u.name] = _inferred(found, None if u.true is None else u.true * u.report_scale, u.unit)
                if uncertainty is not None:
                    log_std = uncertainty.log_std(u.name)
                    spread = math.exp(min(Z95 * log_std, 700.0))  # beyond: the data do not bound it
                    block[u.name].update(std=found * log_std, log_std=log_std, interval=[found / spread, found * spread])
        return block

    def observation_arrays(self, noise_used: float | None = None) -> dict[str, np.ndarray]:
        """The observations as the report draws them: obs_x, and for each observed field
        obs_<field> (NaN where not observed) and obs_<field>_noise, the relative noise of each
        value (the file's, else `noise_used`; NaN where neither is known)."""
        data, arrays = self.data, {"obs_x": self.data.x}
        for name, values in data.values.items():
            if data.observed(name).any():
                stated = data.stated_noise(name)
                arrays[f"obs_{name}"] = values
                arrays[f"obs_{name}_noise"] = np.where(np.isnan(stated), np.nan if noise_used is None else noise_used,
                                                       stated)
        return arrays

    def starts(self) -> dict[str, float]:
        return {u.name: u.start for u in self.unknown_parameters()}


def _inferred(value: float, true: float | None, unit: str) -> dict[str, Any]:
    item: dict[str, Any] = {"value": value, "true": true, "unit": unit}
    if true is not None:
        item["relative_error"] = abs(value / true - 1.0)
    return item


def inverse_results(problem: Any, model: nn.Module, eigenvalue: tuple[str, float, float, str],
                    criteria: Any = None, checks: Sequence[Mapping[str, Any]] = ()) -> tuple[dict[str, Any],
                                                                                           dict[str, np.ndarray]]:
    """The inverse part of an evaluation, for any problem: (metrics: `inferred`, the source of the
    `observations`, the `noise` stated, estimated and used, and the `correlation` of the
    unknowns; arrays: the observations), both empty for a forward problem. Without the final
    loss terms in `criteria` there is no covariance, and no std or interval. With a covariance,
    the forward evaluation's `checks` and those of the intervals (`interval_checks`) decide the
    status again (metrics `status`, `status_detail`, `checks`)."""
    if not isinstance(problem, InverseProblem):
        return {}, {}
    terms = getattr(criteria, "loss_terms", None)
    uncertainty = problem.uncertainty(model, terms) if terms is not None else None
    metrics: dict[str, Any] = {"inferred": problem.inferred(model, eigenvalue, uncertainty),
                               "observations": problem.data.source}
    if uncertainty is not None:
        metrics.update(uncertainty.as_metrics())
        final = getattr(criteria, "final", None)
        labels = {u.name: u.label or u.name for u in problem.unknown_parameters()}
        record(metrics, [*(Check(**c) for c in checks),
                         *interval_checks(metrics["inferred"], labels, uncertainty.interval_check, final)])
        return metrics, problem.observation_arrays(uncertainty.noise_used)
    return metrics, problem.observation_arrays(problem.assumed_noise() or None)


@dataclass(frozen=True)
class Uncertainty:
    """The covariance of the unknowns' logarithms (`names` in order) and the variance of the
    eigenvalue, each data row taken at its value's noise: stated in the observation file for the
    fields `noise_from_file`, else `noise_used`, from `noise_used_from`: "stated" (the run's
    `noise_stated`), "file" (the median the file states for the other values) or "misfit"
    (`noise_estimated`, the level the misfit of the values without a stated noise shows).
    `misfit_rms`: the data misfit in units of that noise (about 1 when the noise is right); `rows`
    data rows; `interval_check`: how the misfit rises at the ends of the least determined
    unknown's interval (`InverseProblem._interval_check`)."""

    names: list[str]
    covariance: np.ndarray
    eigenvalue_variance: float
    noise_stated: float | None
    noise_estimated: float | None
    noise_used: float | None
    noise_used_from: str
    noise_from_file: tuple[str, ...]
    misfit_rms: float
    rows: int
    interval_check: dict[str, Any] | None = None

    def log_std(self, name: str) -> float:
        k = self.names.index(name)
        return math.sqrt(max(float(self.covariance[k, k]), 0.0))

    def as_metrics(self) -> dict[str, Any]:
        std = np.sqrt(np.clip(np.diag(self.covariance), 0.0, None))
        with np.errstate(invalid="ignore", divide="ignore"):
            correlation = self.covariance / np.outer(std, std)
        return {"noise": {"stated": self.noise_stated, "estimated": self.noise_estimated, "used": self.noise_used,
                          "used_from": self.noise_used_from,
                          "from_file": list(self.noise_from_file), "misfit_rms": self.misfit_rms,
                          "data_rows": self.rows},
                "correlation": {"names": self.names, "matrix": np.nan_to_num(correlation).tolist()},
                "interval_check": self.interval_check}
