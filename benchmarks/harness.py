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
import tempfile

from pinn.config import compose_config
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
    """The metrics of one run of `case` with the common options, its printed summary swallowed."""
    overrides = case + [f"device={args.device}", f"dtype={args.dtype}", f"seed={args.seed}",
                        "trainer.progress=none"] + args.extra
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        return run(compose_config(overrides), out_dir=tmp)


def relative_width(bounds, reference: float) -> float:
    """Width of a certified interval relative to |E_ref| (NaN where none could be formed)."""
    return float("nan") if bounds is None else (bounds[1] - bounds[0]) / abs(reference)
