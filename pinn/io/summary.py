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
    """' (estimated <e>)': the a-posteriori estimate of a state's relative error, where the run has one.
    An inverse run's estimate is of the level at the inferred parameters, where its relative error
    is against the level at the true ones; the line says so."""
    values = metrics.get("estimated_relative_errors")
    where = " at the inferred parameters" if metrics.get("inferred") else ""
    return f" (estimated {values[state]:.1e}{where})" if values else ""


def refinement_line(metrics: Mapping[str, Any]) -> list[str]:
    """The restart and the refinement rounds a run took after its schedule (pinn.training.refine), if any."""
    rows = metrics.get("refinement") or []
    lines = [f"  restarted state(s) {row['states']}, which had skipped a level, from the Galerkin estimate "
             f"(fit misfit {max(f['fit_misfit'] for f in row['fits']):.1e}), then phase {row['phase']}"
             for row in rows if row["action"] == "restart"]
    rounds = [row for row in rows if row["action"] == "refine"]
    if not rounds:
        return lines
    path = " -> ".join(f"{row['estimate']:.1e}" for row in rows if row["action"] != "restart")
    return lines + [f"  refined in {len(rounds)} round(s) up to {rounds[-1]['collocation_points']} nodes: "
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


def noise_description(metrics: Mapping[str, Any]) -> str | None:
    """How an inverse run took its data's noise (metrics' `noise` block), in one phrase; None without one."""
    noise = metrics.get("noise")
    if not noise:
        return None
    parts = []
    if noise.get("from_file"):
        parts.append(f"as the file states for {', '.join(noise['from_file'])}")
    if noise.get("used") is not None:
        how = {"stated": "stated", "file": "the median the file states, assumed",
               "misfit": "estimated from the misfit"}.get(noise.get("used_from"),
                                                          "stated" if noise.get("stated") is not None else "estimated")
        part = f"{'elsewhere ' if parts else ''}{noise['used']:.3g} ({how})"
        if noise.get("used_from", "stated") != "misfit" and noise.get("estimated") is not None:
            part += f", the misfit shows {noise['estimated']:.3g}"
        parts.append(part)
    rms = noise.get("misfit_rms")
    return "noise: " + "; ".join(parts) + ("" if rms is None else f"; misfit rms {rms:.3g} noise units")


def inferred_lines(metrics: Mapping[str, Any]) -> list[str]:
    """One line per inferred quantity of an inverse run (metrics' `inferred` block), and how the
    noise was taken."""
    lines = []
    for name, item in (metrics.get("inferred") or {}).items():
        unit = f" {item['unit']}" if item.get("unit") else ""
        line = f"  inferred {name} = {item['value']:.8g}{unit}"
        if item.get("std") is not None:
            line += f" ± {item['std']:.2g} (95%: {item['interval'][0]:.6g} .. {item['interval'][1]:.6g})"
        if item.get("true") is not None:
            line += f"   true = {item['true']:.8g}{unit}   relative error = {item['relative_error']:.2e}"
        lines.append(line)
    noise = noise_description(metrics)
    return lines + ([f"  {noise}"] if lines and noise else []) + interval_check_line(metrics)


def interval_check_line(metrics: Mapping[str, Any]) -> list[str]:
    """How the data misfit rises at the ends of the least determined unknown's interval."""
    check = metrics.get("interval_check")
    if not check:
        return []
    rises = " and ".join("n/a" if r is None else f"{r:.3g}" for r in check["rise"])
    line = (f"  interval check ({check['unknown']}, the least determined): the misfit rises by {rises} at its ends "
            f"({check['expected']:.3g} for a linear model at the data's optimum)")
    if check["curvature"] is None:
        return [line + ": inconclusive, the equations could not be restored there"]
    verdicts = [f"curvature {check['curvature']:.2f} of a linear model's"
                + ("" if check["linear"] else " (NOT linear)"),
                "no optimum of the data along it" if check["offset"] is None else
                f"the data's optimum {check['offset']:+.2f} standard errors from the estimate"
                + ("" if check["centred"] else " (the interval is off centre)")]
    return [line + ": " + "; ".join(verdicts)]


def field_summary(metrics: Mapping[str, Any]) -> list[str]:
    return [eigenvalue_line(metrics), field_errors_line(metrics), *inferred_lines(metrics)]
