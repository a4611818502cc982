"""The converged finite-difference reference of flame_fpp (pinn.reference.flame) and the evaluation
of a trained model against it."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from pinn.errors import ConfigError
from pinn.numerics.quadrature import relative_l2
from pinn.problems.inverse import inverse_results
from pinn.reference import flame as reference
from pinn.status import Criteria, field_checks, record

log = logging.getLogger("pinn")


def flame_reference(problem) -> reference.ConvergedFlame:
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


def evaluate_flame(problem, model, criteria: Criteria,
                   ref: reference.ConvergedFlame) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metrics (s_L against the Richardson-extrapolated reference, field errors) and arrays to save
    of a FreelyPropagatingFlame's FlameModel.

    The T error is relative to the temperature rise: ||T - T_ref|| / ||T_ref - T_in||."""
    p = reference.FlameParameters(**problem.parameters)
    fd = ref.finest
    step = max(1, (fd.x.size - 1) // 4000)
    x = fd.x[::step]
    ref_fields = reference.profiles(p, x, fd.T[::step], fd.s)
    fields = problem.fields(model, x)
    s = float(problem.eigenvalue(model).detach())
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
    record(metrics, field_checks("s_L", s, ref.s, ref.error_estimate, rms, fields,
                                 "finite-difference (Richardson)", criteria))
    inverse, observations = inverse_results(problem, model, ("s_L", s, ref.s, "m/s"), criteria, metrics["checks"])
    metrics.update(inverse)
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
    return metrics, {**arrays, **observations}
