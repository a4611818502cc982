"""Accuracy and time of the Schrödinger wells on this machine: prints a table.

    python benchmarks/wells.py            # default problems and non-default parameter sets
    python benchmarks/wells.py --quick    # the three defaults only
    python benchmarks/wells.py --problem harmonic double_well   # the rows of these problems
    python benchmarks/wells.py --device cuda --dtype float32

Each row is a full `run()` of the same config the command line composes (same defaults), in a
temporary directory. est.err is the run's own a-posteriori estimate of rel.err (no reference);
t<=1e-4 .. t<=1e-8 the training seconds after which the error stays at or below each level (from
history.csv, so to the nearest logged step), ref s the reference's own solve time.
Targets: relative eigenvalue error <= 1e-6, psi L2 error <= 1e-4,
<= 60 s of training on 2 CPU cores in float64.
"""

from __future__ import annotations

import sys

import harness

DEFAULTS = [
    ["problem=infinite_well"],
    ["problem=finite_well"],
    ["problem=finite_barrier"],
]
VARIANTS = [
    ["problem=infinite_well", "problem.L=3.7"],
    ["problem=infinite_well", "problem.L=0.2"],
    ["problem=infinite_well", "problem.fixed_energy=true"],
    ["problem=finite_well", "problem.V0=37", "problem.half_width=0.7", "problem.L=2.5"],
    ["problem=finite_well", "problem.V0=2"],
    ["problem=finite_well", "problem.V0=400", "problem.half_width=0.5"],
    ["problem=finite_well", "problem.V0=5", "problem.L=12"],
    ["problem=finite_barrier", "problem.V0=500"],
    ["problem=finite_barrier", "problem.V0=120", "problem.half_width=0.25"],
    ["problem=finite_barrier", "problem.V0=-30", "problem.half_width=0.4", "problem.L=2"],
    ["problem=harmonic"],
    ["problem=harmonic", "problem.omega=4", "problem.L=3"],
    ["problem=double_well"],
    ["problem=poschl_teller"],
    ["problem=custom", "problem.potential='x**2 + 0.3 * x'"],
    ["problem=harmonic", "problem.omega=6"],
    ["problem=double_well", "problem.a=4"],
    ["problem=custom", "problem.potential='x**4 - 8 * x**2'"],
]


def main() -> int:
    parser = harness.parser(__doc__)
    parser.add_argument("--quick", action="store_true", help="only the three default problems")
    names = sorted({case[0].split("=", 1)[1] for case in DEFAULTS + VARIANTS})
    parser.add_argument("--problem", nargs="*", choices=names,
                        help="only the rows of these problems (put extra overrides before this option)")
    args = harness.parse(parser)
    cases = DEFAULTS + ([] if args.quick else VARIANTS)
    if args.problem:
        cases = [case for case in cases if case[0].split("=", 1)[1] in args.problem]
    header = (f"{'problem':<15} {'parameters':<42} {'E':>18} {'E_ref':>18} {'rel.err':>9} {'est.err':>9} {'RQ err':>9} "
              f"{'psi L2':>9} "
              f"{'Wein.w':>8} {'K-T w':>8} {'train s':>8} {harness.TIMES_HEADER} status")
    print(header)
    print("-" * len(header))
    worst = 0.0
    for case in cases:
        m = harness.run_case(case, args)
        params = " ".join(o.split(".", 1)[1] for o in case[1:]) or "defaults"
        E, ref = m["eigenvalues"][0], m["reference_eigenvalues"][0]
        worst = max(worst, m["relative_errors"][0])
        print(f"{m['problem']:<15} {params:<42} {E:>18.12g} {ref:>18.12g} {m['relative_errors'][0]:>9.1e} "
              f"{m['estimated_relative_errors'][0]:>9.1e} {m['rayleigh_relative_errors'][0]:>9.1e} {m['wavefunction_l2_errors'][0]:>9.1e} "
              f"{harness.relative_width(m['eigenvalue_bounds'][0], ref):>8.1e} "
              f"{harness.relative_width(m['eigenvalue_bounds_kato_temple'][0], ref):>8.1e} "
              f"{m['train_seconds']:>8.1f} {harness.times_to_cells(m)} {m['status']}", flush=True)
    print(f"worst relative eigenvalue error: {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
