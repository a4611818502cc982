"""Cantera's FreeFlame for the shipped one-step CH4/air mechanism: s_L at each refinement level.

    python benchmarks/flame_ch4_reference.py                 # phi = 0.6 ... 1.4, T_in 300 K, 1 atm
    python benchmarks/flame_ch4_reference.py --phi 0.8 --extra-levels 2

Shows that the reference flame speed used to check the PINN is converged: Cantera's grid is
refined level by level (about twice the points each time); `extrap.` is the Richardson
extrapolation of the last two levels (first order: upwind convection), the reference value;
`est.err` its relative change from the extrapolation one level coarser.
"""

from __future__ import annotations

import argparse
import time

from pinn.reference.flame_ch4 import REFINEMENT, free_flame


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phi", type=float, nargs="*", default=[0.6, 0.8, 1.0, 1.2, 1.4])
    parser.add_argument("--T-in", type=float, default=300.0)
    parser.add_argument("--pressure", type=float, default=101325.0)
    parser.add_argument("--width", type=float, default=0.03)
    parser.add_argument("--extra-levels", type=int, default=0, help="halve the tolerances this many more times")
    args = parser.parse_args()
    levels = list(REFINEMENT)
    for _ in range(args.extra_levels):
        ratio, slope, curve = levels[-1]
        levels.append((ratio, slope / 2, curve / 2))
    print(f"{'phi':>5} {'slope':>9} {'points':>7} {'s_L (m/s)':>13} {'change':>9}")
    summary = []
    for phi in args.phi:
        start = time.perf_counter()
        flame = free_flame(phi, args.T_in, args.pressure, args.width, levels=levels)
        seconds = time.perf_counter() - start
        previous = None
        for row in flame.refinement:
            change = "" if previous is None else f"{row['s_L'] - previous:9.1e}"
            print(f"{phi:5.2f} {row['slope']:9.2e} {row['points']:7d} {row['s_L']:13.8f} {change}")
            previous = row["s_L"]
        summary.append((phi, flame, seconds))
        print()
    print(f"{'phi':>5} {'s_L finest':>12} {'extrap.':>12} {'est.err':>9} {'T_max (K)':>10} {'seconds':>8}")
    for phi, flame, seconds in summary:
        print(f"{phi:5.2f} {flame.s_L:12.8f} {flame.s_L_extrapolated:12.8f} {flame.error_estimate / flame.s_L_extrapolated:9.1e} "
              f"{flame.T.max():10.1f} {seconds:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
