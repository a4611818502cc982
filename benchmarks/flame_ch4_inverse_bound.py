"""What the observations of flame_ch4_inverse (or flame_counterflow_inverse) can tell, from Cantera alone (no PINN): the
Cramér-Rao bound of the design and the maximum-likelihood estimate of each noise draw.

    python benchmarks/flame_ch4_inverse_bound.py                 # phi 0.8, 1% noise, draws 0..7
    python benchmarks/flame_ch4_inverse_bound.py --draws 20 --noise 0.02
    python benchmarks/flame_ch4_inverse_bound.py --counterflow   # flame_counterflow_inverse's E_a

The data rows are the inverse problem's own: its observation positions, its noise draws and its
misfit, (model - observed) / (sigma (|observed| + floor)). The model is Cantera's FreeFlame
(pinn.reference, its preheat zone resolved as for the problem's data) with the rate's A and E_a
scaled, each profile placed by where T is halfway up, and an offset of that place as a third
unknown (the PINN's nuisance offset). Central differences
of +-`step` in ln A and ln E_a give the Jacobian J of the rows; the bound is (J^T J)^-1 with the
offset profiled out, and s_L's from its gradient. Each draw's estimate is the linearized one,
p = -(J^T J)^-1 J^T r at the truth, which the exact fit (a Gauss-Newton iteration with Cantera
solves, 2026-12-07, draws 0 and 3, on the unresolved flame) matches within a fifth of a standard
error.

With `--counterflow` the same for `flame_counterflow_inverse`: its one unknown E_a, the flame
re-solved by Cantera's CounterflowPremixedFlame with E_a scaled (no offset: the counterflow flame
stands where the flow puts it), the eigenvalue Lambda's bound from its gradient.

Compare the std with the one an inverse run states (metrics.json inferred.<name>.std) and the
estimates with `python benchmarks/inverse_coverage.py --problem flame_ch4_inverse`.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from pinn.chemistry.mechanism import mechanism_path, require_cantera
from pinn.problems import build_problem
from pinn.problems.flame_ch4.free import MAJOR_SPECIES
from pinn.problems.flame_ch4.free_inverse import DATA_SPACING
from pinn.reference.flame_ch4 import FlameReference, counterflow, free_flame


def scaled_mechanism(folder: Path, factor_A: float, factor_E: float) -> str:
    """The shipped mechanism with the rate's A and E_a multiplied, written as a YAML file."""
    ct = require_cantera()
    gas = ct.Solution(str(mechanism_path()))
    reaction = gas.reaction(0)
    rate = reaction.rate
    reaction.rate = ct.ArrheniusRate(rate.pre_exponential_factor * factor_A, rate.temperature_exponent,
                                     rate.activation_energy * factor_E)
    gas.modify_reaction(0, reaction)
    path = folder / f"scaled_{factor_A:.6f}_{factor_E:.6f}.yaml"
    gas.write_yaml(str(path))
    return str(path)


def observed(ref: FlameReference, x: np.ndarray, names: list[str], middle: float) -> np.ndarray:
    """The observed fields at x (field by field), the profile moved so that T is halfway up at
    `middle`."""
    theta = (ref.T - ref.T[0]) / (ref.T[-1] - ref.T[0])
    shift = float(np.interp(0.5, theta, ref.x)) - middle
    values = {"T": np.interp(x + shift, ref.x, ref.T),
              **{f"Y_{k}": np.interp(x + shift, ref.x, ref.Y[ref.species.index(k)]) for k in MAJOR_SPECIES}}
    return np.concatenate([values[n] for n in names])


