"""L-BFGS on every point of a batch at once (pinn.training.batched): each point with its own
curvature history, its own step length and its own end, the points' losses and gradients formed in
one vectorized evaluation per trial step.

The direction is the two-loop recursion of the last `history_size` pairs (s, y) of that point,
H0 = (s.y / y.y) I from its newest pair (identity before the first, when the first step is also
scaled to at most 1 / |g|_1, as torch's L-BFGS does). The step length t comes from a backtracking
search on the Armijo condition

    f(x + t d) <= f(x) + c1 t g.d,   c1 = 1e-4,

starting at t = lr, each retry at the minimum of the quadratic through f(x), g.d and f(x + t d),
kept within [0.1 t, 0.5 t]. A pair with s.y <= 1e-10 |s| |y| is not stored (the curvature
condition the strong-Wolfe search of the single run enforces instead). The nodes stay fixed
through the phase (as for the single run's L-BFGS), so the gradient at the accepted point starts
the next step: one evaluation per step where the first trial is accepted, against at least two for
the single run's L-BFGS with max_iter=1.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.utils._pytree import tree_map

ARMIJO = 1e-4
CURVATURE_FLOOR = 1e-10


class BatchedLBFGS:
    """L-BFGS with a per-point history, line search and end (`done`: no step along its direction
    decreased the loss in `max_tries` trials, or the direction is not one of descent)."""

    def __init__(self, batch: Any, stage: str, lr: float, history_size: int, max_tries: int = 25):
        self.batch, self.stage, self.lr, self.max_tries = batch, stage, float(lr), max_tries
        B = batch.size
        like = batch.params[batch.names[0]]
        n = sum(batch.params[name][0].numel() for name in batch.names)
        m = int(history_size)
        self.S = like.new_zeros(B, m, n)
        self.Y = like.new_zeros(B, m, n)
        self.rho = like.new_zeros(B, m)
        self.stored = torch.zeros(B, m, dtype=torch.bool, device=like.device)
        self.head = 0                      # the slot the next pair goes to (common to all points)
        self.filled = 0                    # slots written so far (at most m)
        self.gamma = like.new_ones(B)      # H0's scale per point
        self.done = torch.zeros(B, dtype=torch.bool, device=like.device)
        self.loss: torch.Tensor | None = None
        self.grad: torch.Tensor | None = None

    def loss_and_grad(self, theta: torch.Tensor, idx: torch.Tensor, data: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Each selected point's loss and its gradient at `theta` (rows of the points `idx`)."""
        x = theta.detach().clone().requires_grad_(True)
        params = self.batch.unflat(x)
        take = lambda tree: tree_map(lambda leaf: leaf[idx], tree)  # noqa: E731
        totals = self.batch.losses(params, take(data), self.stage, take(self.batch.buffers))
        finite = torch.isfinite(totals.detach())
        if bool(finite.any()):
            (grad,) = torch.autograd.grad(totals[finite].sum(), x)
        else:
            grad = torch.zeros_like(x)
        return totals.detach(), grad.detach()

    def _direction(self, g: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """-H g by the two-loop recursion over each point's stored pairs, newest first."""
        m = self.S.shape[1]
        S, Y, rho, stored = self.S[idx], self.Y[idx], self.rho[idx], self.stored[idx]
        q = g.clone()
        alphas = []
        for i in range(self.filled):
            slot = (self.head - 1 - i) % m
            a = torch.where(stored[:, slot], rho[:, slot] * (S[:, slot] * q).sum(1), torch.zeros_like(rho[:, slot]))
            q -= a.unsqueeze(1) * Y[:, slot]
            alphas.append(a)
        r = q * self.gamma[idx].unsqueeze(1)
        for i in reversed(range(self.filled)):
            slot = (self.head - 1 - i) % m
            b = torch.where(stored[:, slot], rho[:, slot] * (Y[:, slot] * r).sum(1), torch.zeros_like(rho[:, slot]))
            r += (alphas[i] - b).unsqueeze(1) * S[:, slot]
        return -r

    def step(self, data: Any) -> torch.Tensor:
        """One L-BFGS step of every point not done; returns each point's loss after it (infinite for
        the points that were done before)."""
        idx = torch.nonzero(~self.done).squeeze(1)
        losses = torch.full_like(self.gamma, math.inf)
        if idx.numel() == 0:
            return losses
        theta_all = self.batch.flat()
        if self.loss is None:
            self.loss, self.grad = torch.full_like(losses, math.inf), torch.zeros_like(theta_all)
            self.loss[idx], self.grad[idx] = self.loss_and_grad(theta_all[idx], idx, data)
        theta, f0, g0 = theta_all[idx], self.loss[idx], self.grad[idx]
        d = self._direction(g0, idx)
        slope = (g0 * d).sum(1)
        fresh = ~self.stored[idx].any(1)
        t = torch.full_like(f0, self.lr)
        t = torch.where(fresh, torch.clamp(1.0 / g0.abs().sum(1), max=1.0) * self.lr, t)
        pending = torch.isfinite(f0) & (slope < 0)
        accepted = torch.zeros_like(pending)
        f_new, g_new = f0.clone(), g0.clone()
        for _ in range(self.max_tries):
            sel = torch.nonzero(pending).squeeze(1)
            if sel.numel() == 0:
                break
            trial = theta[sel] + t[sel].unsqueeze(1) * d[sel]
            f_t, g_t = self.loss_and_grad(trial, idx[sel], data)
            ok = torch.isfinite(f_t) & (f_t <= f0[sel] + ARMIJO * t[sel] * slope[sel])
            f_new[sel] = torch.where(ok, f_t, f_new[sel])
            g_new[sel] = torch.where(ok.unsqueeze(1), g_t, g_new[sel])
            accepted[sel] = ok
            # the minimum of the quadratic through f(0), f'(0) = slope and f(t), kept in [0.1 t, 0.5 t]
            ts, s0 = t[sel], slope[sel]
            bend = f_t - f0[sel] - s0 * ts
            shrunk = torch.where(torch.isfinite(f_t) & (bend > 0), -s0 * ts * ts / (2 * bend), 0.5 * ts)
            t[sel] = torch.where(ok, ts, torch.clamp(shrunk, min=0.1 * ts, max=0.5 * ts))
            pending[sel] = ~ok
        s = t.unsqueeze(1) * d
        y = g_new - g0
        sy = (s * y).sum(1)
        keep = accepted & (sy > CURVATURE_FLOOR * torch.linalg.vector_norm(s, dim=1) * torch.linalg.vector_norm(y, dim=1))
        slot = self.head
        self.S[idx, slot] = torch.where(keep.unsqueeze(1), s, self.S[idx, slot])
        self.Y[idx, slot] = torch.where(keep.unsqueeze(1), y, self.Y[idx, slot])
        self.rho[idx, slot] = torch.where(keep, 1.0 / torch.where(keep, sy, torch.ones_like(sy)), self.rho[idx, slot])
        self.stored[idx, slot] = keep
        self.gamma[idx] = torch.where(keep, sy / (y * y).sum(1).clamp_min(torch.finfo(y.dtype).tiny), self.gamma[idx])
        self.head = (self.head + 1) % self.S.shape[1]
        self.filled = min(self.filled + 1, self.S.shape[1])
        theta_all[idx] = torch.where(accepted.unsqueeze(1), theta + s, theta)
        self.loss[idx], self.grad[idx] = f_new, g_new
        self.done[idx] = ~accepted
        losses[idx] = f_new
        self.batch.assign(theta_all)
        return losses
