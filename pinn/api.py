"""Python API: `solve("finite_well", V0=30, n_states=2)` runs exactly what the command line runs.

The config is composed by Hydra from the same files with the same defaults and validated the
same way; keyword arguments are problem parameters, `overrides` takes any other setting in
command-line form ("model.width=32", "trainer.phases.solve.steps=100", "seed=3").
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from pinn.config import compose_config
from pinn.errors import ConfigError
from pinn.io.files import read_run
from pinn.problems.registry import report_of
from pinn.run import plain_config, run


@dataclass
class Result:
    """Everything a run produced: metrics.json, the history columns and the solution arrays; its
    figures are those of the run's report kind (metrics.json's `report`)."""

    metrics: dict[str, Any]
    history: dict[str, np.ndarray] = field(repr=False)
    arrays: dict[str, np.ndarray] = field(repr=False)
    run_dir: Path | None = None

    @property
    def eigenvalues(self) -> list[float]:
        return self.metrics["eigenvalues"]

    @property
    def reference_eigenvalues(self) -> list[float]:
        return self.metrics["reference_eigenvalues"]

    @property
    def relative_errors(self) -> list[float]:
        return self.metrics["relative_errors"]

    @property
    def status(self) -> str:
        return self.metrics["status"]

    def figures(self) -> dict[str, Any]:
        """Every figure of this run's report, by name (the PNG names of a run directory)."""
        return {name: draw() for name, draw in self._drawings().items()}

    def figure(self, name: str):
        drawings = self._drawings()
        if name not in drawings:
            raise ValueError(f"a {self.metrics['problem']} run has no {name!r} figure; its figures are "
                             f"{', '.join(drawings)}")
        return drawings[name]()

    def _drawings(self):
        return report_of(self.metrics).figures(self.metrics, self.history, self.arrays)

    def wavefunctions_figure(self):
        """psi of every state against the reference (1D Schrödinger runs)."""
        return self.figure("wavefunction")

    def states_figure(self):
        """Every state beside the reference eigenvectors (2D runs)."""
        return self.figure("states")

    def fields_figure(self):
        """The fields against the reference (flame runs)."""
        return self.figure("fields")

    def error_figure(self):
        return self.figure("error")

    def losses_figure(self):
        return self.figure("losses")

    def eigenvalue_figure(self):
        """Eigenvalue error against step (s_L or Lambda for flames)."""
        return self.figure("eigenvalue")


def load(run_dir: str | Path) -> Result:
    """A finished run directory (from the command line, a sweep or `solve(..., out_dir=...)`)."""
    path = Path(run_dir)
    missing = [name for name in ("metrics.json", "history.csv", "solution.npz") if not (path / name).is_file()]
    if missing:
        raise ConfigError(f"{path} is not a finished pinn run: {', '.join(missing)} missing")
    metrics, history, arrays = read_run(path)
    return Result(metrics, history, arrays, path)


def solve(problem: str, *, overrides: Sequence[str] = (), out_dir: str | Path | None = None,
          progress: str = "none", **params: Any) -> Result:
    """Compose the config of `python -m pinn problem=<problem> <overrides>`, set the problem
    parameters given as keywords, run, and return the result. Without `out_dir` the files go to a
    temporary directory that is removed afterwards (the Result keeps everything in memory)."""
    if not isinstance(problem, str):
        raise ConfigError(f"problem={problem!r} must be a problem name such as 'finite_well'")
    try:
        cfg = compose_config([f"problem={problem}", f"trainer.progress={progress}", *overrides])
    except Exception as exc:  # Hydra raises many types for a bad override
        from pinn.cli import _explain

        raise ConfigError(_explain(exc, [f"problem={problem}", *overrides])) from None
    config = plain_config(cfg)
    config["problem"].update(_plain(params))
    if out_dir is not None:
        run(config, out_dir=Path(out_dir))
        return load(out_dir)
    with tempfile.TemporaryDirectory(prefix="pinn-") as tmp:
        run(config, out_dir=Path(tmp), keep=False)
        result = load(tmp)
    result.run_dir = None
    return result


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """numpy scalars become Python numbers, so validation sees what a user meant."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in values.items()}
