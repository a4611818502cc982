"""Accuracy and time of the flame-speed PINN on this machine: prints tables.

    python benchmarks/flames.py              # phi x T_in, and the reference's convergence
    python benchmarks/flames.py --quick      # defaults only
    python benchmarks/flames.py --inverse    # the inverse problem at noise 0, 0.5%, 1%, 2%
    python benchmarks/flames.py --device cuda

Each row is a full `run()` of the config the command line composes, in a temporary directory.
Targets: relative s_L error <= 1e-4 in <= 120 s of training on 2 CPU cores, float64;
inverse at 2% noise: s_L within 0.5%, conductivity and activation energy within 2%.
"""

from __future__ import annotations

import logging

import harness
from pinn.reference import flame as F

GRID = [(phi, T_in) for T_in in (298.0, 400.0) for phi in (0.38, 0.42, 0.46, 0.50)]
NOISES = (0.0, 0.005, 0.01, 0.02)


def forward(args) -> None:
    cases = [(0.42, 298.0)] if args.quick else GRID
    header = (f"{'phi':>5} {'T_in':>6} {'s_L PINN':>14} {'s_L ref':>14} {'rel.err':>9} {'T L2':>9} {'u L2':>9} "
              f"{'ref.err':>8} {'domain':>8} {'train s':>8} status")
    print(header)
    print("-" * len(header))
    worst = 0.0
    for phi, T_in in cases:
        m = harness.run_case(["problem=flame_fpp", f"problem.phi={phi}", f"problem.T_in={T_in}"], args)
        worst = max(worst, m["relative_errors"][0])
        print(f"{phi:>5.2f} {T_in:>6.0f} {m['eigenvalues'][0]:>14.10f} {m['reference_eigenvalues'][0]:>14.10f} "
              f"{m['relative_errors'][0]:>9.1e} {m['field_l2_errors']['T']:>9.1e} {m['field_l2_errors']['u']:>9.1e} "
              f"{m['reference_error_estimate'] / m['reference_eigenvalues'][0]:>8.1e} {m['domain_effect']:>8.1e} "
              f"{m['train_seconds']:>8.1f} {m['status']}", flush=True)
    print(f"worst relative s_L error: {worst:.1e}")


def reference_table() -> None:
    """The reference's own convergence at the defaults: raw FD speeds, observed order, extrapolation."""
    result = F.solve_converged(F.FlameParameters())
    print(f"\nreference convergence at the defaults (second-order FD + Richardson), s_L = {result.s:.12f} m/s, "
          f"estimated error {result.error_estimate:.1e}, shooting {result.shooting_s:.12f}")
    print(f"{'cells':>7} {'s_L (raw)':>16} {'difference':>11} {'order':>6} {'extrapolated':>16}")
    for row in result.table:
        print(f"{row['cells']:>7d} {row['s']:>16.12f} {row['difference']:>11.2e} {row['order']:>6.3f} "
              f"{row['extrapolated']:>16.12f}")


def inverse(args) -> None:
    """Each inferred value with its standard error, its relative error, and z = (value - true) / std."""
    names = ("s_L", "conductivity", "activation_energy")
    header = f"{'noise':>6} " + " ".join(f"{name:>26} {'err':>8} {'z':>5}" for name in names) + \
        f" {'noise est':>9} {'train s':>8} status"
    print(header)
    print("-" * len(header))
    for noise in NOISES:
        m = harness.run_case(["problem=flame_fpp_inverse", f"problem.noise={noise}"], args)
        cells = []
        for key in names:
            item = m["inferred"][key]
            z = (item["value"] - item["true"]) / item["std"]
            cells.append(f"{item['value']:>14.7g} ± {item['std']:<9.2g} {item['relative_error']:>8.1e} {z:>5.1f}")
        print(f"{noise:>6.3f} {' '.join(cells)} {m['noise']['estimated']:>9.2g} {m['train_seconds']:>8.1f} {m['status']}",
              flush=True)


def main() -> int:
    parser = harness.parser(__doc__)
    parser.add_argument("--quick", action="store_true", help="the default flame only")
    parser.add_argument("--inverse", action="store_true", help="the inverse problem instead")
    args = harness.parse(parser, logging.ERROR)
    if args.inverse:
        inverse(args)
        return 0
    forward(args)
    if not args.quick:
        reference_table()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
