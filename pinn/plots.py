"""Figures of a run, drawn from its saved data (solution arrays, history columns, metrics).

`*_figure(...)` functions take the data and return a matplotlib Figure (no pyplot state, so they
work the same in scripts, notebooks and on headless machines); `plot_run(run_dir)` draws all of
them from a run directory's files and saves the PNGs there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
from matplotlib.figure import Figure

from pinn.outputs import read_run


def wavefunctions_figure(solution: Mapping[str, np.ndarray]) -> Figure:
    """psi against the reference for every state, with V drawn behind."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    axv = ax.twinx()
    axv.fill_between(solution["x"], solution["V"], color="0.85", step="mid", zorder=0)
    axv.set_ylabel("V(x)", color="0.45")
    ax.set_zorder(axv.get_zorder() + 1)
    ax.patch.set_visible(False)
    for j, (psi, ref, E) in enumerate(zip(solution["psi"], solution["psi_ref"], solution["eigenvalues"])):
        ax.plot(solution["x"], psi, lw=2, label=f"PINN state {j}, E={E:.8g}")
        ax.plot(solution["x"], ref, "--", color="k", lw=1, label="reference" if j == 0 else None)
    ax.set_xlabel("x")
    ax.set_ylabel("psi(x)")
    ax.legend(loc="upper right", fontsize=8)
    return _tight(fig)


def pointwise_error_figure(solution: Mapping[str, np.ndarray]) -> Figure:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for j, (psi, ref) in enumerate(zip(solution["psi"], solution["psi_ref"])):
        ax.semilogy(solution["x"], np.abs(psi - ref) + 1e-300, label=f"state {j}")
    ax.set_xlabel("x")
    ax.set_ylabel("|psi - psi_ref|")
    ax.legend(fontsize=8)
    return _tight(fig)


def losses_figure(history: Mapping[str, np.ndarray]) -> Figure:
    skip = {"step", "phase", "time", "lr", "s_L", "Lambda", "x_f"}
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for key, values in history.items():
        if key in skip or key.startswith("E") or values.dtype.kind != "f":
            continue
        mask = np.isfinite(values) & (np.abs(values) > 0)
        if mask.any():
            ax.semilogy(history["step"][mask], np.abs(values[mask]), label=key)
    _mark_phases(ax, history)
    ax.set_xlabel("step")
    ax.set_ylabel("loss term")
    ax.legend(fontsize=8)
    return _tight(fig)


def eigenvalue_figure(history: Mapping[str, np.ndarray], metrics: Mapping[str, Any]) -> Figure:
    """log10 |E - E_ref| against step for every state, with the widths of the final certified
    intervals around the Rayleigh quotient (Weinstein dashed, Kato-Temple dotted)."""
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    weinstein = metrics.get("eigenvalue_bounds") or []
    kato_temple = metrics.get("eigenvalue_bounds_kato_temple") or []
    for j, E_ref in enumerate(metrics["reference_eigenvalues"]):
        E = history.get(f"E{j}")
        if E is None:
            continue
        err = np.abs(E - E_ref)
        line, = ax.plot(history["step"], np.log10(np.maximum(err, 1e-300)), label=f"state {j}")
        for bounds, style, name in ((weinstein, "--", "Weinstein"), (kato_temple, ":", "Kato-Temple")):
            if j < len(bounds) and bounds[j] is not None:
                ax.axhline(np.log10(max(bounds[j][1] - bounds[j][0], 1e-300)), color=line.get_color(), ls=style,
                           lw=1, label=f"state {j}: {name} interval width")
    _mark_phases(ax, history)
    ax.set_xlabel("step")
    ax.set_ylabel("log10 |E - E_ref|")
    ax.legend(fontsize=8)
    return _tight(fig)


FLAME_FIELDS = (("T", "T (K)"), ("u", "u (m/s)"), ("Y_F", "fuel mass fraction Y_F"), ("omega", "reaction rate omega"),
                ("Y_CH4", "Y CH4"), ("Y_O2", "Y O2"), ("Y_CO2", "Y CO2"), ("Y_H2O", "Y H2O"),
                ("V", "spread rate V = v / r (1/s)"))


