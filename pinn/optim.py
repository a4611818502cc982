"""Levenberg-Marquardt for losses that are sums of squares, L(theta) = |r(theta)|^2.

Each step solves the damped Gauss-Newton system with Marquardt's diagonal scaling D = diag(J^T J):

    (J^T J + lam D) delta = -J^T r

(in its dual form delta = -D^-1 J^T (J D^-1 J^T + lam I)^-1 r when there are fewer residuals than
parameters), accepts the step if L decreases and then relaxes lam, and otherwise raises lam and
tries again. On small PINNs this reaches residuals near machine precision where first-order
methods and L-BFGS stall several orders of magnitude higher.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn
from torch.func import functional_call, jacfwd, jacrev


class LevenbergMarquardt:
    def __init__(self, module: nn.Module, residual: Callable[[], torch.Tensor], damping: float = 1e-3,
                 geodesic: bool = True, max_tries: int = 12, scale_floor: float = 1e-12):
        """`residual()` evaluates the residual vector with the module's current parameters, or a
        list of blocks of it (their Jacobians are then taken one block at a time).

        `scale_floor` bounds Marquardt's scaling from below at that fraction of its largest entry:
        parameters the residual barely sees (a network whose output layer starts small) would
        otherwise take steps large enough to saturate the network in one go."""
        self.module = module
        self.residual_fn = residual
        self.names = [n for n, p in module.named_parameters() if p.requires_grad]
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.damping = damping
        self.geodesic, self.max_tries = geodesic, max_tries
        self.scale_floor = scale_floor
        self.converged = False

    def _flat(self) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self.params])

    def _unflat(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        out, i = {}, 0
        for name, p in zip(self.names, self.params):
            out[name] = theta[i : i + p.numel()].view_as(p)
            i += p.numel()
        return out

    def _blocks_at(self, theta: torch.Tensor) -> list[torch.Tensor]:
        out = functional_call(self.module, self._unflat(theta), (), {"residual_fn": self.residual_fn})
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def _residual_at(self, theta: torch.Tensor) -> torch.Tensor:
        return torch.cat([b.reshape(-1) for b in self._blocks_at(theta)])

    def _jacobian(self, theta: torch.Tensor, sizes: list[int]) -> torch.Tensor:
        """Block by block (a block only back-propagates through its own part of the graph); forward
        mode costs one pass per parameter, reverse one per residual: each block takes the cheaper."""
        blocks = []
        for i, rows in enumerate(sizes):
            def block(th, i=i):
                return self._blocks_at(th)[i].reshape(-1)
            blocks.append((jacfwd if rows > theta.numel() else jacrev)(block)(theta).detach())
        return torch.cat(blocks)

    def _solver(self, J: torch.Tensor, diag: torch.Tensor, lam: float):
        """Returns rhs -> -(J^T J + lam D)^-1 J^T rhs, factorized once for this lam."""
        m, n = J.shape
        if m < n:
            JD = J / diag
            K = JD @ J.T
            K.diagonal().add_(lam)
            L, info = torch.linalg.cholesky_ex(K)
            if int(info) != 0:
                return None
            return lambda rhs: -JD.T @ torch.cholesky_solve(rhs.unsqueeze(-1), L).squeeze(-1)
        A = J.T @ J
        A.diagonal().add_(lam * diag)
        L, info = torch.linalg.cholesky_ex(A)
        if int(info) != 0:
            return None
        return lambda rhs: -torch.cholesky_solve((J.T @ rhs).unsqueeze(-1), L).squeeze(-1)

    def step(self) -> float:
        """One accepted step (or give up after max_tries rejections); returns the loss after it.

        The step is the Gauss-Newton velocity v plus half the geodesic acceleration a (Transtrum
        and Sethna), a = -(J^T J + lam D)^-1 J^T r_vv with r_vv the second directional derivative
        of r along v by a finite difference; it keeps steps long in the curved, narrow valleys of
        network losses. The damping follows Nielsen's rule on the gain ratio rho:
        lam *= max(1/3, 1 - (2 rho - 1)^3) after an accepted step, lam *= nu, nu *= 2 after a rejection.
        """
        theta = self._flat()
        blocks = [b.detach().reshape(-1) for b in self._blocks_at(theta)]
        r = torch.cat(blocks)
        loss = float(r @ r)
        J = self._jacobian(theta, [b.numel() for b in blocks])
        diag = (J * J).sum(0)
        diag = diag.clamp_min(self.scale_floor * float(diag.max()) + torch.finfo(J.dtype).tiny)
        nu = 2.0
        for _ in range(self.max_tries):
            lam = self.damping
            solve = self._solver(J, diag, lam)
            if solve is None:
                self.damping = min(lam * nu, 1e15)
                nu *= 2
                continue
            delta = velocity = solve(r)
            if self.geodesic:
                h = 0.1
                r_h = self._residual_at(theta + h * velocity).detach()
                acceleration = solve((2.0 / h) * ((r_h - r) / h - J @ velocity))
                v_norm = float(torch.linalg.vector_norm(velocity * diag.sqrt()))
                a_norm = float(torch.linalg.vector_norm(acceleration * diag.sqrt()))
                if 2 * a_norm <= 0.75 * v_norm:
                    delta = velocity + 0.5 * acceleration
            predicted = loss - float(((r + J @ delta) ** 2).sum())
            trial = theta + delta
            r_new = self._residual_at(trial).detach()
            new_loss = float(r_new @ r_new)
            rho = (loss - new_loss) / predicted if predicted > 0 else -1.0
            if math.isfinite(new_loss) and new_loss < loss and rho > 0:
                self._assign(trial)
                self.damping = max(lam * max(1 / 3, 1 - (2 * rho - 1) ** 3), 1e-15)
                return new_loss
            self.damping = min(lam * nu, 1e15)
            nu *= 2
        self.converged = True
        return loss

    def state_dict(self) -> dict[str, float | bool]:
        return {"damping": self.damping, "converged": self.converged}

    def load_state_dict(self, state: dict[str, float | bool]) -> None:
        self.damping = float(state["damping"])
        self.converged = bool(state["converged"])

    def _assign(self, theta: torch.Tensor) -> None:
        with torch.no_grad():
            for p, value in zip(self.params, self._unflat(theta).values()):
                p.copy_(value)


class ResidualModule(nn.Module):
    """Wraps a model so that functional_call can swap its parameters while a residual is evaluated."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, residual_fn: Callable[[], torch.Tensor | list[torch.Tensor]]):
        return residual_fn()
