"""What a run leaves in its directory: metrics.json, history.csv, solution.npz (figures: plots.py)."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, non-finite floats to strings ("nan", "inf")."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _numbers(value: Any) -> Any:
    """The inverse of `_plain` for the non-finite floats JSON cannot hold."""
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return _NON_FINITE.get(value, value) if isinstance(value, str) else value


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_plain(data), indent=2) + "\n")
    os.replace(tmp, path)


def write_solution(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **{k: np.asarray(v) for k, v in arrays.items()})
    os.replace(tmp, path)


class HistoryWriter:
    """Appends training rows to a CSV as they come; a row with a new column rewrites the file with
    the wider header (phases log different loss terms)."""

    def __init__(self, path: Path, keep_until_step: int | None = None):
        """With `keep_until_step` (a resumed run) the rows an earlier attempt logged up to that step
        are kept and later ones dropped, so continuing does not duplicate rows."""
        self.path = path
        self.rows: list[dict[str, Any]] = []
        self.columns: list[str] = []
        if keep_until_step is not None and path.exists():
            with path.open(newline="") as f:
                reader = csv.DictReader(f)
                self.columns = list(reader.fieldnames or [])
                self.rows = [r for r in reader if r.get("step", "").isdigit() and int(r["step"]) <= keep_until_step]
            self._rewrite()
        elif path.exists():
            path.unlink()

    def __call__(self, row: Mapping[str, Any]) -> None:
        self.rows.append(dict(row))
        new = [k for k in row if k not in self.columns]
        if new or not self.path.exists():
            self.columns += new
            self._rewrite()
        else:
            with self.path.open("a", newline="") as f:
                csv.DictWriter(f, self.columns).writerow(row)

    def _rewrite(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, self.columns, restval="")
            writer.writeheader()
            writer.writerows(self.rows)
        os.replace(tmp, self.path)


def provenance() -> dict[str, Any]:
    """Versions of what computed a result, and the git commit of the source tree when there is one."""
    import platform
    import subprocess

    import torch

    from pinn import __version__

    info: dict[str, Any] = {"pinn": __version__, "torch": torch.__version__, "numpy": np.__version__,
                            "python": platform.python_version(), "git_commit": None, "git_dirty": None}
    source = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, timeout=5)
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
            status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=source,
                                    capture_output=True, text=True, timeout=5)
            info["git_dirty"] = bool(status.stdout.strip()) if status.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def read_history(path: Path) -> dict[str, np.ndarray]:
    """Columns of history.csv as arrays (numeric where possible, missing values as NaN)."""
    with Path(path).open() as f:
        rows = list(csv.DictReader(f))
    columns: dict[str, np.ndarray] = {}
    for key in rows[0] if rows else []:
        values = [r[key] for r in rows]
        try:
            columns[key] = np.array([float(v) if v != "" else np.nan for v in values])
        except ValueError:
            columns[key] = np.array(values)
    return columns


def read_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """metrics.json, the history.csv columns and the solution.npz arrays of a finished run."""
    run_dir = Path(run_dir)
    metrics = _numbers(json.loads((run_dir / "metrics.json").read_text()))
    with np.load(run_dir / "solution.npz") as data:
        arrays = {k: data[k] for k in data.files}
    return metrics, read_history(run_dir / "history.csv"), arrays
