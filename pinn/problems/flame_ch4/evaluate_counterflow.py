"""Compare a trained counterflow flame with Cantera's CounterflowPremixedFlame."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pinn.problems.flame_fpp.evaluate import flame_checks, relative_l2
from pinn.problems.flame_ch4.free import MAJOR_SPECIES
from pinn.problems.flame_ch4.counterflow import CounterflowFlameCH4, CounterflowModel
from pinn.reference import flame_ch4 as reference
from pinn.status import Criteria, record


def counterflow_reference(problem: CounterflowFlameCH4) -> reference.CounterflowReference:
    return reference.counterflow(problem.phi, problem.T_in, problem.pressure, problem.width,
                                 problem.u_reactants, problem.u_products)


def evaluate_counterflow(problem: CounterflowFlameCH4, model: CounterflowModel, criteria: Criteria,
                         ref: reference.CounterflowReference | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Lambda against the Richardson-extrapolated Cantera value; L2 errors of T, u, V and the major
    species (||f - f_ref|| / ||f_ref - f(0)||, V's against ||V_ref||) on Cantera's finest grid;
    the rms of the scaled residuals on 1999 points of s."""
    ref = ref if ref is not None else counterflow_reference(problem)
    x = ref.x
    fields = problem.fields(model, x)
    index = {name: k for k, name in enumerate(ref.species)}
    ref_fields = {"T": ref.T, "u": ref.u, "V": ref.V, **{f"Y_{name}": ref.Y[index[name]] for name in ref.species}}
    errors = {"T": relative_l2(fields["T"], ref.T, x, offset=problem.T_in),
              "u": relative_l2(fields["u"], ref.u, x),
              "V": relative_l2(fields["V"], ref.V, x),
              **{f"Y_{name}": relative_l2(fields[f"Y_{name}"], ref_fields[f"Y_{name}"], x,
                                          offset=ref_fields[f"Y_{name}"][0]) for name in MAJOR_SPECIES}}
    Lambda, Lambda_ref = float(model.Lambda.detach()), ref.Lambda_extrapolated
    param = model.curvature0
    s = torch.linspace(0.0, 1.0, 2001, device=param.device, dtype=param.dtype)[1:-1]
    with torch.no_grad():
        residual = problem.residual(model, s)
    residual = torch.cat([residual["flow"], residual["scalars"]], dim=-1).double().cpu().numpy()
    rms = float(np.sqrt(np.mean(residual**2)))
    metrics: dict[str, Any] = {
        "eigenvalue_name": "Lambda",
        "eigenvalue_unit": "Pa/m^2",
        "eigenvalues": [Lambda],
        "reference_eigenvalues": [Lambda_ref],
        "relative_errors": [abs(Lambda / Lambda_ref - 1.0)],
        "field_l2_errors": errors,
        "residual_rms": [rms],
        "flame_position": float(model.position.detach()),
        "reference_source": "cantera_counterflow_richardson",
        "reference_error_estimate": ref.error_estimate,
        "reference_finest_grid": ref.Lambda,
        "reference_convergence_table": ref.refinement.rows,
        "adiabatic_temperature": problem.inlet.T_b,
    }
    record(metrics, flame_checks("Lambda", Lambda, Lambda_ref, ref.error_estimate, rms, fields,
                                 "Cantera CounterflowPremixedFlame (Richardson)", criteria))
    if hasattr(problem, "inferred"):
        values = {"Lambda": (Lambda, Lambda_ref), **problem.inferred(model)}
        metrics["inferred"] = {name: {"value": v, "true": true, "relative_error": abs(v / true - 1.0)}
                               for name, (v, true) in values.items()}
        metrics["observations"] = problem.data.source
    arrays = {
        "x": x,
        **fields,
        **{f"{name}_ref": value for name, value in ref_fields.items()},
        "s": s.double().cpu().numpy(),
        "residual": np.sqrt(np.mean(residual**2, axis=-1)),
        "eigenvalues": np.array([Lambda]),
        "reference_eigenvalues": np.array([Lambda_ref]),
    }
    if hasattr(problem, "inferred"):
        d = problem.data
        arrays.update(obs_x=d.x, obs_T=d.T, obs_u=d.u,
                      **{f"obs_Y_{name}": d.Y[:, k] for k, name in enumerate(MAJOR_SPECIES)})
    return metrics, arrays
