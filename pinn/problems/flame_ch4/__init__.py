"""CH4/air flames with real thermochemistry and transport: free and counterflow, forward and inverse."""

from pinn.problems.flame_ch4 import (  # noqa: F401  (importing registers problems and reports)
    counterflow,
    counterflow_inverse,
    free,
    free_inverse,
    report,
)

__all__ = ["counterflow", "counterflow_inverse", "free", "free_inverse", "report"]
