"""Accuracy and time of the counterflow CH4/air flame PINN against Cantera: prints a table.

    python benchmarks/flame_counterflow.py                       # the cases below
    python benchmarks/flame_counterflow.py --case 0.8,1,1 0.6,2,2  # phi,u_reactants,u_products
    python benchmarks/flame_counterflow.py --inverse             # Lambda, E_a from 20 noisy observations
    python benchmarks/flame_counterflow.py trainer.phases.solve.steps=300 --inverse --noise 0.01

Each row is a full `run()` in a temporary directory: Cantera's refined and extrapolated
CounterflowPremixedFlame (its seconds in `ref s`), then the training (`train s`).
"""

from __future__ import annotations

import logging
import time

import harness


CASES = ((0.8, 1.0, 1.0), (0.6, 1.0, 1.0), (0.8, 2.0, 2.0), (0.8, 1.0, 0.5))
SPECIES = ("CH4", "O2", "CO2", "H2O")
NOISES = (0.0, 0.01, 0.02)


def _case(text: str) -> tuple[float, float, float]:
    phi, u_r, u_p = (float(v) for v in text.split(","))
    return phi, u_r, u_p


def inverse(args) -> None:
    header = (f"{'noise':>6} {'Lambda':>11} {'err':>8} {'E_a J/mol':>11} {'err':>8} {'T L2':>8} "
              f"{'resid':>8} {'train s':>7} status")
    print(header)
    print("-" * len(header))
    for noise in args.noise:
        m = harness.run_case(["problem=flame_counterflow_inverse", f"problem.noise={noise}"], args)
        cells = " ".join(f"{m['inferred'][k]['value']:>11.6g} {m['inferred'][k]['relative_error']:>8.1e}"
                         for k in ("Lambda", "activation_energy"))
        print(f"{noise:>6.3f} {cells} {m['field_l2_errors']['T']:>8.1e} {m['residual_rms'][0]:>8.1e} "
              f"{m['train_seconds']:>7.0f} {m['status']}", flush=True)


def main() -> int:
    parser = harness.parser(__doc__)
    parser.add_argument("--case", type=_case, nargs="+", default=CASES, help="phi,u_reactants,u_products")
    parser.add_argument("--inverse", action="store_true", help="the inverse problem at noise 0, 1%%, 2%%")
    parser.add_argument("--noise", type=float, nargs="+", default=NOISES, help="--inverse: these noise levels")
    args = harness.parse(parser, logging.ERROR)
    if args.inverse:
        inverse(args)
        return 0
    header = (f"{'phi':>4} {'u_r':>4} {'u_p':>4} {'Lambda PINN':>12} {'Lambda Cantera':>14} {'rel.err':>8} "
              f"{'ref.err':>8} {'T L2':>8} {'u L2':>8} {'V L2':>8} "
              + " ".join(f"{'Y_' + k + ' L2':>9}" for k in SPECIES) + f" {'ref s':>6} {'train s':>7} status")
    print(header)
    print("-" * len(header))
    for phi, u_r, u_p in args.case:
        start = time.perf_counter()
        m = harness.run_case(["problem=flame_counterflow", f"problem.phi={phi}", f"problem.u_reactants={u_r}",
                  f"problem.u_products={u_p}"], args)
        total = time.perf_counter() - start
        e = m["field_l2_errors"]
        ref = m["reference_eigenvalues"][0]
        print(f"{phi:>4.1f} {u_r:>4.1f} {u_p:>4.1f} {m['eigenvalues'][0]:>12.2f} {ref:>14.2f} "
              f"{m['relative_errors'][0]:>8.1e} {abs(m['reference_error_estimate'] / ref):>8.1e} "
              f"{e['T']:>8.1e} {e['u']:>8.1e} {e['V']:>8.1e} " + " ".join(f"{e['Y_' + k]:>9.1e}" for k in SPECIES)
              + f" {total - m['train_seconds']:>6.0f} {m['train_seconds']:>7.0f} {m['status']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
