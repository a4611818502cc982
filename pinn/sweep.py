"""Sweep summary: one table and a few figures for every job of a multirun.

Written automatically at the end of `python -m pinn -m ...` (the Hydra callback below is in
conf/config.yaml), and for an existing sweep directory with

    python -m pinn.sweep multirun/2026-11-22/16-15-22

A job directory holds `.hydra/overrides.yaml` (what was swept) and `metrics.json`; a job that
failed before writing metrics, or that wrote `status: failed`, appears as failed with its error.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from matplotlib.figure import Figure
from omegaconf import OmegaConf

SUMMARY_CSV = "summary.csv"


def _overrides(job_dir: Path) -> dict[str, str]:
    items = [str(item) for item in OmegaConf.load(job_dir / ".hydra" / "overrides.yaml")]
    return dict(item.split("=", 1) for item in items if "=" in item and not item.startswith("hydra"))


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def collect(sweep_dir: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per job (sorted by job number) and the swept keys (those that vary between jobs)."""
    sweep = Path(sweep_dir)
    if not sweep.is_dir():
        raise FileNotFoundError(f"{sweep} is not a directory; give the sweep directory a multirun printed")
    jobs = sorted((d for d in sweep.iterdir() if (d / ".hydra" / "overrides.yaml").is_file()),
                  key=lambda d: (not d.name.isdigit(), int(d.name) if d.name.isdigit() else 0, d.name))
    if not jobs:
        what = "a single run, not a sweep (pinn.load shows it)" if (sweep / "metrics.json").is_file() else \
            "not a sweep directory: no job directory with .hydra/overrides.yaml in it"
        raise ValueError(f"{sweep} is {what}; give the directory a multirun (python -m pinn -m ...) printed")
    rows, keys = [], []
    for job in jobs:
        overrides = _overrides(job)
        keys += [k for k in overrides if k not in keys]
        row: dict[str, Any] = {"job": job.name, **overrides}
        metrics_path = job / "metrics.json"
        if not metrics_path.is_file():
            row.update(status="failed", error="no metrics.json (the job stopped before writing it)")
        else:
            metrics = json.loads(metrics_path.read_text())
            row["status"] = metrics.get("status", "failed")
            row["error"] = metrics.get("error", metrics.get("status_detail", ""))
            for j, (E, ref, err) in enumerate(zip(metrics.get("eigenvalues", []),
                                                  metrics.get("reference_eigenvalues", []),
                                                  metrics.get("relative_errors", []))):
                row[f"E{j}"], row[f"E{j}_reference"], row[f"E{j}_relative_error"] = E, ref, err
            if metrics.get("relative_errors"):
                row["max_relative_error"] = max(float(e) for e in metrics["relative_errors"])
            row["tolerance"] = metrics.get("tolerance", "")
            row["train_seconds"] = metrics.get("train_seconds", "")
        rows.append(row)
    varying = [k for k in keys if len({r.get(k) for r in rows}) > 1]
    return rows, varying


def summarize(sweep_dir: str | Path) -> Path:
    """Write summary.csv and the figures into the sweep directory; return the CSV path."""
    sweep = Path(sweep_dir)
    rows, swept = collect(sweep)
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    path = sweep / SUMMARY_CSV
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    for name, fig in summary_figures(rows, swept).items():
        fig.savefig(sweep / name, dpi=110)
    return path


