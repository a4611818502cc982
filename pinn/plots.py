"""Figures drawn from a run directory's saved files, so a notebook can redraw them."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pinn.outputs import read_history  # noqa: E402


def plot_wavefunctions(run_dir: Path) -> Path:
    """psi against the reference for every state, with V drawn behind."""
    data = np.load(Path(run_dir) / "solution.npz")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    axv = ax.twinx()
    axv.fill_between(data["x"], data["V"], color="0.85", step="mid", zorder=0)
    axv.set_ylabel("V(x)", color="0.45")
    ax.set_zorder(axv.get_zorder() + 1)
    ax.patch.set_visible(False)
    for j, (psi, ref, E) in enumerate(zip(data["psi"], data["psi_ref"], data["eigenvalues"])):
        line, = ax.plot(data["x"], psi, lw=2, label=f"PINN state {j}, E={E:.8g}")
        ax.plot(data["x"], ref, "--", color="k", lw=1, label="reference" if j == 0 else None)
    ax.set_xlabel("x")
    ax.set_ylabel("psi(x)")
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, run_dir, "wavefunction.png")


def plot_pointwise_error(run_dir: Path) -> Path:
    data = np.load(Path(run_dir) / "solution.npz")
    fig, ax = plt.subplots(figsize=(7, 4))
    for j, (psi, ref) in enumerate(zip(data["psi"], data["psi_ref"])):
        ax.semilogy(data["x"], np.abs(psi - ref) + 1e-300, label=f"state {j}")
    ax.set_xlabel("x")
    ax.set_ylabel("|psi - psi_ref|")
    ax.legend(fontsize=8)
    return _save(fig, run_dir, "error.png")


def plot_losses(run_dir: Path) -> Path:
    hist = read_history(Path(run_dir) / "history.csv")
    skip = {"step", "phase", "time", "lr"}
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, values in hist.items():
        if key in skip or key.startswith("E") or values.dtype.kind != "f":
            continue
        mask = np.isfinite(values) & (np.abs(values) > 0)
        if mask.any():
            ax.semilogy(hist["step"][mask], np.abs(values[mask]), label=key)
    _mark_phases(ax, hist)
    ax.set_xlabel("step")
    ax.set_ylabel("loss term")
    ax.legend(fontsize=8)
    return _save(fig, run_dir, "losses.png")


def plot_eigenvalue_convergence(run_dir: Path) -> Path:
    """log10 |E - E_ref| against step for every state."""
    hist = read_history(Path(run_dir) / "history.csv")
    metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    fig, ax = plt.subplots(figsize=(7, 4))
    for j, E_ref in enumerate(metrics["reference_eigenvalues"]):
        E = hist.get(f"E{j}")
        if E is None:
            continue
        err = np.abs(E - E_ref)
        ax.plot(hist["step"], np.log10(np.maximum(err, 1e-300)), label=f"state {j}")
    _mark_phases(ax, hist)
    ax.set_xlabel("step")
    ax.set_ylabel("log10 |E - E_ref|")
    ax.legend(fontsize=8)
    return _save(fig, run_dir, "eigenvalue.png")


def plot_run(run_dir: Path) -> list[Path]:
    return [plot_wavefunctions(run_dir), plot_pointwise_error(run_dir), plot_losses(run_dir),
            plot_eigenvalue_convergence(run_dir)]


def _mark_phases(ax, hist) -> None:
    phase = hist.get("phase")
    if phase is None or len(phase) == 0:
        return
    for k in range(1, len(phase)):
        if phase[k] != phase[k - 1]:
            ax.axvline(hist["step"][k], color="0.6", ls=":", lw=1)


def _save(fig, run_dir: Path, name: str) -> Path:
    path = Path(run_dir) / name
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
