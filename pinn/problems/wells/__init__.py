"""One-dimensional Schrödinger problems: the step wells (exact references), smooth potentials, and
the inverse finite well."""

from pinn.problems.wells import inverse, report, smooth, steps  # noqa: F401  (importing registers problems and report)

__all__ = ["inverse", "report", "smooth", "steps"]