def summary_figures(rows: list[dict[str, Any]], swept: list[str]) -> dict[str, Figure]:
    """Per numeric swept key: eigenvalue and reference, relative error (log), seconds per job.
    Jobs that differ in the other swept keys are drawn as separate series."""
    figures: dict[str, Figure] = {}
    done = [r for r in rows if r.get("status") != "failed" and "E0" in r]
    for key in swept:
        if not done or any(_number(str(r.get(key, ""))) is None for r in done):
            continue
        others = [k for k in swept if k != key]
        series: dict[str, list[dict[str, Any]]] = {}
        for r in done:
            label = ", ".join(f"{k}={r.get(k, '')}" for k in others) or "all jobs"
            series.setdefault(label, []).append(r)
        fig = Figure(figsize=(13, 4))
        ax_e, ax_err, ax_t = fig.subplots(1, 3)
        for label, group in series.items():
            group = sorted(group, key=lambda r: _number(str(r[key])))
            x = [_number(str(r[key])) for r in group]
            line, = ax_e.plot(x, [float(r["E0_reference"]) for r in group], "o", ms=11, mfc="none", mew=1.5,
                              label=label)
            ax_e.plot(x, [float(r["E0"]) for r in group], ".-", ms=6, color=line.get_color())
            errors = [max(float(r["max_relative_error"]), 1e-17) for r in group]
            ax_err.semilogy(x, errors, "o-", label=label)
            bad = [(xi, e) for xi, e, r in zip(x, errors, group) if r["status"] != "ok"]
            if bad:
                ax_err.plot(*zip(*bad), "x", color="C3", ms=10, mew=2, label="status not ok" if label == next(iter(series)) else None)
            ax_t.plot(x, [float(r["train_seconds"]) for r in group], "o-", label=label)
        ax_e.set_ylabel("E0: PINN (dots), reference (rings)")
        ax_err.set_ylabel("max relative error")
        ax_t.set_ylabel("training seconds")
        ax_t.set_ylim(bottom=0)
        tolerances = {_number(str(r.get("tolerance", ""))) for r in done} - {None}
        if len(tolerances) == 1:
            ax_err.axhline(tolerances.pop(), color="C3", lw=1, alpha=0.6, label="tolerance")
        for ax in (ax_e, ax_err, ax_t):
            ax.set_xlabel(key)
        if len(series) > 1 or ax_err.get_legend_handles_labels()[0]:
            ax_err.legend(fontsize=7)
        failed = sum(r.get("status") == "failed" for r in rows)
        fig.suptitle(f"{len(done)} finished jobs" + (f", {failed} failed (see {SUMMARY_CSV})" if failed else ""))
        fig.tight_layout()
        figures[f"summary_{key.replace('/', '_')}.png"] = fig
    return figures


def sweep_size(config) -> int:
    """How many jobs the basic sweeper makes of a multirun's overrides and sweeper params."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    items = [f"{k}={v}" for k, v in (OmegaConf.select(config, "hydra.sweeper.params", default=None) or {}).items()]
    items += list(OmegaConf.select(config, "hydra.overrides.task", default=None) or [])
    sizes = {}
    for override in OverridesParser.create().parse_overrides(items):
        if override.is_sweep_override():
            sizes[override.key_or_group] = len(list(override.sweep_string_iterator()))
        else:
            sizes.pop(override.key_or_group, None)
    return math.prod(sizes.values())


def concurrent_jobs(config) -> int:
    """Jobs of this multirun that run at the same time on this machine: joblib's n_jobs (negative:
    counted back from the cores), every job at once for submitit_local; one for the basic launcher
    and for clusters (each job gets its own allocation)."""
    from pinn.training.threads import usable_cores

    launcher = str(OmegaConf.select(config, "hydra.launcher._target_", default="") or "")
    jobs = sweep_size(config)
    if "joblib" in launcher:
        n = OmegaConf.select(config, "hydra.launcher.n_jobs", default=-1)
        cores = usable_cores()
        n = cores if n is None else (cores + 1 + n if n < 0 else n)
        return max(1, min(n, jobs))
    if launcher.endswith("LocalLauncher"):
        return max(1, jobs)
    return 1


class SummaryCallback(Callback):
    """Hydra callback: tells the jobs how many of them share the machine (for their thread
    count), and writes the summary when a multirun ends; never fails the sweep itself."""

    def on_multirun_start(self, config, **kwargs) -> None:
        import logging
        import os

        from pinn.training.threads import JOBS_VARIABLE

        try:
            os.environ[JOBS_VARIABLE] = str(concurrent_jobs(config))
        except Exception as exc:  # a sweep that cannot be counted still runs, each job on all cores
            logging.getLogger("pinn").warning("could not count the sweep's concurrent jobs: %s", exc)

    def on_multirun_end(self, config, **kwargs) -> None:
        import logging

        try:
            path = summarize(Path(config.hydra.sweep.dir))
            logging.getLogger("pinn").info("sweep summary: %s", path)
        except Exception as exc:  # a summary problem must not turn a finished sweep into a failure
            logging.getLogger("pinn").error("sweep summary failed: %s", exc)


USAGE = """usage: python -m pinn.sweep SWEEP_DIR

Writes summary.csv and summary_<key>.png into SWEEP_DIR, the directory a multirun
(python -m pinn -m ...) printed: one row per job with its swept values, status, eigenvalues,
references, relative errors and seconds."""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in args):
        print(USAGE)
        return 0
    if len(args) != 1:
        print("error: give one sweep directory: python -m pinn.sweep SWEEP_DIR", file=sys.stderr)
        return 2
    try:
        path = summarize(args[0])
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows, _ = collect(args[0])
    print(f"{len(rows)} jobs, {sum(r['status'] == 'failed' for r in rows)} failed; summary: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
