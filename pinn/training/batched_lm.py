"""Levenberg-Marquardt on every point of a batch at once (pinn.training.batched): the single
optimizer's step (pinn.training.optimizers: Marquardt's scaling, geodesic acceleration, Nielsen's
damping rule) with a damping, an accept/reject decision and an end per point. The Jacobians of the
points are formed in one vectorized call (node by node where the problem gives Pointwise blocks)
and their damped systems solved as one batch; only the points still going are evaluated."""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch.func import vmap
from torch.utils._pytree import tree_map

from pinn.training.optimizers import LevenbergMarquardt


class BatchedLevenbergMarquardt:
    """Levenberg-Marquardt (pinn.training.optimizers) on every point of a batch at once, each
    point with its own damping, its own accept/reject and its own end (no step decreases its loss)."""

    def __init__(self, batch: Any, stage: str, damping: float, geodesic: bool, scale_floor: float,
                 max_tries: int = 12):
        self.batch, self.stage = batch, stage
        self.geodesic, self.max_tries, self.scale_floor = geodesic, max_tries, scale_floor
        B = batch.size
        like = batch.params[batch.names[0]]
        self.damping = torch.full((B,), float(damping), dtype=like.dtype, device=like.device)
        self.done = torch.zeros(B, dtype=torch.bool, device=like.device)
        self.single = LevenbergMarquardt(batch.wrapper, lambda: None, check_pointwise=False)  # checked by pinn.batching

    def _blocks(self, data: Any) -> Callable[[], list]:
        return lambda: list(self.batch.problem.loss_terms(self.batch.wrapper.model, data, self.stage).values())

    def residuals(self, theta: torch.Tensor, buffers: Any, data: Any) -> torch.Tensor:
        lm = self.single

        def one(x, b, d):
            lm.residual_fn = self._blocks(d)
            return lm._residual_at({**self.batch.unflat(x), **b})

        return vmap(one)(theta, buffers, data)

    def jacobians(self, theta: torch.Tensor, buffers: Any, data: Any) -> tuple[torch.Tensor, torch.Tensor]:
        lm = self.single

        def one(x, buffers, d):
            lm.residual_fn = self._blocks(d)
            at = lambda v: {**self.batch.unflat(v), **buffers}  # noqa: E731
            now, later = lm._split_at(at(x), None, raw=True)  # blocks whose closures read this point's parameters
            immediate, deferred = lm._split_at(at(x))          # only inside functional_call
            J = lm._jacobian(at, x, None, now, [v.numel() for v in deferred], by_block=True)
            return torch.cat(immediate + deferred), J

        return vmap(one)(theta, buffers, data)

    def step(self, data: Any) -> torch.Tensor:
        """One step of every point not done (only those are evaluated); returns each point's loss
        after it (infinite for the points that were done before)."""
        idx = torch.nonzero(~self.done).squeeze(1)
        losses = torch.full_like(self.damping, math.inf)
        if idx.numel() == 0:
            return losses
        take = lambda tree: tree_map(lambda leaf: leaf[idx], tree)  # noqa: E731
        theta_all = self.batch.flat()
        new_loss, theta, damping, stuck = self._step(theta_all[idx], take(self.batch.buffers), take(data),
                                                     self.damping[idx])
        theta_all[idx] = theta
        self.damping[idx] = damping
        self.done[idx] = stuck
        losses[idx] = new_loss
        self.batch.assign(theta_all)
        return losses

    def _step(self, theta: torch.Tensor, buffers: Any, data: Any, damping: torch.Tensor):
        """(losses, parameters, dampings, whether no step decreased the loss) of the points given."""
        with torch.no_grad():
            r, J = self.jacobians(theta, buffers, data)
        loss = (r * r).sum(1)
        diag = (J * J).sum(1)
        diag = torch.maximum(diag, self.scale_floor * diag.amax(1, keepdim=True) + torch.finfo(J.dtype).tiny)
        pending = torch.isfinite(loss)
        nu = torch.full_like(damping, 2.0)
        new_loss = loss.clone()
        for _ in range(self.max_tries):
            # only the points still without an accepted step are solved and evaluated again
            sel = torch.nonzero(pending).squeeze(1)
            if sel.numel() == 0:
                break
            take = lambda tree: tree_map(lambda leaf: leaf[sel], tree)  # noqa: E731
            J_s, r_s, diag_s, loss_s, theta_s, lam = J[sel], r[sel], diag[sel], loss[sel], theta[sel], damping[sel]
            solve, factored = _solvers(J_s, diag_s, lam)
            delta = velocity = solve(r_s)
            if self.geodesic:
                h = 0.1
                with torch.no_grad():
                    r_h = self.residuals(theta_s + h * velocity, take(buffers), take(data))
                Jv = torch.einsum("bmn,bn->bm", J_s, velocity)
                acceleration = solve((2.0 / h) * ((r_h - r_s) / h - Jv))
                v_norm = torch.linalg.vector_norm(velocity * diag_s.sqrt(), dim=1)
                a_norm = torch.linalg.vector_norm(acceleration * diag_s.sqrt(), dim=1)
                use = (2 * a_norm <= 0.75 * v_norm).unsqueeze(1)
                delta = torch.where(use, velocity + 0.5 * acceleration, velocity)
            predicted = loss_s - ((r_s + torch.einsum("bmn,bn->bm", J_s, delta)) ** 2).sum(1)
            trial = theta_s + delta
            with torch.no_grad():
                r_new = self.residuals(trial, take(buffers), take(data))
            trial_loss = (r_new * r_new).sum(1)
            rho = torch.where(predicted > 0, (loss_s - trial_loss) / predicted, torch.full_like(loss_s, -1.0))
            accept = factored & torch.isfinite(trial_loss) & (trial_loss < loss_s) & (rho > 0)
            theta[sel] = torch.where(accept.unsqueeze(1), trial, theta_s)
            new_loss[sel] = torch.where(accept, trial_loss, new_loss[sel])
            relaxed = lam * torch.clamp(1 - (2 * rho - 1) ** 3, min=1 / 3)
            raised = torch.clamp(lam * nu[sel], max=1e15)
            damping[sel] = torch.where(accept, torch.clamp(relaxed, min=1e-15), raised)
            nu[sel] = torch.where(accept, nu[sel], nu[sel] * 2)
            pending[sel] = ~accept
        return new_loss, theta, damping, pending | ~torch.isfinite(loss)


