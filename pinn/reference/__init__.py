"""Independent reference answers (numpy/scipy only): exact roots and finite differences for the
wells (analytic, finite_difference) and a converged flame-speed solver (flame)."""

from pinn.reference.analytic import Eigenpairs, infinite_well, symmetric_step_well
from pinn.reference.finite_difference import FDSolution, RichardsonResult, solve, solve_richardson

__all__ = [
    "Eigenpairs", "FDSolution", "RichardsonResult",
    "infinite_well", "solve", "solve_richardson", "symmetric_step_well",
]