class Design:
    """An inverse problem's observation design at its truth: the positions x, the observed fields
    `names`, the rows of the exact observations (field by field) and the misfit's scale of each,
    sigma (|value| + floor)."""

    def __init__(self, name: str, args: argparse.Namespace):
        self.name, self.args = name, args
        self.problem = build_problem({"name": name, "phi": args.phi, "noise": args.noise})
        fields = self.problem.observed_fields()
        self.names = [f.name for f in fields]
        self.truth = self.problem.reference()
        self.x, exact = self.problem.exact_observations(self.truth, self.problem.n_observations)
        self.floors = np.concatenate([np.full(self.x.size, f.floor) for f in fields])
        self.exact_rows = np.concatenate([exact[n] for n in self.names])
        self.scale = self.problem.sigma * (np.abs(self.exact_rows) + self.floors)

    def draws(self):
        """Per noise draw: its seed, the rows (exact - observed) / weight with the misfit's weight
        (from the observed values), and the factor scale / weight that takes a Jacobian in units of
        `scale` to that weight."""
        for seed in range(self.args.draws):
            data = build_problem({"name": self.name, "phi": self.args.phi, "noise": self.args.noise,
                                  "noise_seed": seed}).data
            observed = np.concatenate([data[n] for n in self.names])
            weight = self.problem.sigma * (np.abs(observed) + self.floors)
            yield seed, (self.exact_rows - observed) / weight, self.scale / weight


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phi", type=float, default=0.8)
    parser.add_argument("--noise", type=float, default=0.01)
    parser.add_argument("--draws", type=int, default=8, help="noise seeds 0..K-1")
    parser.add_argument("--step", type=float, default=0.02, help="the central difference's step in ln A and ln E_a")
    parser.add_argument("--counterflow", action="store_true", help="flame_counterflow_inverse (E_a) instead")
    args = parser.parse_args()
    if args.counterflow:
        return counterflow_bound(args)

    d = Design("flame_ch4_inverse", args)
    problem, names, truth, x, scale = d.problem, d.names, d.truth, d.x, d.scale
    theta = (truth.T - truth.T[0]) / (truth.T[-1] - truth.T[0])
    middle = float(np.interp(0.5, theta, truth.x))

    start = time.perf_counter()
    h = args.step
    with tempfile.TemporaryDirectory() as tmp:
        def scaled(step_A: float, step_E: float) -> FlameReference:
            mechanism = scaled_mechanism(Path(tmp), math.exp(step_A), math.exp(step_E))
            return free_flame(args.phi, mechanism=mechanism, resolved_spacing=DATA_SPACING)

        pairs = [(scaled(h, 0.0), scaled(-h, 0.0)), (scaled(0.0, h), scaled(0.0, -h))]
    columns, slopes = [], []
    for plus, minus in pairs:
        columns.append((observed(plus, x, names, middle) - observed(minus, x, names, middle)) / (2 * h) / scale)
        slopes.append((plus.s_L_extrapolated - minus.s_L_extrapolated) / (2 * h))
    dx = 1e-7  # the offset: the profile moved downstream by dx
    columns.append((observed(truth, x - dx, names, middle) - observed(truth, x + dx, names, middle)) / (2 * dx) / scale)
    J = np.stack(columns, axis=1)
    covariance = np.linalg.inv(J.T @ J)
    gradient, s_L = np.array(slopes), truth.s_L_extrapolated
    std_s = float(np.sqrt(gradient @ covariance[:2, :2] @ gradient))
    std = np.sqrt(np.diag(covariance))
    print(f"flame_ch4_inverse at phi {args.phi}: {x.size} positions, fields {', '.join(names)}, noise {args.noise:g}; "
          f"Cantera solves {time.perf_counter() - start:.0f} s")
    print("\nCramér-Rao bound (relative standard errors; the offset profiled out):")
    print(f"  s_L {std_s / s_L:.4f} ({std_s:.3g} m/s)   A {std[0]:.4f}   E_a {std[1]:.5f}   "
          f"corr(A, E_a) {covariance[0, 1] / (std[0] * std[1]):.4f}")
    print(f"  d ln s_L / d ln A = {gradient[0] / s_L:.3f},  d ln s_L / d ln E_a = {gradient[1] / s_L:.3f}")
    true_A = truth_value(problem, "pre_exponential")
    true_E = truth_value(problem, "activation_energy")
    print(f"\nlinearized maximum-likelihood estimate of each draw (truth: s_L {s_L:.6f} m/s, A {true_A:.5g}, "
          f"E_a {true_E:.1f} J/mol):")
    print(f"{'draw':>5} {'s_L':>10} {'A':>12} {'E_a':>9}")
    estimates = []
    for seed, rows, rescale in d.draws():
        J_draw = J * rescale[:, None]
        step = -np.linalg.solve(J_draw.T @ J_draw, J_draw.T @ rows)
        estimate = (s_L + gradient @ step[:2], true_A * np.exp(step[0]), true_E * np.exp(step[1]))
        estimates.append(estimate)
        print(f"{seed:5d} {estimate[0]:10.6f} {estimate[1]:12.5g} {estimate[2]:9.1f}")
    if len(estimates) > 1:
        spread = np.std(np.array(estimates), axis=0, ddof=1)
        print(f"{'sd':>5} {spread[0]:10.3g} {spread[1]:12.3g} {spread[2]:9.3g}   "
              f"(the bound: {std_s:.3g}, {std[0] * true_A:.3g}, {std[1] * true_E:.3g})")