def _solvers(J: torch.Tensor, diag: torch.Tensor, damping: torch.Tensor):
    """(rhs -> -(J^T J + lam D)^-1 J^T rhs per point, which points factorized); dual form when
    there are fewer rows than parameters, as in the single optimizer."""
    B, m, n = J.shape
    if m < n:
        JD = J / diag.unsqueeze(1)
        K = JD @ J.transpose(1, 2)
        K = K + damping.view(B, 1, 1) * torch.eye(m, dtype=J.dtype, device=J.device)
        L, info = torch.linalg.cholesky_ex(K)
        ok = info == 0
        L = torch.where(ok.view(B, 1, 1), L, torch.eye(m, dtype=J.dtype, device=J.device))
        return (lambda rhs: -torch.einsum("bnm,bm->bn", JD.transpose(1, 2),
                                          torch.cholesky_solve(rhs.unsqueeze(-1), L).squeeze(-1))), ok
    A = J.transpose(1, 2) @ J
    A = A + torch.diag_embed(damping.view(B, 1) * diag)
    L, info = torch.linalg.cholesky_ex(A)
    ok = info == 0
    L = torch.where(ok.view(B, 1, 1), L, torch.eye(n, dtype=J.dtype, device=J.device))
    return (lambda rhs: -torch.cholesky_solve(torch.einsum("bmn,bm->bn", J, rhs).unsqueeze(-1), L).squeeze(-1)), ok
