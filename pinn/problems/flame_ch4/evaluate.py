"""Compare a trained CH4/air flame with Cantera's FreeFlame (pinn.reference.flame_ch4)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pinn.problems.flame_fpp.evaluate import flame_checks, relative_l2
from pinn.problems.flame_ch4.free import MAJOR_SPECIES, FlameCH4Model, FreeFlameCH4
from pinn.reference import flame_ch4 as reference
from pinn.status import Criteria, record


def flame_ch4_reference(problem: FreeFlameCH4) -> reference.FlameReference:
    return reference.free_flame(problem.phi, problem.T_in, problem.pressure, problem.width)


def evaluate_flame_ch4(problem: FreeFlameCH4, model: FlameCH4Model, criteria: Criteria,
                       ref: reference.FlameReference | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """s_L against the Richardson-extrapolated Cantera value; T, u and major-species L2 errors
    (||f - f_ref|| / ||f_ref - f_in||, f_in the inlet value) on Cantera's finest grid, the PINN
    profile placed at Cantera's fixed-temperature point."""
    ref = ref if ref is not None else flame_ch4_reference(problem)
    step = max(1, (ref.x.size - 1) // 4000)
    x = ref.x[::step]
    fields = problem.fields(model, x, ref.fixed_temperature, ref.fixed_location)
    index = {name: k for k, name in enumerate(ref.species)}
    ref_fields = {"T": ref.T[::step], "u": ref.u[::step],
                  **{f"Y_{name}": ref.Y[index[name], ::step] for name in ref.species}}
    s = float((model.mass_flux / problem.inlet.density_in).detach())
    s_ref = ref.s_L_extrapolated
    errors = {"T": relative_l2(fields["T"], ref_fields["T"], x, offset=problem.T_in),
              "u": relative_l2(fields["u"], ref_fields["u"], x, offset=ref_fields["u"][0]),
              **{f"Y_{name}": relative_l2(fields[f"Y_{name}"], ref_fields[f"Y_{name}"], x,
                                          offset=ref_fields[f"Y_{name}"][0]) for name in MAJOR_SPECIES}}
    param = model.m0
    t = torch.linspace(0.0, 1.0, 2001, device=param.device, dtype=param.dtype)[1:-1]
    with torch.no_grad():
        residual = problem.residual(model, t)
        theta = problem.state(model, t)[:, 0]
    residual = residual.double().cpu().numpy()
    rms = float(np.sqrt(np.mean(residual**2)))
    metrics: dict[str, Any] = {
        "eigenvalue_name": "s_L",
        "eigenvalue_unit": "m/s",
        "eigenvalues": [s],
        "reference_eigenvalues": [s_ref],
        "relative_errors": [abs(s - s_ref) / s_ref],
        "field_l2_errors": errors,
        "residual_rms": [rms],
        "reference_source": "cantera_freeflame_richardson",
        "reference_error_estimate": ref.error_estimate,
        "reference_finest_grid": ref.s_L,
        "reference_convergence_table": ref.refinement.rows,
        "anchor": {"temperature": ref.fixed_temperature, "location": ref.fixed_location},
        "adiabatic_temperature": problem.inlet.T_b,
    }
    record(metrics, flame_checks("s_L", s, s_ref, ref.error_estimate, rms, fields,
                                 "Cantera FreeFlame (Richardson)", criteria))
    if hasattr(problem, "inferred"):
        values = {"s_L": (s, s_ref), **problem.inferred(model)}
        metrics["inferred"] = {name: {"value": v, "true": true, "relative_error": abs(v / true - 1.0)}
                               for name, (v, true) in values.items()}
        metrics["observations"] = problem.data.source
    arrays = {
        "x": x,
        **fields,
        **{f"{name}_ref": value for name, value in ref_fields.items()},
        "theta": theta.double().cpu().numpy(),
        "residual": np.sqrt(np.mean(residual**2, axis=-1)),
        "eigenvalues": np.array([s]),
        "reference_eigenvalues": np.array([s_ref]),
    }
    if hasattr(problem, "inferred"):
        arrays.update(obs_x=problem.data.x, obs_T=problem.data.T,
                      **{f"obs_Y_{name}": problem.data.Y[:, k] for k, name in enumerate(MAJOR_SPECIES)})
    return metrics, arrays
