"""Lines of the printed summary that several report kinds share."""

from __future__ import annotations

from typing import Any, Mapping


def eigenvalue_line(metrics: Mapping[str, Any]) -> str:
    """The one eigenvalue of a field problem (metrics' `eigenvalue_name` and `eigenvalue_unit`)
    against its reference."""
    (value,), (ref,), (err,) = metrics["eigenvalues"], metrics["reference_eigenvalues"], metrics["relative_errors"]
    name, unit = metrics["eigenvalue_name"], metrics["eigenvalue_unit"]
    return (f"  {name} = {value:.10g} {unit}   reference = {ref:.10g} {unit} ({metrics['reference_source']}, "
            f"error estimate {metrics['reference_error_estimate']:.1e})   relative error = {err:.2e}")


def estimated(metrics: Mapping[str, Any], state: int) -> str:
    """' (estimated <e>)': the a-posteriori estimate of a state's relative error, where the run has one."""
    values = metrics.get("estimated_relative_errors")
    return f" (estimated {values[state]:.1e})" if values else ""


def refinement_line(metrics: Mapping[str, Any]) -> list[str]:
    """The refinement rounds a run took after its schedule (pinn.training.refine), if any."""
    rows = metrics.get("refinement") or []
    rounds = [row for row in rows if row["action"] == "refine"]
    if not rounds:
        return []
    path = " -> ".join(f"{row['estimate']:.1e}" for row in rows)
    return [f"  refined in {len(rounds)} round(s) up to {rounds[-1]['collocation_points']} nodes: "
            f"estimated error {path} ({rows[-1]['action'].replace('_', ' ')})"]


def reference_line(metrics: Mapping[str, Any]) -> list[str]:
    """Where the reference came from and what solving it costs beside the training."""
    lookup = metrics.get("reference")
    if not lookup:
        return []
    ratio = metrics["train_seconds"] / lookup["solve_seconds"] if lookup["solve_seconds"] > 0 else float("inf")
    how = (f"from the cache in {lookup['seconds']:.2f} s (solving it took {lookup['solve_seconds']:.3g} s)"
           if lookup["source"] == "cache" else f"{lookup['source']} in {lookup['solve_seconds']:.3g} s")
    return [f"  reference: {how}; training took {ratio:.3g}x the reference's solve"]


def field_errors_line(metrics: Mapping[str, Any]) -> str:
    fields = "   ".join(f"{k} {v:.2e}" for k, v in metrics["field_l2_errors"].items())
    return f"  relative L2 field errors: {fields}"


def inferred_lines(metrics: Mapping[str, Any]) -> list[str]:
    """One line per inferred quantity of an inverse run (metrics' `inferred` block)."""
    lines = []
    for name, item in (metrics.get("inferred") or {}).items():
        unit = f" {item['unit']}" if item.get("unit") else ""
        line = f"  inferred {name} = {item['value']:.8g}{unit}"
        if item.get("std") is not None:
            line += f" ± {item['std']:.2g} (95%: {item['interval'][0]:.6g} .. {item['interval'][1]:.6g})"
        if item.get("true") is not None:
            line += f"   true = {item['true']:.8g}{unit}   relative error = {item['relative_error']:.2e}"
        lines.append(line)
    return lines


def field_summary(metrics: Mapping[str, Any]) -> list[str]:
    return [eigenvalue_line(metrics), field_errors_line(metrics), *inferred_lines(metrics)]
