"""What is solved: one package per family; importing this package registers every problem."""

from pinn.problems import flame_ch4, flame_fpp, plane, wells  # noqa: F401  (importing registers the problems)
from pinn.problems.base import Problem
from pinn.problems.registry import PROBLEMS, build_problem

__all__ = ["PROBLEMS", "Problem", "build_problem"]
