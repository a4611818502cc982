"""Are the inferred values' error bars right? One inverse problem over many noise draws.

    python benchmarks/inverse_coverage.py                                  # flame_fpp_inverse, 2% noise, 20 draws
    python benchmarks/inverse_coverage.py --problem flame_ch4_inverse --noise 0.01 --draws 8
    python benchmarks/inverse_coverage.py --noise 0 --draws 1              # noise-free: every unknown to 1e-3

Each draw (`problem.noise_seed` = 0..K-1) is a full run at the problem's defaults. Per inferred
quantity the table gives the mean relative error, the mean and spread of z = (value - true) / std
(bias in units of the stated error; a calibrated std has z about N(0, 1)), the coverage (the
fraction of 95% intervals that contain the truth; the target is 0.85-1.0), the mean stated std
and the spread (standard deviation) of the values over the draws, and their ratio (near 1 when
the std is neither too small nor too wide). Each draw's row is printed as it finishes, with its
interval check (metrics.json `interval_check`: the profile of the least determined unknown, its
curvature relative to a linear model's and where the data's optimum lies from the estimate, in
standard errors), summarized at the end.
"""

from __future__ import annotations

import math
import time

import numpy as np

import harness


def summarize(rows: list[dict]) -> None:
    names = list(rows[0]["inferred"])
    print(f"\n{'quantity':>18} {'mean rel.err':>12} {'mean z':>8} {'sd z':>6} {'coverage':>9} "
          f"{'mean std':>10} {'spread':>10} {'std/spread':>10}")
    for name in names:
        items = [r["inferred"][name] for r in rows]
        values = np.array([i["value"] for i in items])
        true = items[0]["true"]
        stds = np.array([i.get("std", math.nan) for i in items])
        z = (values - true) / stds
        covered = [i["interval"][0] <= true <= i["interval"][1] for i in items if "interval" in i]
        spread = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
        print(f"{name:>18} {np.mean(np.abs(values / true - 1)):12.2e} {np.mean(z):8.2f} "
              f"{np.std(z, ddof=1) if len(z) > 1 else math.nan:6.2f} {np.mean(covered) if covered else math.nan:9.2f} "
              f"{np.mean(stds):10.3g} {spread:10.3g} {np.mean(stds) / spread:10.2f}")
    statuses = [r["status"] for r in rows]
    estimated = [r["noise"]["estimated"] for r in rows if r["noise"].get("estimated") is not None]
    print(f"\nstatuses: {', '.join(f'{s} {statuses.count(s)}' for s in sorted(set(statuses)))}; "
          f"noise estimated from the misfit: mean {np.mean(estimated) if estimated else math.nan:.4f}")
    checks = [r.get("interval_check") for r in rows]
    shapes = np.array([(c["curvature"], c["offset"]) for c in checks
                       if c and c["curvature"] is not None and c["offset"] is not None])
    if shapes.size:
        curvature, offset = shapes[:, 0], np.abs(shapes[:, 1])
        linear, centred = (sum(bool(c and c[key]) for c in checks) for key in ("linear", "centred"))
        print(f"interval check ({checks[0]['unknown']}): curvature {curvature.min():.2f} .. {curvature.max():.2f} "
              f"of a linear model's, the data's optimum {offset.mean():.2f} standard errors from the estimate on "
              f"average (at most {offset.max():.2f}); linear {linear}, centred {centred} of {len(rows)}")


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--problem", default="flame_fpp_inverse")
    parser.add_argument("--noise", type=float, default=None, help="problem.noise (default: the problem's)")
    parser.add_argument("--draws", type=int, default=20, help="noise seeds 0..K-1")
    parser.add_argument("--first", type=int, default=0, help="the first noise seed")
    args = harness.parse(parser)
    case = [f"problem={args.problem}"] + ([f"problem.noise={args.noise}"] if args.noise is not None else [])
    print(f"{args.problem} {' '.join(case[1:] + args.extra)}: {args.draws} noise draws, seed {args.seed}")
    rows = []
    for draw in range(args.first, args.first + args.draws):
        start = time.perf_counter()
        m = harness.run_case(case + [f"problem.noise_seed={draw}"], args)
        rows.append(m)
        cells = "  ".join(f"{k} {v['value']:.6g} ± {v.get('std', math.nan):.2g}" for k, v in m["inferred"].items())
        check = m.get("interval_check") or {}
        shape = (f"  check c {check['curvature']:.2f} t* {check['offset']:+.2f}" if check.get("offset") is not None
                 else "  check n/a")
        print(f"draw {draw:3d}: {cells}{shape}  [{m['status']}, {time.perf_counter() - start:.0f} s]", flush=True)
    summarize(rows)


if __name__ == "__main__":
    main()
