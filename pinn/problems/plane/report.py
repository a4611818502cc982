"""The report of a two-dimensional Schrödinger run: every state beside the reference eigenvectors,
the losses and the eigenvalue errors with their certified intervals; degenerate levels compared as
subspaces."""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Mapping

import numpy as np
from matplotlib.figure import Figure

from pinn.io.figures import eigenvalue_figure, losses_figure, run_title, tight
from pinn.io.summary import estimated
from pinn.problems.registry import Report, register_report


def plane_states_figure(solution: Mapping[str, np.ndarray], metrics: Mapping[str, Any] | None = None) -> Figure:
    """Every 2D state of the PINN (top) and the finite-difference eigenvectors (bottom; within a
    degenerate level any rotation of them is as good)."""
    n = len(solution["psi2d"])
    fig = Figure(figsize=(3 * n + 1, 5.6))
    axes = np.atleast_2d(fig.subplots(2, n, squeeze=False))
    extent = (solution["x"][0], solution["x"][-1], solution["y"][0], solution["y"][-1])
    for j in range(n):
        for row, (key, label) in enumerate((("psi2d", "PINN"), ("psi2d_ref", "reference"))):
            ax = axes[row, j]
            ax.imshow(solution[key][j], origin="lower", extent=extent, cmap="RdBu_r")
            ax.set_title(f"{label} state {j}" + (f"\nE={solution['eigenvalues'][j]:.8g}" if row == 0 else ""), fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    title = run_title(metrics)
    if title:
        fig.suptitle(title, fontsize=9)
    return tight(fig)


def figures(metrics: Mapping[str, Any], history: Mapping[str, np.ndarray],
            solution: Mapping[str, np.ndarray]) -> dict[str, Callable[[], Figure]]:
    return {"states": partial(plane_states_figure, solution, metrics), "losses": partial(losses_figure, history, metrics),
            "eigenvalue": partial(eigenvalue_figure, history, metrics)}


def summary(metrics: Mapping[str, Any]) -> list[str]:
    lines = [f"  state {j}: E = {E:.12g}   reference = {ref:.12g} ({metrics['reference_source']})   "
             f"relative error = {err:.2e}{estimated(metrics, j)}   Rayleigh quotient = {rq:.12g}"
             for j, (E, ref, err, rq) in enumerate(zip(metrics["eigenvalues"], metrics["reference_eigenvalues"],
                                                       metrics["relative_errors"], metrics["rayleigh_quotients"]))]
    lines += [f"  level of states {group}: largest principal angle to the reference subspace = {angle:.2e} rad"
              for group, angle in zip(metrics["levels"], metrics["subspace_angles"])]
    return lines


REPORT = register_report(Report("plane", figures, summary))
