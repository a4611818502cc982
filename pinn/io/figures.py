"""Figures of a run, drawn from its saved data (solution arrays, history columns, metrics).

The figures every kind of run shares (losses, eigenvalue errors, fields against their reference)
and the helpers of the families' own; `*_figure(...)` functions take the data and return a
matplotlib Figure (no pyplot state, so they work the same in scripts, notebooks and on headless
machines). `plot_run(run_dir)` draws the figures of the run's report kind (pinn.problems.registry)
from its files and saves the PNGs there.
"""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from pinn.io.files import read_run
from pinn.io.summary import noise_description


def run_title(metrics: Mapping[str, Any] | None) -> str:
    """"problem: parameter=value, ..." from a run's metrics, for figure titles."""
    if not metrics:
        return ""
    params = (metrics.get("config") or {}).get("problem") or {}
    shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
                      if k not in ("name", "weights") and v not in (None, {}))
    status = metrics.get("status")
    text = f"{metrics.get('problem', '')}: {shown}" + (f"  [{status}]" if status and status != "ok" else "")
    return textwrap.fill(text, width=110, break_long_words=False)


def shown_positive(values: np.ndarray, span: float = 1e-12) -> np.ndarray:
    """values with those below span x their maximum (exact zeros where both sides vanish, at walls
    and nodes) masked, so a log axis spans the data instead of running down to 1e-300."""
    values = np.abs(np.asarray(values, dtype=float))
    top = np.nanmax(values) if np.any(np.isfinite(values)) else 0.0
    return np.where(values > span * top, values, np.nan) if top > 0 else np.full_like(values, np.nan)


def losses_figure(history: Mapping[str, np.ndarray], metrics: Mapping[str, Any] | None = None) -> Figure:
    """Every loss term (their sum, the total, drawn wide and grey beneath them) with the phases
    marked and named; the logged observables (metrics' `observables`: eigenvalues, unknowns) are
    not losses and are left out."""
    skip = {"step", "phase", "time", "lr", "loss", *((metrics or {}).get("observables") or ())}
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    if "loss" in history:
        total = history["loss"]
        mask = np.isfinite(total) & (np.abs(total) > 0)
        ax.semilogy(history["step"][mask], np.abs(total[mask]), color="0.75", lw=5, label="total", zorder=1)
    for key, values in history.items():
        if key in skip or values.dtype.kind != "f":
            continue
        mask = np.isfinite(values) & (np.abs(values) > 0)
        if mask.any():
            ax.semilogy(history["step"][mask], np.abs(values[mask]), label=key, zorder=2)
    mark_phases(ax, history)
    ax.set_xlabel("step")
    ax.set_ylabel("loss term (sum of squares)")
    ax.legend(fontsize=8, loc="lower left")
    return tight(fig)


def eigenvalue_figure(history: Mapping[str, np.ndarray], metrics: Mapping[str, Any]) -> Figure:
    """log10 |E - E_ref| against step for every state, with the widths of the final certified
    intervals around the Rayleigh quotient (Weinstein dashed, Kato-Temple dotted) and the final
    a-posteriori estimate of the error (a diamond at the last step), where the run has them. An
    inverse run's E_ref is the truth's level, which the noise keeps E from; its distance from the
    exact level at the inferred parameters (what the tolerance and the estimate are about) is drawn
    dash-dotted."""
    fig = Figure(figsize=(7, 4 + 0.3 * len(metrics["reference_eigenvalues"])))
    ax = fig.subplots()
    weinstein = metrics.get("eigenvalue_bounds") or []
    kato_temple = metrics.get("eigenvalue_bounds_kato_temple") or []
    estimates = metrics.get("estimated_relative_errors") or []
    for j, E_ref in enumerate(metrics["reference_eigenvalues"]):
        E = history.get(f"E{j}")
        if E is None:
            continue
        err = np.abs(E - E_ref)
        solved = metrics.get("solved_reference_eigenvalues") or []
        line, = ax.plot(history["step"], np.log10(np.maximum(err, 1e-300)),
                        label=f"state {j}" + (": against the true parameters' level" if j < len(solved) else ""))
        if j < len(solved):  # an inverse run: the level it solves is the exact one at the inferred parameters
            ax.plot(history["step"], np.log10(np.maximum(np.abs(E - solved[j]), 1e-300)), "-.", color=line.get_color(),
                    label=f"state {j}: against the exact level at the inferred parameters")
        for bounds, style, name in ((weinstein, "--", "Weinstein"), (kato_temple, ":", "Kato-Temple")):
            if j < len(bounds) and bounds[j] is not None:
                ax.axhline(np.log10(max(bounds[j][1] - bounds[j][0], 1e-300)), color=line.get_color(), ls=style,
                           lw=1, label=f"state {j}: {name} interval width")
        if j < len(estimates):
            ax.plot(history["step"][-1], np.log10(max(estimates[j] * abs(E[-1]), 1e-300)), "D", ms=6,
                    color=line.get_color(), markeredgecolor="k", label=f"state {j}: estimated error (no reference)")
    tolerance = metrics.get("tolerance")
    if tolerance:
        scale = max(abs(float(e)) for e in metrics["reference_eigenvalues"])
        ax.axhline(np.log10(tolerance * scale), color="C3", lw=1, alpha=0.6, label=f"tolerance {tolerance:.2g} x |E_ref|")
    mark_phases(ax, history)
    ax.set_xlabel("step")
    ax.set_ylabel("log10 |E - E_ref|")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, fontsize=7, frameon=False)
    return tight(fig)


