"""The simplified freely propagating premixed flame (FlamePINN-1D Case 1), forward and inverse."""

from pinn.problems.flame_fpp import inverse, problem, report  # noqa: F401  (importing registers problems and report)

__all__ = ["inverse", "problem", "report"]
