"""Every Schrödinger problem at parameters nobody tuned for: seeded random draws over the physical
ranges, each run at the default tolerance; prints one row per run and the distribution per problem.

    python benchmarks/random_parameters.py                    # 20 sets per problem (hours on 2 cores)
    python benchmarks/random_parameters.py --sets 3 --problem finite_well harmonic2d
    python benchmarks/random_parameters.py --sets 20 --draw-seed 1
    python benchmarks/random_parameters.py --first 5 --sets 5 --problem harmonic   # draws 5..9
    python benchmarks/random_parameters.py --tally part1.log part2.log   # the summary of saved rows

Ranges (log-uniform where they span decades): lengths 0.3..10, step heights 1..1000 (barriers
also negative), oscillator frequencies 0.2..20 (2D 0.3..5), double-well barriers a = 0.1..20,
Poschl-Teller depths 0.5..10, boxes with sides 0.3..3, n_states 1..3 (1D) and 1..3 (2D), and three
typed `custom` potentials with random coefficients. Columns: the worst true relative error over the
states, the worst estimated one (from the network alone), their ratio, the refinement rounds the
run took after its schedule, the states it restarted because they had skipped a level, the
training time and the status (with the kinds of the checks that failed). Targets: at least 95% of
the sets within the tolerance, no `ok` with a true error above 10x the tolerance, and no estimate
below a tenth of the true error.
"""

from __future__ import annotations

import math
import sys

import numpy as np

import harness

PROBLEMS = ["infinite_well", "finite_well", "finite_barrier", "harmonic", "double_well", "poschl_teller",
            "custom", "box2d", "harmonic2d"]
CUSTOM = ["k * x**4 - x**2", "x**2 + c * x", "a * (1 - exp(-(x - 1)))**2 - a"]


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def draw(problem: str, rng: np.random.Generator) -> list[str]:
    """One random parameter set of `problem`, as overrides."""
    r = lambda x: f"{x:.4g}"  # noqa: E731  (values as a user would type them)
    states = int(rng.integers(1, 4))
    if problem == "infinite_well":
        params = {"L": r(log_uniform(rng, 0.3, 10))}
    elif problem in ("finite_well", "finite_barrier"):
        L = log_uniform(rng, 0.5, 10)
        V0 = log_uniform(rng, 1, 1000) * (1 if problem == "finite_well" or rng.random() < 0.8 else -0.05)
        params = {"V0": r(V0), "half_width": r(L * rng.uniform(0.1, 0.8)), "L": r(L)}
    elif problem == "harmonic":
        params = {"omega": r(log_uniform(rng, 0.2, 20)), "L": r(rng.uniform(3, 8))}
    elif problem == "double_well":
        b = rng.uniform(0.5, 2.0)
        params = {"a": r(log_uniform(rng, 0.1, 20)), "b": r(b), "L": r(b + rng.uniform(1.0, 3.0))}
    elif problem == "poschl_teller":
        params = {"lam": r(log_uniform(rng, 0.5, 10)), "L": r(rng.uniform(4, 10))}
    elif problem == "custom":
        kind = int(rng.integers(len(CUSTOM)))
        constants = [("k", log_uniform(rng, 0.05, 2)), ("c", rng.uniform(-1, 1)), ("a", log_uniform(rng, 2, 20))][kind]
        overrides = [f"problem.potential='{CUSTOM[kind]}'", f"+problem.constants.{constants[0]}={r(constants[1])}",
                     f"problem.L={r(rng.uniform(4, 8))}", f"problem.n_states={states}"]
        return [f"problem={problem}", *overrides]
    elif problem == "box2d":
        params = {"Lx": r(log_uniform(rng, 0.3, 3)), "Ly": r(log_uniform(rng, 0.3, 3))}
    elif problem == "harmonic2d":
        params = {"omega": r(log_uniform(rng, 0.3, 5)), "L": r(rng.uniform(4, 6))}
    else:
        raise SystemExit(f"no parameter ranges for {problem}")
    return [f"problem={problem}", *(f"problem.{k}={v}" for k, v in params.items()), f"problem.n_states={states}"]


Row = tuple[float, float, float, float, str]  # true error, estimate, tolerance, seconds, status


def summarize(table: dict[str, list[Row]]) -> None:
    print(f"{'problem':<14} {'sets':>4} {'within tol':>10} {'ok>10tol':>8} {'est<true/10':>11} "
          f"{'median true':>11} {'max true':>9} {'median s':>8} {'max s':>7}")
    every: list[Row] = []
    for problem, rows in table.items():
        every += rows
        _summary_row(problem, rows)
    if len(table) > 1:
        _summary_row("all", every)


