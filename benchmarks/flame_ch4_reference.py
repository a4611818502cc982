"""Cantera's references for the shipped one-step CH4/air mechanism, at each refinement level:
s_L of the free flame, or Lambda of the premixed counterflow flame.

    python benchmarks/flame_ch4_reference.py                 # phi = 0.6 ... 1.4, T_in 300 K, 1 atm
    python benchmarks/flame_ch4_reference.py --phi 0.8 --extra-levels 2
    python benchmarks/flame_ch4_reference.py --counterflow   # 2 cm between nozzles, 1 m/s each

Shows that the reference flame speed used to check the PINN is converged: Cantera's grid is
refined level by level (about twice the points each time); `extrap.` is the Richardson
extrapolation of the last two levels (first order: upwind convection), the reference value;
`est.err` its relative change from the extrapolation one level coarser.
"""

from __future__ import annotations

import argparse
import time

from pinn.reference.flame_ch4 import COUNTERFLOW_REFINEMENT, REFINEMENT, counterflow, free_flame


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phi", type=float, nargs="*", default=[0.6, 0.8, 1.0, 1.2, 1.4])
    parser.add_argument("--T-in", type=float, default=300.0)
    parser.add_argument("--pressure", type=float, default=101325.0)
    parser.add_argument("--width", type=float, default=0.03, help="domain (m); counterflow: 0.02 unless given")
    parser.add_argument("--extra-levels", type=int, default=0, help="halve the tolerances this many more times")
    parser.add_argument("--counterflow", action="store_true", help="Lambda of the premixed counterflow flame")
    parser.add_argument("--velocity", type=float, default=1.0, help="counterflow: both nozzles' velocity (m/s)")
    args = parser.parse_args()
    levels = list(COUNTERFLOW_REFINEMENT if args.counterflow else REFINEMENT)
    for _ in range(args.extra_levels):
        ratio, slope, curve = levels[-1]
        levels.append((ratio, slope / 2, curve / 2))
    name = "Lambda (Pa/m^2)" if args.counterflow else "s_L (m/s)"
    print(f"{'phi':>5} {'slope':>9} {'points':>7} {name:>16} {'change':>9}")
    summary = []
    for phi in args.phi:
        start = time.perf_counter()
        if args.counterflow:
            flame = counterflow(phi, args.T_in, args.pressure, 0.02 if args.width == 0.03 else args.width,
                                args.velocity, args.velocity, levels=tuple(levels))
        else:
            flame = free_flame(phi, args.T_in, args.pressure, args.width, levels=tuple(levels))
        seconds = time.perf_counter() - start
        previous = None
        for row in flame.refinement.rows:
            change = "" if previous is None else f"{row['value'] - previous:9.1e}"
            print(f"{phi:5.2f} {row['slope']:9.2e} {row['points']:7d} {row['value']:16.10g} {change} "
                  f"{row['seconds']:7.1f} s")
            previous = row["value"]
        summary.append((phi, flame, seconds))
        print()
    print(f"{'phi':>5} {'finest':>14} {'extrap.':>14} {'est.err':>9} {'T_max (K)':>10} {'seconds':>8}")
    for phi, flame, seconds in summary:
        r = flame.refinement
        print(f"{phi:5.2f} {r.finest:14.9g} {r.extrapolated:14.9g} {r.error_estimate / abs(r.extrapolated):9.1e} "
              f"{flame.T.max():10.1f} {seconds:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