def counterflow_bound(args: argparse.Namespace) -> None:
    """The bound and the linearized estimates of flame_counterflow_inverse (see the module text)."""
    d = Design("flame_counterflow_inverse", args)
    problem, names, truth, x, scale = d.problem, d.names, d.truth, d.x, d.scale

    def observed(ref) -> np.ndarray:
        at = lambda f: np.interp(x, ref.x, f)  # noqa: E731
        values = {"u": at(ref.u), "T": at(ref.T),
                  **{f"Y_{k}": at(ref.Y[ref.species.index(k)]) for k in MAJOR_SPECIES}}
        return np.concatenate([values[n] for n in names])

    start, h = time.perf_counter(), args.step
    with tempfile.TemporaryDirectory() as tmp:
        plus, minus = (counterflow(args.phi, mechanism=scaled_mechanism(Path(tmp), 1.0, math.exp(sign * h)))
                       for sign in (1.0, -1.0))
    column = (observed(plus) - observed(minus)) / (2 * h) / scale
    std = 1.0 / float(np.linalg.norm(column))
    slope = (plus.Lambda_extrapolated - minus.Lambda_extrapolated) / (2 * h)
    true_E, Lambda = truth_value(problem, "activation_energy"), truth.Lambda_extrapolated
    print(f"flame_counterflow_inverse at phi {args.phi}: {x.size} positions, fields {', '.join(names)}, noise "
          f"{args.noise:g}; Cantera solves {time.perf_counter() - start:.0f} s")
    print(f"\nCramér-Rao bound: E_a {std:.3g} relative ({std * true_E:.3g} J/mol), Lambda {abs(slope) * std:.3g} Pa/m^2")
    print(f"  d Lambda / d ln E_a = {slope:.4g} Pa/m^2; the rows' sensitivity by field (norm, per unit ln E_a): "
          + ", ".join(f"{n} {np.linalg.norm(column[k * x.size:(k + 1) * x.size]):.3g}" for k, n in enumerate(names)))
    print(f"\nlinearized maximum-likelihood estimate of each draw (truth: Lambda {Lambda:.2f}, E_a {true_E:.1f} J/mol):")
    print(f"{'draw':>5} {'Lambda':>10} {'E_a':>9}")
    estimates = []
    for seed, rows, rescale in d.draws():
        J = column * rescale
        step = -float(J @ rows) / float(J @ J)
        estimates.append((Lambda + slope * step, true_E * math.exp(step)))
        print(f"{seed:5d} {estimates[-1][0]:10.2f} {estimates[-1][1]:9.2f}")
    if len(estimates) > 1:
        spread = np.std(np.array(estimates), axis=0, ddof=1)
        print(f"{'sd':>5} {spread[0]:10.3g} {spread[1]:9.3g}   (the bound: {abs(slope) * std:.3g}, {std * true_E:.3g})")


def truth_value(problem, name: str) -> float:
    unknown = next(u for u in problem.unknown_parameters() if u.name == name)
    return unknown.true * unknown.report_scale


if __name__ == "__main__":
    main()
