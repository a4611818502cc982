"""The k lowest states of every Schrödinger problem, 1D and 2D: prints one row per state.

    python benchmarks/states.py              # first 3 states of every 1D problem, then 2D
    python benchmarks/states.py --only-2d    # or --only-1d, or --problem harmonic2d
    python benchmarks/states.py --states 4 trainer.collocation_points=96

Each run is a full `run()` of the config the command line composes, with problem.n_states=k, in a
temporary directory; `train s` is that run's training time (shared by its k rows). Targets:
relative error <= 1e-5 for each of the first 3 states of every 1D problem, 2D
ground states <= 1e-4 and first excited levels <= 1e-3. Wein.w / K-T w: widths of the certified
intervals relative to |E_ref|; angle: the largest principal angle (radians) between the PINN states
of a 2D level and the reference eigenvectors, the comparison that means something for a degenerate
level; t<=1e-4 .. t<=1e-8: the training seconds after which every state's error (in the logged
rows of history.csv) stays at or below each level, shared by the run's rows like `train s`; ref s:
the reference's own solve.
"""

from __future__ import annotations

import math
import sys

import harness

ONE_D = [
    ["problem=infinite_well"],
    ["problem=finite_well"],
    ["problem=finite_barrier"],
    ["problem=finite_barrier", "problem.V0=120", "problem.half_width=0.25"],
    ["problem=harmonic"],
    ["problem=double_well"],
    ["problem=poschl_teller"],
    ["problem=custom", "problem.potential='x**2 + 0.3 * x'"],
]
TWO_D = [
    ["problem=box2d"],
    ["problem=box2d", "problem.Lx=1.5"],
    ["problem=harmonic2d"],
]


def main() -> int:
    parser = harness.parser(__doc__)
    parser.add_argument("--states", type=int, default=3)
    parser.add_argument("--only-1d", action="store_true")
    parser.add_argument("--only-2d", action="store_true")
    parser.add_argument("--problem", help="only the rows of this problem")
    args = harness.parse(parser)
    cases = ([] if args.only_2d else ONE_D) + ([] if args.only_1d else TWO_D)
    cases = [c for c in cases if args.problem is None or c[0] == f"problem={args.problem}"]
    header = (f"{'problem':<15} {'parameters':<30} {'n':>2} {'E':>17} {'E_ref':>17} {'rel.err':>9} {'est.err':>9} "
              f"{'Wein.w':>8} {'K-T w':>8} {'angle':>8} {'train s':>8} {harness.TIMES_HEADER} status")
    print(header)
    print("-" * len(header))
    worst: dict[str, float] = {}
    for case in cases:
        m = harness.run_case(case + [f"problem.n_states={args.states}"], args)
        params = " ".join(o.split(".", 1)[1] for o in case[1:]) or "defaults"
        angles = _angles_by_state(m)
        kato = m.get("eigenvalue_bounds_kato_temple", [None] * args.states)
        for j in range(args.states):
            ref, err = m["reference_eigenvalues"][j], m["relative_errors"][j]
            kind = "2D excited" if "levels" in m and j > 0 else ("2D ground" if "levels" in m else "1D")
            worst[kind] = max(worst.get(kind, 0.0), err)
            print(f"{m['problem']:<15} {params:<30} {j:>2} {m['eigenvalues'][j]:>17.11g} {ref:>17.11g} "
                  f"{err:>9.1e} {m['estimated_relative_errors'][j]:>9.1e} {harness.relative_width(m['eigenvalue_bounds'][j], ref):>8.1e} {harness.relative_width(kato[j], ref):>8.1e} "
                  f"{angles[j]:>8.1e} {m['train_seconds']:>8.1f} {harness.times_to_cells(m)} {m['status']}", flush=True)
    for kind, value in worst.items():
        print(f"worst relative error, {kind}: {value:.1e}")
    return 0


def _angles_by_state(metrics: dict) -> list[float]:
    """The principal angle of each state's level (2D), NaN in 1D."""
    out = [math.nan] * len(metrics["eigenvalues"])
    for level, angle in zip(metrics.get("levels", []), metrics.get("subspace_angles", [])):
        for j in level:
            out[j] = angle
    return out


if __name__ == "__main__":
    sys.exit(main())
