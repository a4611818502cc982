"""What is solved: the problem contract (base.py), the registry of problems and report kinds
(registry.py), the shared inverse layer (inverse.py), and one package per family.

`PROBLEMS` and `build_problem` load the families on first use, so importing the contract alone
(as the trainer does for `Deferred`) stays light."""

from pinn.problems.base import Problem

__all__ = ["PROBLEMS", "Problem", "build_problem"]


def __getattr__(name: str):
    if name in ("PROBLEMS", "build_problem"):
        from pinn.problems import registry

        registry.load_families()
        return getattr(registry, name)
    raise AttributeError(f"module 'pinn.problems' has no attribute {name!r}")
