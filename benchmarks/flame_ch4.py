"""Accuracy and time of the CH4/air flame PINN against Cantera on this machine: prints a table.

    python benchmarks/flame_ch4.py                 # phi = 0.6, 0.8, 1.0, 1.2, 1.4 (300 K, 1 atm)
    python benchmarks/flame_ch4.py --phi 0.8 1.0   # chosen equivalence ratios
    python benchmarks/flame_ch4.py --device cuda
    python benchmarks/flame_ch4.py --inverse       # s_L, A, E_a from 20 noisy observations at phi = 0.8
    python benchmarks/flame_ch4.py problem.data_weight=0.1 --inverse --noise 0.01   # overrides before --noise

Each row is a full `run()` of problem=flame_ch4 in a temporary directory: Cantera's reference
(refined and extrapolated, its seconds in `ref s`) and then the training (`train s`).
Target: s_L within 1e-3 of Cantera's for every phi; T and major-species L2
errors reported.
"""

from __future__ import annotations

import logging
import time

import harness


PHIS = (0.6, 0.8, 1.0, 1.2, 1.4)
SPECIES = ("CH4", "O2", "CO2", "H2O")
NOISES = (0.0, 0.01, 0.02)


def inverse(args) -> None:
    header = (f"{'noise':>6} {'s_L':>11} {'err':>8} {'A (SI)':>11} {'err':>8} {'E_a J/mol':>11} {'err':>8} "
              f"{'resid':>8} {'train s':>7} status")
    print(header)
    print("-" * len(header))
    for noise in args.noise:
        m = harness.run_case(["problem=flame_ch4_inverse", f"problem.noise={noise}"], args)
        cells = " ".join(f"{m['inferred'][k]['value']:>11.6g} {m['inferred'][k]['relative_error']:>8.1e}"
                         for k in ("s_L", "pre_exponential", "activation_energy"))
        print(f"{noise:>6.3f} {cells} {m['residual_rms'][0]:>8.1e} {m['train_seconds']:>7.0f} {m['status']}", flush=True)


def main() -> int:
    parser = harness.parser(__doc__)
    parser.add_argument("--phi", type=float, nargs="+", default=PHIS)
    parser.add_argument("--inverse", action="store_true", help="the inverse problem at noise 0, 1%%, 2%%")
    parser.add_argument("--noise", type=float, nargs="+", default=NOISES, help="--inverse: these noise levels")
    args = harness.parse(parser, logging.ERROR)
    if args.inverse:
        inverse(args)
        return 0
    header = (f"{'phi':>5} {'s_L PINN':>12} {'s_L Cantera':>12} {'rel.err':>8} {'ref.err':>8} {'T L2':>8} "
              + " ".join(f"{'Y_' + k + ' L2':>9}" for k in SPECIES) + f" {'steps':>5} {'ref s':>6} {'train s':>7} status")
    print(header)
    print("-" * len(header))
    worst = 0.0
    for phi in args.phi:
        start = time.perf_counter()
        m = harness.run_case(["problem=flame_ch4", f"problem.phi={phi}"], args)
        total = time.perf_counter() - start
        errors = m["field_l2_errors"]
        worst = max(worst, m["relative_errors"][0])
        s_ref = m["reference_eigenvalues"][0]
        print(f"{phi:>5.2f} {m['eigenvalues'][0]:>12.8f} {s_ref:>12.8f} {m['relative_errors'][0]:>8.1e} "
              f"{m['reference_error_estimate'] / s_ref:>8.1e} {errors['T']:>8.1e} "
              + " ".join(f"{errors['Y_' + k]:>9.1e}" for k in SPECIES)
              + f" {m['steps']:>5d} {total - m['train_seconds']:>6.0f} {m['train_seconds']:>7.0f} {m['status']}", flush=True)
    print(f"worst relative s_L error: {worst:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
