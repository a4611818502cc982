"""Taylor jets: a function value with its first and second derivative in one input.

Propagating (f, f', f'') forward through every operation gives the derivatives a residual needs
without nested autograd, so the residual is an ordinary differentiable function of the network
parameters: Adam, L-BFGS and the Jacobian for Levenberg-Marquardt all see a single graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

import torch
from torch.func import jvp

Scalar = Union[float, int, torch.Tensor]


def _sum(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    return None if a is None or b is None else a + b


@dataclass(frozen=True)
class Jet:
    """(f, f', f''); a jet of order 1 leaves f'' out (None), one of order 0 f' too, and an
    operation on jets of different orders gives the lower order (a loss that needs no second
    derivative does not pay for them)."""

    value: torch.Tensor
    d1: torch.Tensor | None
    d2: torch.Tensor | None

    @staticmethod
    def variable(x: torch.Tensor, order: int = 2) -> "Jet":
        return Jet(x, torch.ones_like(x) if order >= 1 else None, torch.zeros_like(x) if order >= 2 else None)

    @staticmethod
    def constant(c: torch.Tensor, order: int = 2) -> "Jet":
        zero = torch.zeros_like(c)
        return Jet(c, zero if order >= 1 else None, zero if order >= 2 else None)

    @property
    def order(self) -> int:
        return 0 if self.d1 is None else 1 if self.d2 is None else 2

    def _lift(self, other: "Jet | Scalar") -> "Jet":
        if isinstance(other, Jet):
            return other
        return Jet.constant(torch.as_tensor(other, dtype=self.value.dtype, device=self.value.device), self.order)

    def __add__(self, other: "Jet | Scalar") -> "Jet":
        if not isinstance(other, Jet):
            if isinstance(other, torch.Tensor) and other.shape != self.value.shape:
                other = self._lift(other)  # the derivatives broadcast as the value does
            else:
                return Jet(self.value + other, self.d1, self.d2)
        return Jet(self.value + other.value, _sum(self.d1, other.d1), _sum(self.d2, other.d2))

    __radd__ = __add__

    def __neg__(self) -> "Jet":
        return Jet(-self.value, None if self.d1 is None else -self.d1, None if self.d2 is None else -self.d2)

    def __sub__(self, other: "Jet | Scalar") -> "Jet":
        return self + (-self._lift(other))

    def __rsub__(self, other: "Jet | Scalar") -> "Jet":
        return self._lift(other) - self

    def __mul__(self, other: "Jet | Scalar") -> "Jet":
        if not isinstance(other, Jet):
            return self._scaled(lambda t: t * other)
        order = min(self.order, other.order)
        return Jet(
            self.value * other.value,
            self.d1 * other.value + self.value * other.d1 if order >= 1 else None,
            self.d2 * other.value + 2 * self.d1 * other.d1 + self.value * other.d2 if order >= 2 else None,
        )

    __rmul__ = __mul__

    def __truediv__(self, c: Scalar) -> "Jet":
        return self._scaled(lambda t: t / c)

    def _scaled(self, f) -> "Jet":
        return Jet(f(self.value), None if self.d1 is None else f(self.d1), None if self.d2 is None else f(self.d2))

    def apply(self, f: torch.Tensor, df: torch.Tensor | None, d2f: torch.Tensor | None) -> "Jet":
        """Chain rule for g = f(self), given f, f', f'' evaluated at self.value (f'' may be None
        for a jet of order below 2, f' for one of order 0)."""
        return Jet(f, None if self.d1 is None else df * self.d1,
                   None if self.d2 is None else df * self.d2 + d2f * self.d1 * self.d1)

    def exp(self) -> "Jet":
        e = torch.exp(self.value)
        return self.apply(e, e, e)

    def tanh(self) -> "Jet":
        a = torch.tanh(self.value)
        if self.d1 is None:
            return Jet(a, None, None)
        s = 1 - a * a
        return self.apply(a, s, None if self.d2 is None else -2 * a * s)

    def sin(self) -> "Jet":
        s = torch.sin(self.value)
        if self.d1 is None:
            return Jet(s, None, None)
        return self.apply(s, torch.cos(self.value), -s)

    def linear(self, weight: torch.Tensor, bias: torch.Tensor | None) -> "Jet":
        """Affine map over the last axis, as nn.Linear does."""
        value = self.value @ weight.T
        if bias is not None:
            value = value + bias
        return Jet(value, *(None if d is None else d @ weight.T for d in (self.d1, self.d2)))

    def squeeze(self, dim: int) -> "Jet":
        return self._scaled(lambda t: t.squeeze(dim))

    def unsqueeze(self, dim: int) -> "Jet":
        return self._scaled(lambda t: t.unsqueeze(dim))


def second_jvp(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) \
        -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(f, df/dx, d2f/dx2) of a pointwise fn at the nodes x by one nested forward-mode pass (fn
    evaluated once, not again for its value)."""
    ones = torch.ones_like(x)

    def first(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        value, slope = jvp(fn, (u,), (ones,))
        return slope, value

    slope, curvature, value = jvp(first, (x,), (ones,), has_aux=True)
    return value, slope, curvature
