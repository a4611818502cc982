"""Compare a trained flame model with the converged finite-difference reference (pinn.reference.flame)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from pinn.errors import ConfigError
from pinn.problems.flame_fpp.problem import FlameModel, FreelyPropagatingFlame
from pinn.reference import flame as reference
from pinn.status import Check, Criteria, finite_check, optimizer_check, record, reference_check

log = logging.getLogger("pinn")

RESIDUAL_LIMIT = 1e-2  # rms relative residual above which the equations are not solved


def flame_checks(name: str, value: float, ref: float, ref_error: float, rms: float, fields: dict[str, Any],
                 source: str, criteria: Criteria, residual_limit: float = RESIDUAL_LIMIT) -> list[Check]:
    """The evidence of a flame run (see pinn.status): finite fields, the rms relative residual of
    the equations on points the optimizer never saw below `residual_limit`, the eigenvalue within
    the tolerance of the reference, and the eigenvalue and unknowns settled in the last phase."""
    solved = rms <= residual_limit
    return [
        finite_check({name: value, "residual": rms, **fields}),
        Check("estimate", bool(solved), f"the rms relative residual {rms:.1e} " + (
            f"is within {residual_limit:g}" if solved else
            f"exceeds {residual_limit:g}: the network has not solved the equations (more steps, or a wider network)")),
        reference_check([name], [value], [ref], [abs(value / ref - 1.0)], [ref_error], criteria.tolerance, source),
        optimizer_check(criteria.final, criteria.tolerance),
    ]


def flame_reference(problem: FreelyPropagatingFlame) -> reference.ConvergedFlame:
    """The converged reference; warns when the domain end moves s_L noticeably (see `domain_effect`)."""
    try:
        ref = reference.solve_converged(reference.FlameParameters(**problem.parameters))
    except reference.FlameDoesNotFit as exc:
        raise ConfigError(f"{problem.name}: {exc}") from None
    except (RuntimeError, ValueError, FloatingPointError, OverflowError) as exc:
        raise ConfigError(f"{problem.name}: the reference solver found no flame for these parameters ({exc}); "
                          "check the rate parameters, phi and L") from None
    effect = domain_effect(ref)
    if effect > 1e-6:
        log.warning("the domain end (T'(L) = 0 at L=%g m) moves s_L by %.1e relative to the unbounded burnt tail "
                    "the PINN resolves; expect an error of about that size, or increase L", problem.physics.L, effect)
    return ref


def domain_effect(ref: reference.ConvergedFlame) -> float:
    """|s_inf / s_L - 1|: s_inf from shooting (the burnt tail continued past L), s_L with T'(L) = 0."""
    return abs(ref.shooting_s / ref.s - 1.0)


def relative_l2(values: np.ndarray, ref: np.ndarray, x: np.ndarray, offset: float = 0.0) -> float:
    """||values - ref|| / ||ref - offset|| in L2 over x (trapezoid rule)."""
    num = _trapezoid((values - ref) ** 2, x)
    den = _trapezoid((ref - offset) ** 2, x)
    return float(np.sqrt(num / den)) if den > 0 else float("nan")


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))


def evaluate_flame(problem: FreelyPropagatingFlame, model: FlameModel, criteria: Criteria,
                   ref: reference.ConvergedFlame | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metrics (s_L against the Richardson-extrapolated reference, field errors) and arrays to save.

    The T error is relative to the temperature rise: ||T - T_ref|| / ||T_ref - T_in||."""
    ref = ref if ref is not None else flame_reference(problem)
    p = reference.FlameParameters(**problem.parameters)
    fd = ref.finest
    step = max(1, (fd.x.size - 1) // 4000)
    x = fd.x[::step]
    ref_fields = reference.profiles(p, x, fd.T[::step], fd.s)
    fields = problem.fields(model, x)
    s = float(model.speed.detach())
    errors = {
        "T": relative_l2(fields["T"], ref_fields["T"], x, offset=p.T_in),
        "u": relative_l2(fields["u"], ref_fields["u"], x),
        "Y_F": relative_l2(fields["Y_F"], ref_fields["Y_F"], x),
        "omega": relative_l2(fields["omega"], ref_fields["omega"], x),
    }
    param = next(model.parameters())
    t = torch.linspace(0.0, 1.0, 2001, device=param.device, dtype=param.dtype)[1:-1]
    with torch.no_grad():
        residual = problem.residual(model, t).double().cpu().numpy()
        pp = problem.phase_plane(model, t)
        theta, q = pp.theta, pp.q
    metrics: dict[str, Any] = {
        "eigenvalue_name": "s_L",
        "eigenvalue_unit": "m/s",
        "eigenvalues": [s],
        "reference_eigenvalues": [ref.s],
        "relative_errors": [abs(s - ref.s) / ref.s],
        "field_l2_errors": errors,
        "residual_rms": [float(np.sqrt(np.mean(residual**2)))],
        "reference_source": "finite_difference_richardson",
        "reference_error_estimate": ref.error_estimate,
        "reference_observed_order": ref.observed_order,
        "reference_convergence_table": ref.table,
        "reference_unbounded_tail_s": ref.shooting_s,
        "domain_effect": domain_effect(ref),
    }
    rms = metrics["residual_rms"][0]
    record(metrics, flame_checks("s_L", s, ref.s, ref.error_estimate, rms, fields,
                                 "finite-difference (Richardson)", criteria))
    if model.unknown_names:
        truth = {"s_L": ref.s, **{name: problem.parameters[name] for name in model.unknown_names}}
        inferred = {"s_L": s, **{name: float(model.unknown(name).detach()) for name in model.unknown_names}}
        metrics["inferred"] = {name: {"value": inferred[name], "true": truth[name],
                                      "relative_error": abs(inferred[name] / truth[name] - 1.0)} for name in truth}
        metrics["observations"] = problem.data.source
    arrays = {
        "x": x,
        **{name: value for name, value in fields.items()},
        **{f"{name}_ref": ref_fields[name] for name in fields},
        "theta": theta.double().cpu().numpy(),
        "q": q.double().cpu().numpy(),
        "residual": residual,
        "eigenvalues": np.array([s]),
        "reference_eigenvalues": np.array([ref.s]),
    }
    if model.unknown_names:
        arrays.update(obs_x=problem.data.x, obs_T=problem.data.T, obs_u=problem.data.u)
    return metrics, arrays
