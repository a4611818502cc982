"""Observations of a flame for the inverse problem: read from a CSV file (columns x, T, u) or drawn
from the converged reference solution with multiplicative Gaussian noise."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from pinn.errors import ConfigError

COLUMNS = ("x", "T", "u")
# each observation is a row of the Levenberg-Marquardt Jacobian: more would not fit in memory
MAX_OBSERVATIONS = 10000


@dataclass(frozen=True)
class Observations:
    x: np.ndarray
    T: np.ndarray
    u: np.ndarray
    source: str


def read_csv(path: Any, L: float) -> Observations:
    """x in m (within [0, L]), T in K, u in m/s; a header row names the columns."""
    where = f"problem.observations={path}"
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{where} must be the path of a CSV file with columns x, T, u")
    file = Path(path)
    if file.is_dir():
        raise ConfigError(f"{where} is a directory; give the path of a CSV file with columns x, T, u")
    if not file.is_file():
        raise ConfigError(f"{where}: no such file; give the path of a CSV file with columns x, T, u")
    try:
        with file.open(newline="") as handle:
            rows = []
            for row in csv.DictReader(handle):
                if len(rows) == MAX_OBSERVATIONS:
                    raise ConfigError(f"{where} holds more than {MAX_OBSERVATIONS} observations; "
                                      "thin it or average neighbouring points")
                rows.append(row)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{where} cannot be read ({type(exc).__name__}); it must be a text CSV file "
                          "with columns x, T, u") from None
    header = set(rows[0]) if rows else set()
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ConfigError(f"{where} has no column {missing[0]!r}; the header must name x, T and u")
    values = {c: [] for c in COLUMNS}
    for line, row in enumerate(rows, start=2):
        for c in COLUMNS:
            try:
                v = float(row[c])
            except (TypeError, ValueError):
                raise ConfigError(f"{where}, line {line}: {c}={row[c]!r} is not a number") from None
            if not math.isfinite(v):
                raise ConfigError(f"{where}, line {line}: {c}={v} is not finite")
            values[c].append(v)
    x, T, u = (np.array(values[c]) for c in COLUMNS)
    if x.size < 3:
        raise ConfigError(f"{where} holds {x.size} observation(s); at least 3 are needed")
    if np.any(x < 0) or np.any(x > L):
        raise ConfigError(f"{where}: x must lie in [0, L] = [0, {L:g}] m (x is in metres)")
    if np.any(T <= 0) or np.any(u <= 0):
        raise ConfigError(f"{where}: T (K) and u (m/s) must be positive")
    return Observations(x, T, u, f"file {file}")


def synthesize(parameters: Mapping[str, float], count: int, noise: float, seed: int) -> Observations:
    """T and u of the converged reference at `count` evenly spaced points of [0, L], each multiplied
    by (1 + noise * N(0, 1)) with a seeded generator."""
    from pinn.reference import flame as reference

    p = reference.FlameParameters(**parameters)
    try:
        result = reference.solve_converged(p)
    except reference.FlameDoesNotFit as exc:
        raise ConfigError(f"flame_fpp_inverse: {exc}") from None
    except (RuntimeError, ValueError, FloatingPointError, OverflowError) as exc:
        raise ConfigError(f"flame_fpp_inverse: the reference solver found no flame to draw observations from "
                          f"({exc}); check the rate parameters, phi and L") from None
    fd = result.finest
    x = np.linspace(0.0, p.L, count)
    T = np.interp(x, fd.x, fd.T)
    u = reference.velocity(p, T, result.s)
    rng = np.random.default_rng(seed)
    T = T * (1.0 + noise * rng.standard_normal(count))
    u = u * (1.0 + noise * rng.standard_normal(count))
    return Observations(x, T, u, f"reference with {noise:g} relative noise, seed {seed}")
