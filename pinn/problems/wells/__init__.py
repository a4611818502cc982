"""One-dimensional Schrödinger problems: the step wells (exact references) and smooth potentials."""

from pinn.problems.wells import report, smooth, steps  # noqa: F401  (importing registers problems and report)

__all__ = ["report", "smooth", "steps"]
