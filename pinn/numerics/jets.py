"""Second-order Taylor jets: a function value with its first and second derivative in one input.

Propagating (f, f', f'') forward through every operation gives the derivatives a residual needs
without nested autograd, so the residual is an ordinary differentiable function of the network
parameters: Adam, L-BFGS and the Jacobian for Levenberg-Marquardt all see a single graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch

Scalar = Union[float, int, torch.Tensor]


@dataclass(frozen=True)
class Jet:
    value: torch.Tensor
    d1: torch.Tensor
    d2: torch.Tensor

    @staticmethod
    def variable(x: torch.Tensor) -> "Jet":
        return Jet(x, torch.ones_like(x), torch.zeros_like(x))

    @staticmethod
    def constant(c: torch.Tensor) -> "Jet":
        return Jet(c, torch.zeros_like(c), torch.zeros_like(c))

    def _lift(self, other: "Jet | Scalar") -> "Jet":
        if isinstance(other, Jet):
            return other
        c = torch.as_tensor(other, dtype=self.value.dtype, device=self.value.device)
        return Jet(c, torch.zeros_like(c), torch.zeros_like(c))

    def __add__(self, other: "Jet | Scalar") -> "Jet":
        o = self._lift(other)
        return Jet(self.value + o.value, self.d1 + o.d1, self.d2 + o.d2)

    __radd__ = __add__

    def __neg__(self) -> "Jet":
        return Jet(-self.value, -self.d1, -self.d2)

    def __sub__(self, other: "Jet | Scalar") -> "Jet":
        return self + (-self._lift(other))

    def __rsub__(self, other: "Jet | Scalar") -> "Jet":
        return self._lift(other) - self

    def __mul__(self, other: "Jet | Scalar") -> "Jet":
        if not isinstance(other, Jet):
            return Jet(self.value * other, self.d1 * other, self.d2 * other)
        return Jet(
            self.value * other.value,
            self.d1 * other.value + self.value * other.d1,
            self.d2 * other.value + 2 * self.d1 * other.d1 + self.value * other.d2,
        )

    __rmul__ = __mul__

    def __truediv__(self, c: Scalar) -> "Jet":
        return Jet(self.value / c, self.d1 / c, self.d2 / c)

    def apply(self, f: torch.Tensor, df: torch.Tensor, d2f: torch.Tensor) -> "Jet":
        """Chain rule for g = f(self), given f, f', f'' evaluated at self.value."""
        return Jet(f, df * self.d1, df * self.d2 + d2f * self.d1 * self.d1)

    def exp(self) -> "Jet":
        e = torch.exp(self.value)
        return self.apply(e, e, e)

    def tanh(self) -> "Jet":
        a = torch.tanh(self.value)
        s = 1 - a * a
        return self.apply(a, s, -2 * a * s)

    def sin(self) -> "Jet":
        s, c = torch.sin(self.value), torch.cos(self.value)
        return self.apply(s, c, -s)

    def linear(self, weight: torch.Tensor, bias: torch.Tensor | None) -> "Jet":
        """Affine map over the last axis, as nn.Linear does."""
        value = self.value @ weight.T
        if bias is not None:
            value = value + bias
        return Jet(value, self.d1 @ weight.T, self.d2 @ weight.T)

    def squeeze(self, dim: int) -> "Jet":
        return Jet(self.value.squeeze(dim), self.d1.squeeze(dim), self.d2.squeeze(dim))

    def unsqueeze(self, dim: int) -> "Jet":
        return Jet(self.value.unsqueeze(dim), self.d1.unsqueeze(dim), self.d2.unsqueeze(dim))
