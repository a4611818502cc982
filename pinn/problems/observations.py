"""Observations of an inverse problem: drawn from the reference with a seed, or read from a CSV file.

A file holds one position per line. Its header names `x` (within the problem's domain; m for the
flames) and any of the problem's observed fields (those its starting guesses are read from must
be there), each optionally with a column `sigma_<field>`: the relative standard deviation of that
line's value (0 < sigma <= 1; a value with none is taken at the run's `noise`, or at the level
the misfit shows when that is not stated). An empty cell is a quantity not observed at that
position.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from pinn.errors import ConfigError

# each observation is a row of the Levenberg-Marquardt Jacobian: more would not fit in memory
MAX_OBSERVATIONS = 10000
NOISE_PREFIX = "sigma_"


@dataclass(frozen=True)
class Observations:
    """`values[name]` at the positions `x` (m), NaN where the field was not observed there;
    `noise[name]` the relative standard deviation stated for each value (NaN where none is; a
    field without any stated noise has no entry)."""

    x: np.ndarray
    values: dict[str, np.ndarray]
    source: str
    noise: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]

    def observed(self, *names: str) -> np.ndarray:
        """Mask of the positions where every one of `names` was observed."""
        mask = np.ones(self.x.shape, dtype=bool)
        for name in names:
            mask &= np.isfinite(self.values[name])
        return mask

    def stated_noise(self, name: str) -> np.ndarray:
        return self.noise.get(name, np.full(self.x.shape, np.nan))


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


def read_observations(path: Any, fields: Sequence[str], domain: tuple[float, float],
                      needed: Sequence[str] = (), max_count: int = MAX_OBSERVATIONS,
                      x_unit: str = "metres") -> Observations:
    """The observations of `fields` in the CSV file at `path` (see the module docstring); `needed`:
    the fields the file must have a column for; at most `max_count` lines; x in `x_unit`."""
    where = f"problem.observations={path}"
    names = ", ".join(fields)
    wanted = f"a CSV file with a header x and any of {names} (each optionally with sigma_<field>)"
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{where} must be the path of {wanted}")
    file = Path(path)
    if file.is_dir():
        raise ConfigError(f"{where} is a directory; give the path of {wanted}")
    if not file.is_file():
        raise ConfigError(f"{where}: no such file; give the path of {wanted}")
    try:
        with file.open(newline="") as handle:
            reader = csv.DictReader(handle)
            header = [c.strip() for c in reader.fieldnames or [] if c.strip()]  # a trailing comma names nothing
            rows = []
            for row in reader:
                if len(rows) == max_count:
                    raise ConfigError(f"{where} holds more than {max_count} observations; "
                                      "thin it or average neighbouring points")
                rows.append({k.strip(): v for k, v in row.items() if isinstance(k, str)})
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{where} cannot be read ({type(exc).__name__}); it must be {wanted}") from None
    present = _check_header(header, fields, needed, where)
    x, values, noise = _parse(rows, present, where)
    if x.size < 3:
        raise ConfigError(f"{where} holds {x.size} observation(s); at least 3 are needed")
    low, high = domain
    if np.any(x < low) or np.any(x > high):
        raise ConfigError(f"{where}: x must lie in [{low:g}, {high:g}] (x is in {x_unit})")
    nothing = np.full(x.shape, np.nan)
    return Observations(x, {f: values.get(f, nothing) for f in fields}, f"file {file}", noise)


def _check_header(header: list[str], fields: Sequence[str], needed: Sequence[str], where: str) -> list[str]:
    """The observed fields the header names, after checking it names nothing else."""
    allowed = {"x", *fields, *(NOISE_PREFIX + f for f in fields)}
    twice = next((c for c in header if header.count(c) > 1), None)
    if twice is not None:
        raise ConfigError(f"{where}: column {twice!r} appears more than once; keep one")
    strange = next((c for c in header if c not in allowed), None)
    if strange is not None:
        raise ConfigError(f"{where}: column {strange!r} is not x, an observed field ({', '.join(fields)}) "
                          f"or {NOISE_PREFIX}<field>; rename or remove it")
    for column in ("x", *needed):
        if column not in header:
            raise ConfigError(f"{where} has no column {column!r}; the header must name "
                              f"{', '.join(('x', *needed))}" + (" and may name any of " + ", ".join(fields)))
    present = [f for f in fields if f in header]
    if not present:
        raise ConfigError(f"{where} names no observed field; the header must name x and any of {', '.join(fields)}")
    orphan = next((c for c in header if c.startswith(NOISE_PREFIX) and c[len(NOISE_PREFIX):] not in header), None)
    if orphan is not None:
        raise ConfigError(f"{where}: column {orphan!r} has no column {orphan[len(NOISE_PREFIX):]!r} beside it")
    return present


def _parse(rows: list[dict[str, Any]], present: list[str], where: str) -> tuple[np.ndarray, dict, dict]:
    """x, the values (NaN for an empty cell) and the stated noise of the `present` fields."""
    x: list[float] = []
    values: dict[str, list[float]] = {f: [] for f in present}
    stated = [f for f in present if any((row.get(NOISE_PREFIX + f) or "").strip() for row in rows)]
    noise: dict[str, list[float]] = {f: [] for f in stated}
    for line, row in enumerate(rows, start=2):
        x.append(_number(row, "x", line, where, required=True))
        for f in present:
            values[f].append(_number(row, f, line, where))
        if all(math.isnan(values[f][-1]) for f in present):
            raise ConfigError(f"{where}, line {line} holds no observed value; remove it or fill in a field")
        for f in noise:
            sigma = _number(row, NOISE_PREFIX + f, line, where)
            if not math.isnan(sigma) and not 0.0 < sigma <= 1.0:
                raise ConfigError(f"{where}, line {line}: {NOISE_PREFIX}{f}={sigma:g} must be a relative "
                                  "standard deviation in (0, 1]")
            if not math.isnan(sigma) and math.isnan(values[f][-1]):
                raise ConfigError(f"{where}, line {line}: {NOISE_PREFIX}{f} is given without a value of {f}")
            noise[f].append(sigma)
    return np.array(x), {f: np.array(v) for f, v in values.items()}, {f: np.array(v) for f, v in noise.items()}


def _number(row: Mapping[str, Any], column: str, line: int, where: str, required: bool = False) -> float:
    """The cell's number; NaN for an empty cell unless `required`."""
    text = (row.get(column) or "").strip()
    if not text:
        if required:
            raise ConfigError(f"{where}, line {line}: {column} is empty")
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{where}, line {line}: {column}={text!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"{where}, line {line}: {column}={value} is not finite")
    return value