def draw_observations(ax: Any, solution: Mapping[str, np.ndarray], key: str, metrics: Mapping[str, Any] | None,
                      x_scale: float = 1.0) -> None:
    """The observations of `key` (obs_x, obs_<key>) as dots, with their relative noise (1 sd) as
    error bars: each value's own (obs_<key>_noise), or for a run saved without it the level the
    run used."""
    observed = solution[f"obs_{key}"]
    noise = solution.get(f"obs_{key}_noise")
    if noise is None:
        used = ((metrics or {}).get("noise") or {}).get("used")
        noise = np.full(observed.shape, np.nan if used is None else used)
    levels = np.unique(noise[np.isfinite(noise) & np.isfinite(observed)])
    label = "observations"
    if levels.size == 1:
        label += f" ± {levels[0]:.2g} (relative noise, 1 sd)"
    elif levels.size > 1:
        label += f" ± their noise ({levels.min():.2g} .. {levels.max():.2g} relative, 1 sd)"
    bars = None if levels.size == 0 else np.nan_to_num(noise * np.abs(observed))
    ax.errorbar(solution["obs_x"] * x_scale, observed, yerr=bars, fmt="o", color="C3", ms=4, capsize=2, label=label)


def fields_figure(solution: Mapping[str, np.ndarray], panels: Sequence[tuple[str, str]],
                  metrics: Mapping[str, Any] | None = None, window: bool = True) -> Figure:
    """Each field of `panels` ((key, axis label)) the run saved with its reference, against x in mm:
    PINN solid, reference dashed, observations (obs_<key>) as dots; titled with the problem, its
    parameters and the reference's peak temperature. `window`: show only the flame zone."""
    shown = [(key, label) for key, label in panels if key in solution and f"{key}_ref" in solution]
    rows = (len(shown) + 1) // 2
    fig = Figure(figsize=(9, 3 * rows + 0.6))
    axes = fig.subplots(rows, 2, sharex=True, squeeze=False).ravel()
    x_mm = solution["x"] * 1e3
    for ax, (key, label) in zip(axes, shown):
        ax.plot(x_mm, solution[key], lw=2, label="PINN")
        ax.plot(x_mm, solution[f"{key}_ref"], "--", color="k", lw=1, label="reference")
        if f"obs_{key}" in solution:
            draw_observations(ax, solution, key, metrics, x_scale=1e3)
        ax.set_ylabel(label)
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    if window:
        axes[0].set_xlim(*_flame_window(x_mm, solution["T_ref"]))
    for ax in axes[-2:]:
        ax.set_xlabel("x (mm)")
    axes[0].legend(fontsize=8)
    title = run_title(metrics)
    fig.suptitle((title + "\n" if title else "") + f"peak temperature of the reference: {np.nanmax(solution['T_ref']):.0f} K",
                 fontsize=9)
    return tight(fig)


def field_history_figures(metrics: Mapping[str, Any], history: Mapping[str, np.ndarray]) -> dict[str, Callable[[], Figure]]:
    """The drawings every field run shares: the losses, the eigenvalue's error against step, and
    the inferred parameters of an inverse run."""
    return {"losses": functools.partial(losses_figure, history, metrics),
            "eigenvalue": functools.partial(eigenvalue_history_figure, history, metrics), **inferred_figures(metrics)}


def inferred_figures(metrics: Mapping[str, Any]) -> dict[str, Callable[[], Figure]]:
    """{"inferred": its drawing} for a run whose `inferred` block has intervals, else {}."""
    items = {name: item for name, item in (metrics.get("inferred") or {}).items()
             if item.get("interval") and np.all(np.isfinite(item["interval"]))}
    return {"inferred": functools.partial(inferred_figure, items, metrics)} if items else {}


