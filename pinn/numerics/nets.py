"""Networks: a smooth MLP evaluated on Taylor jets, and a bank of per-region MLPs."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from pinn.errors import ConfigError
from pinn.numerics.jets import Jet

ACTIVATIONS = ("tanh", "sin")


class MLP(nn.Module):
    """Fully connected network with a smooth activation; Xavier-initialized, zero biases."""

    def __init__(self, n_in: int, n_out: int, width: int, depth: int, act: str = "tanh", output_scale: float = 1.0):
        """`output_scale` shrinks the output layer's initial weights: a network that starts as a
        small correction to a trial function's built-in shape."""
        super().__init__()
        if act not in ACTIVATIONS:
            raise ConfigError(f"model.activation={act!r} is not supported; choose from {', '.join(ACTIVATIONS)}")
        self.act = act
        sizes = [n_in] + [width] * depth + [n_out]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        for layer in self.layers:
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
        if output_scale != 1.0:
            with torch.no_grad():
                self.layers[-1].weight.mul_(output_scale)

    def jet(self, x: Jet) -> Jet:
        """Value and first two input derivatives; x has a trailing feature axis."""
        h = x
        for k, layer in enumerate(self.layers):
            h = h.linear(layer.weight, layer.bias)
            if k < len(self.layers) - 1:
                h = h.tanh() if self.act == "tanh" else h.sin()
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.jet(Jet(x, None, None)).value


class RegionNets(nn.Module):
    """One scalar MLP per region; region k sees its coordinate mapped affinely onto [-1, 1].

    Separate networks let the represented function have a kink in any derivative at the region
    boundaries, which is what a jump in the potential produces (psi'' jumps with V).
    """

    def __init__(self, bounds: Sequence[tuple[float, float]], width: int, depth: int, act: str):
        super().__init__()
        self.nets = nn.ModuleList(MLP(1, 1, width, depth, act) for _ in bounds)
        self.bounds = [(float(lo), float(hi)) for lo, hi in bounds]

    def jet(self, region: int, u: Jet) -> Jet:
        lo, hi = self.bounds[region]
        z = (u - 0.5 * (hi + lo)) / (0.5 * (hi - lo))
        return self.nets[region].jet(z.unsqueeze(-1)).squeeze(-1)
