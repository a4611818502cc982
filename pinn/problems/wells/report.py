"""The report of a one-dimensional Schrödinger run: each state against its reference with V and the
levels, the pointwise error, the losses and the eigenvalue errors with their certified intervals."""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Mapping

import numpy as np
from matplotlib.figure import Figure

from pinn.io.figures import (draw_observations, eigenvalue_figure, inferred_figures, losses_figure, run_title,
                              shown_positive, tight)
from pinn.io.summary import estimated, inferred_lines
from pinn.problems.registry import Report, register_report


def reference_label(metrics: Mapping[str, Any] | None) -> str:
    """What the dashed reference curves are: for an inverse run the exact solution at the inferred
    parameters (the problem the network solved), not at the true ones."""
    return "exact at the inferred parameters" if metrics and "solved_reference_eigenvalues" in metrics else "reference"


def wavefunctions_figure(solution: Mapping[str, np.ndarray], metrics: Mapping[str, Any] | None = None) -> Figure:
    """psi of every state (solid) with the reference (dashed, on top), and V with each trained level
    E_j drawn against it on the right axis (units hbar^2 / 2m = 1)."""
    fig = Figure(figsize=(8, 5))
    ax = fig.subplots()
    axv = ax.twinx()
    x = solution["x"]
    axv.fill_between(x, solution["V"], color="0.88", step="mid", zorder=0, label="V(x)")
    axv.set_ylabel("V(x) and the levels E (energy)", color="0.4")
    ax.set_zorder(axv.get_zorder() + 1)
    ax.patch.set_visible(False)
    references = solution.get("reference_eigenvalues", [None] * len(solution["psi"]))
    for j, (psi, ref, E, E_ref) in enumerate(zip(solution["psi"], solution["psi_ref"], solution["eigenvalues"],
                                                 references)):
        line, = ax.plot(x, psi, lw=2.5, alpha=0.7, label=f"PINN state {j}: E = {E:.10g}")
        ax.plot(x, ref, "--", color="k", lw=1, zorder=3,
                label=f"{reference_label(metrics)} {j}" + (f": E = {E_ref:.10g}" if E_ref is not None else ""))
        axv.axhline(E, color=line.get_color(), ls=":", lw=1.2)
        axv.annotate(f"E{j}", (1.0, E), xycoords=("axes fraction", "data"), xytext=(-14, 2),
                     textcoords="offset points", color=line.get_color(), fontsize=8)
    ax.set_xlabel("x (units with hbar^2 / 2m = 1)")
    ax.set_ylabel("psi(x), normalized")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8, frameon=False)
    fig.suptitle(run_title(metrics) or "wavefunctions", fontsize=10)
    return tight(fig)


def pointwise_error_figure(solution: Mapping[str, np.ndarray], metrics: Mapping[str, Any] | None = None) -> Figure:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for j, (psi, ref) in enumerate(zip(solution["psi"], solution["psi_ref"])):
        ax.semilogy(solution["x"], shown_positive(psi - ref), label=f"state {j}")
    ax.set_xlabel("x")
    ax.set_ylabel("|psi - psi_ref|")
    source = (metrics or {}).get("reference_source", "")
    ax.set_title(f"pointwise error against the {source.replace('_', ' ')} reference".replace("  ", " "), fontsize=9)
    ax.legend(fontsize=8)
    return tight(fig)


def density_figure(solution: Mapping[str, np.ndarray], metrics: Mapping[str, Any]) -> Figure:
    """The ground-state density psi_0^2 of the PINN and of the reference (for an inverse run the
    exact one at the inferred parameters, the problem the network solved), on a log scale, with
    the observations and their noise (1 sd) as error bars: what an inverse run was fitted to."""
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    x = solution["x"]
    ax.semilogy(x, shown_positive(solution["psi"][0] ** 2), lw=2.5, alpha=0.7, label="PINN psi_0^2")
    ax.semilogy(x, shown_positive(solution["psi_ref"][0] ** 2), "--", color="k", lw=1,
                label=f"{reference_label(metrics)} psi_0^2")
    draw_observations(ax, solution, "density", metrics)
    ax.set_xlabel("x (units with hbar^2 / 2m = 1)")
    ax.set_ylabel("density psi_0(x)^2")
    ax.legend(fontsize=8)
    fig.suptitle(run_title(metrics), fontsize=9)
    return tight(fig)


def figures(metrics: Mapping[str, Any], history: Mapping[str, np.ndarray],
            solution: Mapping[str, np.ndarray]) -> dict[str, Callable[[], Figure]]:
    result = {"wavefunction": partial(wavefunctions_figure, solution, metrics),
              "error": partial(pointwise_error_figure, solution, metrics), "losses": partial(losses_figure, history, metrics),
              "eigenvalue": partial(eigenvalue_figure, history, metrics), **inferred_figures(metrics)}
    if "obs_density" in solution:
        result["density"] = partial(density_figure, solution, metrics)
    return result


def summary(metrics: Mapping[str, Any]) -> list[str]:
    return [*state_lines(metrics), *inferred_lines(metrics)]


def state_lines(metrics: Mapping[str, Any]) -> list[str]:
    return [f"  state {j}: E = {E:.12g}   reference = {ref:.12g} ({metrics['reference_source']})   "
            f"relative error = {err:.2e}{estimated(metrics, j)}   Rayleigh quotient = {rq:.12g}   psi L2 error = {l2:.2e}"
            for j, (E, ref, err, rq, l2) in enumerate(zip(metrics["eigenvalues"], metrics["reference_eigenvalues"],
                                                          metrics["relative_errors"], metrics["rayleigh_quotients"],
                                                          metrics["wavefunction_l2_errors"]))]


REPORT = register_report(Report("wells", figures, summary))
