"""python -m pinn.plot RUN_DIR [RUN_DIR ...]: draw the figures of finished runs into their
directories (the PNGs a run writes unless it was given figures=false), from metrics.json,
history.csv and solution.npz."""

from __future__ import annotations

import sys

USAGE = __doc__.split(":", 1)[0] + "\n\n" + " ".join(__doc__.split(":", 1)[1].split())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in args):
        print(USAGE)
        return 0
    if not args:
        print("error: give one or more run directories: python -m pinn.plot RUN_DIR [RUN_DIR ...]", file=sys.stderr)
        return 2
    from pinn import load
    from pinn.errors import PinnError
    from pinn.io.figures import plot_run

    for run_dir in args:
        try:
            load(run_dir)  # a one-line error for a directory that is not a finished run
            paths = plot_run(run_dir)
        except (PinnError, OSError, ValueError) as exc:
            print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 2
        print(f"{run_dir}: {', '.join(p.name for p in paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
