"""Smooth potentials on [-L, L] with walls at +-L: harmonic, quartic double well, Poschl-Teller,
and any V(x) typed as an expression. Each is checked against the finite-difference reference."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from pinn.errors import ConfigError
from pinn.numerics.expressions import Expression, shown
from pinn.problems.base import check_length, check_number
from pinn.problems.registry import register
from pinn.problems.wells.eigenproblem import SchrodingerProblem

# |V| beyond this leaves no room in float64 for E^2 psi^2 and the reference's stiffness
LARGEST_POTENTIAL = 1e20


class _OnSymmetricInterval(SchrodingerProblem):
    def __init__(self, L: float, n_states: int, weights: Mapping[str, float] | None):
        super().__init__(n_states, weights)
        self.L = check_length("L", L, longest=1e4, what="half-length of the domain [-L, L]")

    @property
    def domain(self) -> tuple[float, float]:
        return (-self.L, self.L)


@register("harmonic")
class Harmonic(_OnSymmetricInterval):
    """V = omega^2 x^2; on the whole line E_n = omega (2n + 1)."""

    def __init__(self, omega: float = 1.0, L: float = 5.0, n_states: int = 1, weights: Mapping[str, float] | None = None):
        super().__init__(L, n_states, weights)
        self.omega = check_number("omega", omega, low=0.0, high=1e4, what="oscillator frequency")

    def potential(self, x):
        return self.omega**2 * x * x


@register("double_well")
class DoubleWell(_OnSymmetricInterval):
    """V = a (x^2 - b^2)^2: two minima at +-b with a barrier a b^4 between them."""

    def __init__(self, a: float = 1.0, b: float = 1.5, L: float = 3.0, n_states: int = 1,
                 weights: Mapping[str, float] | None = None):
        super().__init__(L, n_states, weights)
        self.a = check_number("a", a, low=0.0, high=1e4, what="barrier scale")
        self.b = check_number("b", b, low=0.0, high=1e3, what="position of the minima")
        if self.b >= self.L:
            raise ConfigError(f"problem.L={self.L:g} must be larger than problem.b={self.b:g} (both minima inside)")

    def potential(self, x):
        return self.a * (x * x - self.b**2) ** 2


@register("poschl_teller")
class PoschlTeller(_OnSymmetricInterval):
    """V = -lam (lam + 1) / cosh^2 x; on the whole line the bound states are E_n = -(lam - n)^2, n < lam."""

    def __init__(self, lam: float = 2.0, L: float = 8.0, n_states: int = 1, weights: Mapping[str, float] | None = None):
        super().__init__(L, n_states, weights)
        self.lam = check_number("lam", lam, low=0.0, high=1e3, what="depth parameter")

    def potential(self, x):
        cosh = x.cosh() if hasattr(x, "cosh") else np.cosh(x)
        return -self.lam * (self.lam + 1) / (cosh * cosh)


@register("custom")
class Custom(_OnSymmetricInterval):
    """V given as an expression in x, e.g. problem.potential="0.5*x**4 - x**2" (see pinn/expressions.py).
    The parity split is used only when V is symmetric about 0 to 1e-12 on a fine grid."""

    def __init__(self, potential: Any = "x**2", L: float = 5.0, constants: Mapping[str, Any] | None = None,
                 n_states: int = 1, weights: Mapping[str, float] | None = None):
        super().__init__(L, n_states, weights)
        if constants is not None and not isinstance(constants, Mapping):
            raise ConfigError(f"problem.constants={constants!r} must map names to numbers")
        self.expression = Expression(potential, constants)
        x = np.linspace(0.0, self.L, 2001)
        try:
            with np.errstate(all="ignore"):  # a non-finite value is reported below
                left, right = self.expression(-x), self.expression(x)
        except (ArithmeticError, TypeError, ValueError) as exc:  # Python-float parts: 1/0, (-3)**0.5, ...
            raise ConfigError(f"problem.potential={shown(potential)} cannot be evaluated ({exc})") from None
        if not np.all(np.isfinite(left)) or not np.all(np.isfinite(right)):
            raise ConfigError(f"problem.potential={shown(potential)} is not finite everywhere on [-{self.L:g}, {self.L:g}]")
        scale = max(float(np.max(np.abs(right))), float(np.max(np.abs(left))), 1.0)
        if scale > LARGEST_POTENTIAL:
            raise ConfigError(f"problem.potential={shown(potential)} reaches |V| = {scale:.3g} on [-{self.L:g}, {self.L:g}], "
                              f"beyond {LARGEST_POTENTIAL:g}; shrink problem.L or rescale the potential")
        self.symmetric = bool(np.max(np.abs(left - right)) <= 1e-12 * scale)

    def potential(self, x):
        return self.expression(x)