def inferred_figure(items: Mapping[str, Mapping[str, Any]], metrics: Mapping[str, Any]) -> Figure:
    """Each inferred quantity's estimate and 95% interval relative to its true value (or to the
    estimate where no truth is known), the truth at zero."""
    fig = Figure(figsize=(8, 2.6 + 0.6 * len(items)))
    ax = fig.subplots()
    for row, (name, item) in enumerate(items.items()):
        centre = item["true"] if item.get("true") else item["value"]
        low, high = sorted((np.array(item["interval"]) / centre - 1.0) * 100)  # a negative centre flips them
        value = (item["value"] / centre - 1.0) * 100
        ax.errorbar([value], [row], xerr=[[value - low], [high - value]], fmt="o", color="C0", capsize=4,
                    label="estimate, 95% interval" if row == 0 else None)
        ax.annotate(f"{item['value']:.5g} ± {item['std']:.2g} {item.get('unit', '')}", (value, row),
                    xytext=(0, 7), textcoords="offset points", ha="center", va="bottom", fontsize=8,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0})
    if any(item.get("true") for item in items.values()):
        ax.axvline(0.0, color="k", ls="--", lw=1, label="true value")
    ax.set_yticks(range(len(items)), list(items))
    ax.set_ylim(-0.7, len(items) - 0.3)
    ax.margins(x=0.35)
    ax.set_xlabel("deviation from the true value (%)")
    ax.set_title(f"{run_title(metrics)}\n{noise_description(metrics) or 'noise: not recorded'}", fontsize=8)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2, frameon=False)
    return tight(fig)


def _flame_window(x: np.ndarray, T: np.ndarray) -> tuple[float, float]:
    """Where the reference temperature rises from 0.1% to 99.9% of its rise, widened by its own
    length on both sides and clipped to the domain."""
    rise = (T - T[0]) / (T.max() - T[0])
    start, stop = x[np.argmax(rise > 1e-3)], x[np.argmax(rise > 0.999)]
    pad = max(stop - start, 1e-12)
    return max(x[0], start - pad), min(x[-1], stop + pad)


def field_error_figure(solution: Mapping[str, np.ndarray], coordinate: str, label: str) -> Figure:
    """|T - T_ref| against x, and the residual against the collocation coordinate `coordinate`
    (a key of the solution: theta in the phase plane, s for the counterflow flame)."""
    fig = Figure(figsize=(9, 3.8))
    ax, ax_r = fig.subplots(1, 2)
    ax.semilogy(solution["x"] * 1e3, shown_positive(solution["T"] - solution["T_ref"], 1e-8))
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("|T - T_ref| (K)")
    ax_r.semilogy(solution[coordinate], shown_positive(solution["residual"], 1e-8))
    ax_r.set_xlabel(label)
    ax_r.set_ylabel("|relative residual|")
    return tight(fig)


def eigenvalue_history_figure(history: Mapping[str, np.ndarray], metrics: Mapping[str, Any]) -> Figure:
    """Relative error of the one eigenvalue (named by metrics' `eigenvalue_name`: s_L, Lambda)
    against step, with the reference's own error estimate and the run's tolerance."""
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    s_ref = metrics["reference_eigenvalues"][0]
    name = metrics.get("eigenvalue_name", "s_L")
    if name in history:
        ax.semilogy(history["step"], np.abs(history[name] / s_ref - 1.0) + 1e-300, label=f"PINN {name}")
    estimate = metrics.get("reference_error_estimate")
    if estimate:
        ax.axhline(abs(estimate / s_ref), color="k", ls="--", lw=1, label="reference error estimate")
    if metrics.get("tolerance"):
        ax.axhline(metrics["tolerance"], color="C3", lw=1, alpha=0.6, label=f"tolerance {metrics['tolerance']:.2g}")
    mark_phases(ax, history)
    ax.set_xlabel("step")
    ax.set_ylabel(f"|{name} / {name}_ref - 1|")
    ax.legend(fontsize=8)
    return tight(fig)


def plot_run(run_dir: Path) -> list[Path]:
    """Draw every figure of a run's report from its files and save them as PNGs beside them."""
    from pinn.problems.registry import report_of

    run_dir = Path(run_dir)
    metrics, history, solution = read_run(run_dir)
    paths = []
    for name, draw in report_of(metrics).figures(metrics, history, solution).items():
        draw().savefig(run_dir / f"{name}.png", dpi=120)
        paths.append(run_dir / f"{name}.png")
    return paths


def mark_phases(ax, history) -> None:
    """A dotted line where each phase begins, and the phase's name at the top; a name that would
    run into the one before it (short phases: restarts, refinement rounds) goes a line higher."""
    phase = history.get("phase")
    if phase is None or len(phase) == 0:
        return
    steps = history["step"]
    starts = [0] + [k for k in range(1, len(phase)) if phase[k] != phase[k - 1]]
    span = max(float(steps[-1] - steps[0]), 1.0)
    ends: list[float] = []  # per line of names, where its last name ends (in fractions of the steps shown)
    for k in starts:
        if k > 0:
            ax.axvline(steps[k], color="0.6", ls=":", lw=1)
        begin = float(steps[k] - steps[0]) / span
        line = next((i for i, end in enumerate(ends) if begin >= end), len(ends))
        if line == len(ends):
            ends.append(0.0)
        ends[line] = begin + 0.012 * (len(str(phase[k])) + 1)
        ax.annotate(f" {phase[k]}", (steps[k], 1.0), xycoords=ax.get_xaxis_transform(), xytext=(0, 8 * line),
                    textcoords="offset points", va="bottom", ha="left", fontsize=7, color="0.4")


def tight(fig: Figure) -> Figure:
    fig.tight_layout()
    return fig
