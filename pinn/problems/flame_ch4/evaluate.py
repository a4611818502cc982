"""Trained CH4/air flames against Cantera's (pinn.reference.flame_ch4): the free flame's s_L and the
counterflow flame's Lambda against their Richardson-extrapolated references, the L2 errors of the
fields on Cantera's finest grid, the rms of the scaled residuals, and the status."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pinn.numerics.quadrature import relative_l2
from pinn.problems.flame_ch4.free import MAJOR_SPECIES
from pinn.problems.inverse import inverse_results
from pinn.reference import flame_ch4 as reference
from pinn.status import Criteria, field_checks, record


def _judged(problem, model, criteria: Criteria, eigenvalue: tuple[str, float, float, str], ref, source: str,
            fields: dict[str, np.ndarray], errors: dict[str, float], residual: np.ndarray,
            details: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metrics both flames share, their status, and the inverse results of an inverse run."""
    name, value, ref_value, unit = eigenvalue
    rms = float(np.sqrt(np.mean(residual**2)))
    metrics: dict[str, Any] = {
        "eigenvalue_name": name,
        "eigenvalue_unit": unit,
        "eigenvalues": [value],
        "reference_eigenvalues": [ref_value],
        "relative_errors": [abs(value / ref_value - 1.0)],
        "field_l2_errors": errors,
        "residual_rms": [rms],
        **details,
        "reference_source": source,
        "reference_error_estimate": ref.error_estimate,
        "reference_convergence_table": ref.refinement.rows,
        "adiabatic_temperature": problem.inlet.T_b,
    }
    record(metrics, field_checks(name, value, ref_value, ref.error_estimate, rms, fields,
                                 source.replace("_", " "), criteria))
    inverse, observations = inverse_results(problem, model, eigenvalue, criteria, metrics["checks"])
    metrics.update(inverse)
    return metrics, observations


def evaluate_free(problem, model, criteria: Criteria,
                  ref: reference.FlameReference) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """s_L; T, u and major-species L2 errors (||f - f_ref|| / ||f_ref - f_in||, f_in the inlet
    value), the PINN profile placed at Cantera's fixed-temperature point."""
    step = max(1, (ref.x.size - 1) // 4000)
    x = ref.x[::step]
    fields = problem.fields(model, x, ref.fixed_temperature, ref.fixed_location)
    index = {name: k for k, name in enumerate(ref.species)}
    ref_fields = {"T": ref.T[::step], "u": ref.u[::step],
                  **{f"Y_{name}": ref.Y[index[name], ::step] for name in ref.species}}
    s = float(problem.eigenvalue(model).detach())
    s_ref = ref.s_L_extrapolated
    errors = {"T": relative_l2(fields["T"], ref_fields["T"], x, offset=problem.T_in),
              "u": relative_l2(fields["u"], ref_fields["u"], x, offset=ref_fields["u"][0]),
              **{f"Y_{name}": relative_l2(fields[f"Y_{name}"], ref_fields[f"Y_{name}"], x,
                                          offset=ref_fields[f"Y_{name}"][0]) for name in MAJOR_SPECIES}}
    param = model.m0
    t = torch.linspace(0.0, 1.0, 2001, device=param.device, dtype=param.dtype)[1:-1]
    with torch.no_grad():
        residual = problem.residual(model, t).double().cpu().numpy()
        theta = problem.state(model, t)[:, 0]
    details = {"reference_finest_grid": ref.s_L,
               "anchor": {"temperature": ref.fixed_temperature, "location": ref.fixed_location}}
    metrics, observations = _judged(problem, model, criteria, ("s_L", s, s_ref, "m/s"), ref,
                                    "cantera_freeflame_richardson", fields, errors, residual, details)
    arrays = {"x": x, **fields, **{f"{name}_ref": value for name, value in ref_fields.items()},
              "theta": theta.double().cpu().numpy(), "residual": np.sqrt(np.mean(residual**2, axis=-1)),
              "eigenvalues": np.array([s]), "reference_eigenvalues": np.array([s_ref])}
    return metrics, {**arrays, **observations}


def evaluate_counterflow(problem, model, criteria: Criteria,
                         ref: reference.CounterflowReference) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Lambda; L2 errors of T, u, V and the major species (||f - f_ref|| / ||f_ref - f(0)||, V's
    against ||V_ref||); the rms of the scaled residuals on 1999 points of s."""
    x = ref.x
    fields = problem.fields(model, x)
    index = {name: k for k, name in enumerate(ref.species)}
    ref_fields = {"T": ref.T, "u": ref.u, "V": ref.V, **{f"Y_{name}": ref.Y[index[name]] for name in ref.species}}
    errors = {"T": relative_l2(fields["T"], ref.T, x, offset=problem.T_in),
              "u": relative_l2(fields["u"], ref.u, x),
              "V": relative_l2(fields["V"], ref.V, x),
              **{f"Y_{name}": relative_l2(fields[f"Y_{name}"], ref_fields[f"Y_{name}"], x,
                                          offset=ref_fields[f"Y_{name}"][0]) for name in MAJOR_SPECIES}}
    Lambda, Lambda_ref = float(problem.eigenvalue(model).detach()), ref.Lambda_extrapolated
    param = model.curvature0
    s = torch.linspace(0.0, 1.0, 2001, device=param.device, dtype=param.dtype)[1:-1]
    with torch.no_grad():
        residual = problem.residual(model, s)
    residual = torch.cat([residual["flow"], residual["scalars"]], dim=-1).double().cpu().numpy()
    details = {"flame_position": float(model.position.detach()), "reference_finest_grid": ref.Lambda}
    metrics, observations = _judged(problem, model, criteria, ("Lambda", Lambda, Lambda_ref, "Pa/m^2"), ref,
                                    "cantera_counterflow_richardson", fields, errors, residual, details)
    arrays = {"x": x, **fields, **{f"{name}_ref": value for name, value in ref_fields.items()},
              "s": s.double().cpu().numpy(), "residual": np.sqrt(np.mean(residual**2, axis=-1)),
              "eigenvalues": np.array([Lambda]), "reference_eigenvalues": np.array([Lambda_ref])}
    return metrics, {**arrays, **observations}
