"""Quadrature rules for the training losses: Gauss-Legendre rules (kept once computed: a problem
that draws fresh collocation nodes every step asks for the same rule thousands of times) and nodes
on [0, 1] for the flame problems."""

from __future__ import annotations

import functools

import numpy as np
import torch


@functools.lru_cache(maxsize=64)
def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the n-point Gauss-Legendre rule on [-1, 1] (read-only arrays)."""
    nodes, weights = np.polynomial.legendre.leggauss(n)
    nodes.flags.writeable = weights.flags.writeable = False
    return nodes, weights


def gauss_legendre_like(n: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The n-point Gauss-Legendre rule on [-1, 1] as tensors of `like`'s device and dtype."""
    return tuple(torch.tensor(v, device=like.device, dtype=like.dtype) for v in gauss_legendre(n))


def graded(n: int, like: torch.Tensor, stop: float = 1.0) -> torch.Tensor:
    """n points on [0, stop] graded towards both ends of [0, 1] (smoothstep of a uniform grid)."""
    t = torch.linspace(0.0, stop, n, device=like.device, dtype=like.dtype)
    return t * t * (3.0 - 2.0 * t)


def composite_gauss(n_points: int, generator: torch.Generator | None = None, pieces: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of a composite Gauss-Legendre rule on [0, 1]."""
    edges = np.linspace(0.0, 1.0, pieces + 1)
    bounds = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        if generator is None:
            bounds.append((lo, hi))
        else:
            cut = lo + (hi - lo) * (0.2 + 0.6 * float(torch.rand((), generator=generator, dtype=torch.float64)))
            bounds += [(lo, cut), (cut, hi)]
    per = max(2, n_points // len(bounds))
    nodes, weights = gauss_legendre(per)
    eta = np.concatenate([0.5 * (hi - lo) * nodes + 0.5 * (hi + lo) for lo, hi in bounds])
    w = np.concatenate([0.5 * (hi - lo) * weights for lo, hi in bounds])
    return eta, w


def relative_l2(values: np.ndarray, ref: np.ndarray, x: np.ndarray, offset: float = 0.0) -> float:
    """||values - ref|| / ||ref - offset|| in L2 over x (trapezoid rule)."""
    num = _trapezoid((values - ref) ** 2, x)
    den = _trapezoid((ref - offset) ** 2, x)
    return float(np.sqrt(num / den)) if den > 0 else float("nan")


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))
