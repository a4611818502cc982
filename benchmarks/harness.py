"""What the benchmark scripts share: their common options and one quiet `run()` of the config the
command line composes, in a temporary directory.

    parser = harness.parser(__doc__)     # --device, --dtype, --seed and extra overrides
    metrics = harness.run_case(["problem=finite_well", "problem.V0=30"], args)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import math
import tempfile
from pathlib import Path

import numpy as np

from pinn.config import compose_config
from pinn.io.files import read_history
from pinn.run import run


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark takes; a script adds its own."""
    result = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    result.add_argument("--device", default="cpu")
    result.add_argument("--dtype", default="float64")
    result.add_argument("--seed", type=int, default=0)
    result.add_argument("extra", nargs="*", help="extra overrides applied to every row")
    return result


def parse(parser_: argparse.ArgumentParser, level: int = logging.WARNING) -> argparse.Namespace:
    """The arguments, with pinn's log quiet below `level`."""
    args = parser_.parse_args()
    logging.getLogger("pinn").setLevel(level)
    return args


def run_case(case: list[str], args: argparse.Namespace) -> dict:
    """The metrics of one run of `case` with the common options, its printed summary swallowed;
    its history.csv columns under the key `history`."""
    overrides = case + [f"device={args.device}", f"dtype={args.dtype}", f"seed={args.seed}",
                        "trainer.progress=none"] + args.extra
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        metrics = run(compose_config(overrides), out_dir=tmp)
        return {**metrics, "history": read_history(Path(tmp) / "history.csv")}


LEVELS = (1e-4, 1e-6, 1e-8)


def times_to(metrics: dict, levels: tuple[float, ...] = LEVELS) -> list[float]:
    """Training seconds after which the worst relative eigenvalue error (of the logged rows) is at
    or below each level for good; NaN where it never gets there."""
    history = metrics["history"]
    references = metrics["reference_eigenvalues"]
    names = [metrics["eigenvalue_name"]] if "eigenvalue_name" in metrics else [f"E{j}" for j in range(len(references))]
    errors = np.max([np.abs(history[name] / ref - 1.0) for name, ref in zip(names, references)],
                    axis=0)
    seconds = history["time"]
    result = []
    for level in levels:
        above = np.flatnonzero(~(errors <= level))
        first = 0 if above.size == 0 else above[-1] + 1
        result.append(float(seconds[first]) if first < seconds.size else math.nan)
    return result


def times_to_cells(metrics: dict) -> str:
    """The times of `times_to` and the reference's solve time, as table cells."""
    cells = [f"{t:>7.1f}" if math.isfinite(t) else f"{'-':>7}" for t in times_to(metrics)]
    return " ".join(cells) + f" {metrics['reference']['solve_seconds']:>6.2f}"


TIMES_HEADER = " ".join(f"{f't<={level:.0e}':>7}" for level in LEVELS) + f" {'ref s':>6}"


def relative_width(bounds, reference: float) -> float:
    """Width of a certified interval relative to |E_ref| (NaN where none could be formed)."""
    return float("nan") if bounds is None else (bounds[1] - bounds[0]) / abs(reference)
