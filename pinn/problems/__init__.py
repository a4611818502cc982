"""What is solved: one module per family; importing this package registers every problem."""

from pinn.problems import (  # noqa: F401  (importing registers the problems)
    flame_ch4,
    flame_ch4_inverse,
    flame_counterflow,
    flame_counterflow_inverse,
    flame_inverse,
    flames,
    plane,
    potentials,
    wells,
)
from pinn.problems.base import Problem
from pinn.problems.registry import PROBLEMS, build_problem

__all__ = ["PROBLEMS", "Problem", "build_problem"]