def flame_fields_figure(solution: Mapping[str, np.ndarray]) -> Figure:
    """Every field the run saved with its reference (of FLAME_FIELDS) against x, PINN (solid)
    and reference (dashed)."""
    shown = [(key, label) for key, label in FLAME_FIELDS if key in solution and f"{key}_ref" in solution]
    rows = (len(shown) + 1) // 2
    fig = Figure(figsize=(9, 3 * rows))
    axes = fig.subplots(rows, 2, sharex=True, squeeze=False).ravel()
    x_mm = solution["x"] * 1e3
    for ax, (key, label) in zip(axes, shown):
        ax.plot(x_mm, solution[key], lw=2, label="PINN")
        ax.plot(x_mm, solution[f"{key}_ref"], "--", color="k", lw=1, label="reference")
        if f"obs_{key}" in solution:
            ax.plot(solution["obs_x"] * 1e3, solution[f"obs_{key}"], "o", color="C3", ms=5, label="observations")
        ax.set_ylabel(label)
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    if "V" not in solution:  # a counterflow flame's flow fills the gap: show all of it
        axes[0].set_xlim(*_flame_window(x_mm, solution["T_ref"]))
    for ax in axes[-2:]:
        ax.set_xlabel("x (mm)")
    axes[0].legend(fontsize=8)
    return _tight(fig)


def _flame_window(x: np.ndarray, T: np.ndarray) -> tuple[float, float]:
    """Where the reference temperature rises from 0.1% to 99.9% of its rise, widened by its own
    length on both sides and clipped to the domain."""
    rise = (T - T[0]) / (T.max() - T[0])
    start, stop = x[np.argmax(rise > 1e-3)], x[np.argmax(rise > 0.999)]
    pad = max(stop - start, 1e-12)
    return max(x[0], start - pad), min(x[-1], stop + pad)


def flame_error_figure(solution: Mapping[str, np.ndarray]) -> Figure:
    """|T - T_ref| against x, and the residual against the collocation coordinate (theta in the
    phase plane, s for the counterflow flame)."""
    fig = Figure(figsize=(9, 3.8))
    ax, ax_r = fig.subplots(1, 2)
    error = np.abs(solution["T"] - solution["T_ref"])
    ax.semilogy(solution["x"] * 1e3, np.maximum(error, 1e-12 * max(float(np.nanmax(error)), 1e-300)))
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("|T - T_ref| (K)")
    if "theta" in solution:
        ax_r.semilogy(solution["theta"], np.abs(solution["residual"]) + 1e-300)
        ax_r.set_xlabel("theta = (T - T_in) / (T_max - T_in)")
    else:
        ax_r.semilogy(solution["s"], np.abs(solution["residual"]) + 1e-300)
        ax_r.set_xlabel("mapped coordinate s")
    ax_r.set_ylabel("|relative residual|")
    return _tight(fig)


def flame_speed_figure(history: Mapping[str, np.ndarray], metrics: Mapping[str, Any]) -> Figure:
    """Relative error of the eigenvalue (s_L, or Lambda for the counterflow flame) against step,
    with the reference's own error estimate."""
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    s_ref = metrics["reference_eigenvalues"][0]
    name = metrics.get("eigenvalue_name", "s_L")
    if name in history:
        ax.semilogy(history["step"], np.abs(history[name] / s_ref - 1.0) + 1e-300, label=f"PINN {name}")
    estimate = metrics.get("reference_error_estimate")
    if estimate:
        ax.axhline(abs(estimate / s_ref), color="k", ls="--", lw=1, label="reference error estimate")
    _mark_phases(ax, history)
    ax.set_xlabel("step")
    ax.set_ylabel(f"|{name} / {name}_ref - 1|")
    ax.legend(fontsize=8)
    return _tight(fig)


def plane_states_figure(solution: Mapping[str, np.ndarray]) -> Figure:
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
    return _tight(fig)


def plot_run(run_dir: Path) -> list[Path]:
    """Draw every figure of a run from its files and save them as PNGs beside them."""
    run_dir = Path(run_dir)
    metrics, history, solution = read_run(run_dir)
    if "psi2d" in solution:
        figures = {"states.png": plane_states_figure(solution), "losses.png": losses_figure(history),
                   "eigenvalue.png": eigenvalue_figure(history, metrics)}
    elif "T" in solution:
        figures = {"fields.png": flame_fields_figure(solution), "error.png": flame_error_figure(solution),
                   "losses.png": losses_figure(history), "flame_speed.png": flame_speed_figure(history, metrics)}
    else:
        figures = {"wavefunction.png": wavefunctions_figure(solution), "error.png": pointwise_error_figure(solution),
                   "losses.png": losses_figure(history), "eigenvalue.png": eigenvalue_figure(history, metrics)}
    paths = []
    for name, fig in figures.items():
        fig.savefig(run_dir / name, dpi=120)
        paths.append(run_dir / name)
    return paths


def _mark_phases(ax, history) -> None:
    phase = history.get("phase")
    if phase is None or len(phase) == 0:
        return
    for k in range(1, len(phase)):
        if phase[k] != phase[k - 1]:
            ax.axvline(history["step"][k], color="0.6", ls=":", lw=1)


def _tight(fig: Figure) -> Figure:
    fig.tight_layout()
    return fig