def _summary_row(label: str, rows: list[Row]) -> None:
    true = np.array([r[0] for r in rows])
    est = np.array([r[1] for r in rows])
    tol = np.array([r[2] for r in rows])
    seconds = np.array([r[3] for r in rows])
    within = np.mean(true <= tol)
    wrong_ok = sum(1 for r in rows if r[4] == "ok" and r[0] > 10 * r[2])
    under = int(np.sum(est < true / 10))
    print(f"{label:<14} {len(rows):>4} {within:>10.0%} {wrong_ok:>8} {under:>11} {np.median(true):>11.1e} "
          f"{np.max(true):>9.1e} {np.nanmedian(seconds):>8.1f} {np.nanmax(seconds):>7.1f}")


def tally(paths: list[str]) -> dict[str, list[Row]]:
    """The rows printed by earlier runs of this script (a later row of the same problem and
    parameters replaces an earlier one), by problem."""
    rows: dict[tuple[str, str], Row] = {}
    for path in paths:
        try:
            lines = open(path, encoding="utf-8").read().splitlines()
        except OSError as exc:
            raise SystemExit(f"--tally: cannot read {path}: {exc.strerror}") from None
        inside = False  # within a table of this benchmark's rows (after its header)
        for line in lines:
            if line.startswith("problem ") or not line.strip() or line.startswith("```"):
                inside = "true err" in line and "est err" in line
                continue
            problem = line[:14].strip()
            tokens = line[78:].split()
            if not inside or problem not in PROBLEMS or len(tokens) < 7:
                continue
            try:
                true, est, _, tol = (float(t) for t in tokens[:4])
                rest = tokens[6:] if _number(tokens[6]) else tokens[5:]
                seconds, status = float(rest[0]), rest[1]
                if "reference" in " ".join(rest[2:]):  # printed to two digits, 1.0e-08 may exceed 1e-08
                    true = max(true, math.nextafter(tol, math.inf))
                rows[(problem, line[15:77].strip())] = (true, est, tol, seconds, status)
            except (ValueError, IndexError):
                continue
    table: dict[str, list[Row]] = {}
    for (problem, _), row in rows.items():
        table.setdefault(problem, []).append(row)
    return table


def _number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def main() -> int:
    if sys.argv[1:2] == ["--tally"]:
        table = tally(sys.argv[2:])
        if not table:
            raise SystemExit("--tally: no rows of this benchmark in " + " ".join(sys.argv[2:]))
        summarize(table)
        return 0
    parser = harness.parser(__doc__)
    parser.add_argument("--sets", type=int, default=20, help="parameter sets per problem")
    parser.add_argument("--first", type=int, default=0, help="index of the first draw run (the earlier ones are skipped)")
    parser.add_argument("--draw-seed", type=int, default=0, help="seed of the parameter draws")
    parser.add_argument("--problem", nargs="*", default=PROBLEMS, choices=PROBLEMS,
                        help="only these problems (put extra overrides before this option)")
    args = harness.parse(parser)
    header = (f"{'problem':<14} {'parameters':<62} {'true err':>9} {'est err':>9} {'est/true':>8} "
              f"{'tol':>7} {'rounds':>6} {'restart':>7} {'train s':>8} status")
    print(header)
    print("-" * len(header))
    table: dict[str, list[Row]] = {}
    for problem in args.problem:
        rng = np.random.default_rng([args.draw_seed, PROBLEMS.index(problem)])
        for k in range(args.first + args.sets):
            case = draw(problem, rng)
            if k < args.first:
                continue
            try:
                m = harness.run_case(case, args)
            except Exception as exc:  # a refused parameter set is a row too
                print(f"{problem:<14} {' '.join(case[1:]):<62} failed: {str(exc).splitlines()[0]}", flush=True)
                table.setdefault(problem, []).append((math.inf, math.nan, math.nan, math.nan, "error"))
                continue
            true, est = max(m["relative_errors"]), max(m["estimated_relative_errors"])
            table.setdefault(problem, []).append((true, est, m["tolerance"], m["train_seconds"], m["status"]))
            shown = " ".join(o.split(".", 1)[-1] for o in case[1:])
            rounds = sum(1 for row in m["refinement"] if row["action"] == "refine")
            restarted = [s for row in m["refinement"] if row["action"] == "restart" for s in row["states"]]
            failed = ",".join(c["kind"] for c in m.get("checks", []) if not c["passed"])
            print(f"{problem:<14} {shown:<62.62} {true:>9.1e} {est:>9.1e} {est / max(true, 1e-300):>8.2g} "
                  f"{m['tolerance']:>7.0e} {rounds:>6} {','.join(map(str, restarted)) or '-':>7} "
                  f"{m['train_seconds']:>8.1f} {m['status']}"
                  f"{' (' + failed + ')' if failed else ''}", flush=True)
    print()
    summarize(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
