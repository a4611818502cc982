"""The three wells of the seed paper; parameters and defaults in docs/problems.md."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch

from pinn.errors import ConfigError
from pinn.problems.base import check_length, check_number, check_ratio
from pinn.problems.registry import register
from pinn.problems.wells.eigenproblem import SchrodingerProblem


def _where(condition, a: float, b):
    return (torch if isinstance(condition, torch.Tensor) else np).where(condition, a, b)


@register("infinite_well")
class InfiniteWell(SchrodingerProblem):
    """V = 0 on [0, L]; E_n = (n+1)^2 pi^2 / L^2."""

    def __init__(self, L: float = 1.0, fixed_energy: bool = False, n_states: int = 1,
                 weights: Mapping[str, float] | None = None):
        super().__init__(n_states, weights)
        self.L = check_length("L", L, what="width of the well")
        if not isinstance(fixed_energy, bool):
            raise ConfigError(f"problem.fixed_energy={fixed_energy!r} must be true or false")
        self.fixed_energy = fixed_energy

    @property
    def domain(self) -> tuple[float, float]:
        return (0.0, self.L)

    def potential(self, x):
        return x * 0.0

    def fixed_energies(self):
        if not self.fixed_energy:
            return None
        return [((n + 1) * math.pi / self.L) ** 2 for n in range(self.n_states)]

    def reference_spec(self) -> dict[str, Any]:
        return {"family": "infinite_well", "L": self.L}


class _SymmetricStep(SchrodingerProblem):
    """V = V_in for |x| < half_width, V_out for half_width < |x| < L, walls at +-L."""

    def __init__(self, V0: float, half_width: float, L: float, n_states: int,
                 weights: Mapping[str, float] | None):
        super().__init__(n_states, weights)
        self.V0 = check_number("V0", V0, low=-1e6, high=1e6, low_inclusive=True, what="step height")
        self.half_width = check_length("half_width", half_width, what="half-width of the step")
        self.L = check_length("L", L, what="half-length of the domain [-L, L]")
        if self.L <= self.half_width:
            raise ConfigError(
                f"problem.L={self.L:g} must be larger than problem.half_width={self.half_width:g} "
                "(the domain [-L, L] has to contain the step)"
            )
        check_ratio("half_width", self.half_width, "L", self.L, 1e6)

    V_in: float
    V_out: float

    @property
    def domain(self) -> tuple[float, float]:
        return (-self.L, self.L)

    @property
    def breakpoints(self) -> tuple[float, ...]:
        return (-self.half_width, self.half_width)

    def potential(self, x):
        inside = abs(x) < self.half_width
        return _where(inside, self.V_in, x * 0.0 + self.V_out)

    def reference_spec(self) -> dict[str, Any]:
        return {"family": "symmetric_step_well", "V_in": self.V_in, "V_out": self.V_out,
                "a": self.half_width, "L": self.L}


@register("finite_well")
class FiniteWell(_SymmetricStep):
    """V = 0 for |x| < half_width, V0 elsewhere on [-L, L]."""

    def __init__(self, V0: float = 20.0, half_width: float = 1.0, L: float = 4.0, n_states: int = 1,
                 weights: Mapping[str, float] | None = None):
        super().__init__(V0, half_width, L, n_states, weights)
        self.V_in, self.V_out = 0.0, self.V0


@register("finite_barrier")
class FiniteBarrier(_SymmetricStep):
    """V = V0 for |x| < half_width, 0 elsewhere on [-L, L]."""

    def __init__(self, V0: float = 50.0, half_width: float = 0.1, L: float = 1.0, n_states: int = 1,
                 weights: Mapping[str, float] | None = None):
        super().__init__(V0, half_width, L, n_states, weights)
        self.V_in, self.V_out = self.V0, 0.0
