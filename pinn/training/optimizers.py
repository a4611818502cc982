"""Levenberg-Marquardt for losses that are sums of squares, L(theta) = |r(theta)|^2.

Each step solves the damped Gauss-Newton system with Marquardt's diagonal scaling D = diag(J^T J):

    (J^T J + lam D) delta = -J^T r

(in its dual form delta = -D^-1 J^T (J D^-1 J^T + lam I)^-1 r when there are fewer residuals than
parameters), accepts the step if L decreases and then relaxes lam, and otherwise raises lam and
tries again. On small PINNs this reaches residuals near machine precision where first-order
methods and L-BFGS stall several orders of magnitude higher.

With `groups` (disjoint sets of parameters, each with the residual rows it owns) every group is
its own least-squares problem, stepped in turn with its own damping and its own accept/reject:
the eigenstates of one problem, where state j's rows see the lower states only as fixed data. A
joint step would judge a lower state's move by the rows of the upper states, whose dependence on
it no Jacobian block contains, and one hard state would set the damping of all.

A block may be `Deferred`: computed only when asked for. The Jacobian of the other blocks then
does not pay for it (a forward-mode Jacobian carries one tangent per parameter through everything
the residual function evaluates), and its own Jacobian is taken alone, in the cheaper mode.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Collection

import torch
from torch import nn
from torch.func import functional_call, jacfwd, jacrev, jvp, vmap

from pinn.problems.base import Deferred, Pointwise


def _is_deferred(block) -> bool:
    return isinstance(block, Deferred) and not isinstance(block, Pointwise)


def block_rows(block) -> torch.Tensor:
    """An immediate block's rows, a Pointwise block evaluated."""
    return (block() if isinstance(block, Pointwise) else block).reshape(-1)


def _mode(rows: int, cols: int):
    """Forward mode costs one pass per column, reverse one per row."""
    return jacfwd if rows > cols else jacrev


class LevenbergMarquardt:
    def __init__(self, module: nn.Module, residual: Callable[[], torch.Tensor], damping: float = 1e-3,
                 geodesic: bool = True, max_tries: int = 12, scale_floor: float = 1e-12,
                 groups: list[tuple[torch.Tensor, Callable[[], list[torch.Tensor]]]] | None = None,
                 check_pointwise: bool = True):
        """`residual()` evaluates the residual vector with the module's current parameters, or a
        list of blocks of it (their Jacobians are then taken one block at a time).

        `scale_floor` bounds Marquardt's scaling from below at that fraction of its largest entry:
        parameters the residual barely sees (a network whose output layer starts small) would
        otherwise take steps large enough to saturate the network in one go.

        `groups`: (parameter indices in the flattened parameter vector, residual function of the
        rows that group owns) pairs; together they replace `residual`. `check_pointwise=False`
        skips the check of Pointwise blocks (for a caller that has checked them otherwise)."""
        self.module = module
        self.residual_fn = residual
        self.names = [n for n, p in module.named_parameters() if p.requires_grad]
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.groups = groups
        self.dampings = [float(damping)] * (len(groups) if groups else 1)
        self.done = [False] * len(self.dampings)
        self.losses = [math.inf] * len(self.dampings)
        self.layouts = [self._layout(cols) for cols, _ in groups or []]
        self.geodesic, self.max_tries = geodesic, max_tries
        self.scale_floor = scale_floor
        self.checked_pointwise: set[tuple[int, int]] = set()
        self.check_pointwise = check_pointwise
        self.remembered: dict[int, tuple[torch.Tensor, torch.Tensor, list[int]]] = {}

    def forget(self) -> None:
        """Drop the residuals kept from accepted steps: the rows changed (new collocation points)."""
        self.remembered.clear()

    @property
    def damping(self) -> float:
        return max(self.dampings)

    @property
    def converged(self) -> bool:
        return all(self.done)

    def _flat(self) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self.params])

    def _unflat(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """The parameter tensors as views of theta; one split, whose gradient is one concatenation
        (a slice per tensor would add a zero-filled gradient of all of theta per tensor)."""
        pieces = theta.split([p.numel() for p in self.params])
        return {name: piece.view_as(p) for name, p, piece in zip(self.names, self.params, pieces)}

    def _split_at(self, theta: torch.Tensor | dict[str, torch.Tensor], fn: Callable | None = None,
                  deferred: tuple[int, ...] | None = None, raw: bool = False,
                  immediate: tuple[int, ...] | None = None) -> tuple[list, list]:
        """(immediate blocks, deferred blocks) at theta, each in the problem's order; a `Pointwise`
        block counts as immediate. `deferred` and `immediate` pick which blocks of each kind are
        evaluated (None: all; an unevaluated Pointwise block costs nothing); `raw`: the blocks
        themselves, Pointwise and deferred ones not evaluated."""
        params = self._unflat(theta) if isinstance(theta, torch.Tensor) else theta

        def evaluate():
            out = (fn or self.residual_fn)()
            out = list(out) if isinstance(out, (list, tuple)) else [out]
            now = [b for b in out if not _is_deferred(b)]
            now = now if immediate is None else [now[k] for k in immediate]
            later = [b for b in out if _is_deferred(b)]
            chosen = later if deferred is None else [later[k] for k in deferred]
            if raw:
                return now, chosen
            return [block_rows(b) for b in now], [b().reshape(-1) for b in chosen]

        return functional_call(self.module, params, (), {"residual_fn": evaluate})

    def _residual_at(self, theta: torch.Tensor | dict[str, torch.Tensor], fn: Callable | None = None) -> torch.Tensor:
        return self._rows_at(theta, fn)[0]

    def _rows_at(self, theta: torch.Tensor | dict[str, torch.Tensor], fn: Callable | None = None) \
            -> tuple[torch.Tensor, list[int]]:
        """(the residual, the sizes of its deferred blocks) at theta."""
        now, later = self._split_at(theta, fn)
        return torch.cat(now + later), [v.numel() for v in later]

    def _jacobian(self, at: Callable[[torch.Tensor], dict[str, torch.Tensor]], x: torch.Tensor, fn: Callable | None,
                  now: list, later: list[int], by_block: bool) -> torch.Tensor:
        """Rows in the order of `_residual_at`. The immediate blocks (`now`, as evaluated at x): a
        `Pointwise` one node at a time, the others one at a time with `by_block` (each then
        back-propagates only through its own part of the graph), else together; then each
        deferred block (sizes `later`) alone. `at(x)` maps the variables to the parameters."""
        pieces: list[torch.Tensor | None] = [None] * len(now)
        for i, b in enumerate(now):
            if not isinstance(b, Pointwise) and b.numel() == 0:
                pieces[i] = x.new_zeros(0, x.numel())
        plain = [i for i, b in enumerate(now) if pieces[i] is None and not isinstance(b, Pointwise)]
        for i, b in enumerate(now):
            if isinstance(b, Pointwise):
                pieces[i] = self._pointwise_jacobian(at, x, b)
                if self.check_pointwise and (id(fn), i) not in self.checked_pointwise and \
                        self._check_pointwise(lambda v, i=i: self._split_at(at(v), fn, (), immediate=(i,))[0][0],
                                              x, pieces[i], i):
                    self.checked_pointwise.add((id(fn), i))
        if by_block:
            for i in plain:
                def block(v, i=i):
                    return self._split_at(at(v), fn, (), immediate=(i,))[0][0]
                pieces[i] = _mode(now[i].numel(), x.numel())(block)(x).detach()
        elif plain:
            def immediate(v):
                return torch.cat(self._split_at(at(v), fn, (), immediate=tuple(plain))[0])
            together = _mode(sum(now[i].numel() for i in plain), x.numel())(immediate)(x).detach()
            for i, rows in zip(plain, together.split([now[i].numel() for i in plain])):
                pieces[i] = rows
        for k, rows in enumerate(later):
            def deferred(v, k=k):
                return self._split_at(at(v), fn, (k,))[1][0]
            pieces.append(_mode(rows, x.numel())(deferred)(x).detach())
        return torch.cat(pieces)

    def linearized(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The residual and its Jacobian at the module's parameters (all of them, as one problem)."""
        return self._linearized(self._unflat, self._flat(), None, by_block=True)

    def _linearized(self, at: Callable[[torch.Tensor], dict[str, torch.Tensor]], x: torch.Tensor, fn: Callable | None,
                    by_block: bool, known: tuple[torch.Tensor, list[int]] | None = None) \
            -> tuple[torch.Tensor, torch.Tensor]:
        """(r, J) at x, where the module's own parameters are at(x); `known`: r there and the sizes
        of its deferred blocks, from an earlier evaluation (r is then not evaluated again)."""
        with torch.no_grad():
            now, later = self._split_at(at(x), fn, raw=True)  # their closures read the parameters, now at(x)
            if known is not None:
                return known[0], self._jacobian(at, x, fn, now, known[1], by_block)
            values = [block_rows(b) for b in now] + [b().reshape(-1) for b in later]
        return torch.cat(values), self._jacobian(at, x, fn, now, [v.numel() for v in values[len(now):]], by_block)

    def _pointwise_jacobian(self, at: Callable[[torch.Tensor], dict[str, torch.Tensor]], x: torch.Tensor,
                            block: Pointwise) -> torch.Tensor:
        """The block's Jacobian node by node: reverse mode through one node (its rows), vectorized
        over the nodes; rows node by node, as the block's values are flattened."""
        pieces = []
        for f, inputs in block.segments:
            def node(v, *single, f=f):
                def rows():
                    return f(*[s.unsqueeze(0) for s in single]).reshape(-1)
                return functional_call(self.module, at(v), (), {"residual_fn": rows})
            J = vmap(jacrev(node), in_dims=(None,) + (0,) * len(inputs))(x, *inputs).detach()
            pieces.append(J.reshape(-1, x.numel()))
        return torch.cat(pieces)

    @staticmethod
    def _check_pointwise(block: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, J: torch.Tensor,
                         i: int) -> bool:
        """The node-by-node Jacobian must agree with the block's derivative along a random
        direction; it would not if the rows of one node depended on the others, or on the
        parameters through the block's inputs. False: not checkable here (values not finite)."""
        direction = torch.randn(x.shape, generator=torch.Generator().manual_seed(i), dtype=x.dtype).to(x.device)
        _, along = jvp(block, (x,), (direction,))
        expected = along.detach()
        if not (torch.isfinite(expected).all() and torch.isfinite(J).all()):
            return False
        gap = float(torch.linalg.vector_norm(J @ direction - expected))
        if gap > 1e-6 * float(torch.linalg.vector_norm(expected)) + 1e-12:
            raise RuntimeError(f"the Pointwise block {i} is not pointwise in the parameters (its node-by-node Jacobian "
                               f"is off by {gap:.2e} along a test direction): a node's rows must depend on that node "
                               f"alone, and anything the parameters move must be computed inside its function")
        return True

    def _layout(self, cols: torch.Tensor) -> list[tuple[str, torch.Tensor | None, int]]:
        """Per parameter tensor holding any of the flat indices `cols` (ascending): its name, the
        positions of those entries in it (None: all of it) and how many there are; in the order
        of the tensors, so each tensor's entries are the next run of the group's variables."""
        layout, start = [], 0
        for name, p in zip(self.names, self.params):
            inside = cols[(cols >= start) & (cols < start + p.numel())] - start
            if inside.numel() == p.numel():
                layout.append((name, None, p.numel()))
            elif inside.numel():
                layout.append((name, inside, inside.numel()))
            start += p.numel()
        return layout

    @staticmethod
    def _solver(J: torch.Tensor, diag: torch.Tensor) -> Callable[[float], Callable | None]:
        """lam -> (rhs -> -(J^T J + lam D)^-1 J^T rhs), or None where the damped matrix is not
        positive definite; the product of J with itself is formed once for every lam tried."""
        m, n = J.shape
        if m < n:
            JD = J / diag
            gram = JD @ J.T
        else:
            gram = J.T @ J

        def factorized(lam: float):
            A = gram.clone()
            A.diagonal().add_(lam if m < n else lam * diag)
            L, info = torch.linalg.cholesky_ex(A)
            if int(info) != 0:
                return None
            if m < n:
                return lambda rhs: -JD.T @ torch.cholesky_solve(rhs.unsqueeze(-1), L).squeeze(-1)
            return lambda rhs: -torch.cholesky_solve((J.T @ rhs).unsqueeze(-1), L).squeeze(-1)

        return factorized

    def _variables(self, g: int, cols: torch.Tensor | None):
        """(the current values of group g's variables, `at`: variables -> every parameter tensor,
        `place`: variables -> the whole flat parameter vector); without groups, all parameters."""
        theta = self._flat()
        if cols is None:
            return theta, self._unflat, lambda x: x
        fixed = self._unflat(theta)
        layout = self.layouts[g]

        def at(x: torch.Tensor) -> dict[str, torch.Tensor]:
            """Only the tensors that hold this group's entries depend on x, each built from its
            own run of x (no tangents through the other groups' networks, and no gradient the
            size of all the parameters)."""
            moved = dict(fixed)
            for (name, inside, _), run in zip(layout, x.split([count for _, _, count in layout])):
                base = fixed[name]
                flat = run if inside is None else base.reshape(-1).index_copy(0, inside, run)
                moved[name] = flat.view_as(base)
            return moved

        return theta[cols], at, lambda x: theta.index_copy(0, cols, x)

    def step(self) -> float:
        """One step of every group that has not converged; returns the loss after it."""
        if self.groups is None:
            return self._step_group(0, None, None)
        for g, (cols, fn) in enumerate(self.groups):
            if not self.done[g]:
                self.losses[g] = self._step_group(g, cols, fn)
            elif not math.isfinite(self.losses[g]):  # converged before a resume: its loss is not stored
                r = self._residual_at(self._flat(), fn).detach()
                self.losses[g] = float(r @ r)
        return sum(self.losses)

    def _step_group(self, g: int, cols: torch.Tensor | None, fn: Callable | None) -> float:
        """One accepted step of group g (or give up after max_tries rejections); returns its loss.

        The step is the Gauss-Newton velocity v plus half the geodesic acceleration a (Transtrum
        and Sethna), a = -(J^T J + lam D)^-1 J^T r_vv with r_vv the second directional derivative
        of r along v by a finite difference; it keeps steps long in the curved, narrow valleys of
        network losses. The damping follows Nielsen's rule on the gain ratio rho:
        lam *= max(1/3, 1 - (2 rho - 1)^3) after an accepted step, lam *= nu, nu *= 2 after a rejection.
        """
        sub, at, place = self._variables(g, cols)

        def residual(x: torch.Tensor) -> torch.Tensor:
            return self._residual_at(at(x), fn)

        r, J = self._linearized(at, sub, fn, by_block=cols is None, known=self._recalled(g))
        loss = float(r @ r)
        diag = (J * J).sum(0)
        diag = diag.clamp_min(self.scale_floor * float(diag.max()) + torch.finfo(J.dtype).tiny)
        nu = 2.0
        solver = self._solver(J, diag)
        for _ in range(self.max_tries):
            lam = self.dampings[g]
            solve = solver(lam)
            if solve is None:
                self.dampings[g] = min(lam * nu, 1e15)
                nu *= 2
                continue
            delta = velocity = solve(r)
            if self.geodesic:
                h = 0.1
                r_h = residual(sub + h * velocity).detach()
                acceleration = solve((2.0 / h) * ((r_h - r) / h - J @ velocity))
                v_norm = float(torch.linalg.vector_norm(velocity * diag.sqrt()))
                a_norm = float(torch.linalg.vector_norm(acceleration * diag.sqrt()))
                if 2 * a_norm <= 0.75 * v_norm:
                    delta = velocity + 0.5 * acceleration
            predicted = loss - float(((r + J @ delta) ** 2).sum())
            trial = sub + delta
            with torch.no_grad():
                r_new, sizes = self._rows_at(at(trial), fn)
            new_loss = float(r_new @ r_new)
            rho = (loss - new_loss) / predicted if predicted > 0 else -1.0
            if math.isfinite(new_loss) and new_loss < loss and rho > 0:
                self._assign(place(trial))
                self.remembered[g] = (self._flat(), r_new, sizes)  # where the next step starts
                self.dampings[g] = max(lam * max(1 / 3, 1 - (2 * rho - 1) ** 3), 1e-15)
                return new_loss
            self.dampings[g] = min(lam * nu, 1e15)
            nu *= 2
        self.done[g] = True
        return loss

    def _recalled(self, g: int) -> tuple[torch.Tensor, list[int]] | None:
        """Group g's residual and deferred block sizes, kept where the parameters are bitwise the same."""
        kept = self.remembered.pop(g, None)
        if kept is None or not torch.equal(kept[0], self._flat()):
            return None
        return kept[1], kept[2]

    def settle(self, groups: Collection[int]) -> None:
        """Stop stepping these groups (their loss stays the one of their last step)."""
        for g in groups:
            if self.groups is not None and 0 <= g < len(self.done):
                self.done[g] = True

    def state_dict(self) -> dict[str, list]:
        return {"dampings": list(self.dampings), "done": list(self.done)}

    def load_state_dict(self, state: dict) -> None:
        if "dampings" in state:
            self.dampings, self.done = [float(d) for d in state["dampings"]], [bool(d) for d in state["done"]]
        else:  # a checkpoint written before groups existed
            self.dampings, self.done = [float(state["damping"])], [bool(state["converged"])]

    def _assign(self, theta: torch.Tensor) -> None:
        with torch.no_grad():
            for p, value in zip(self.params, self._unflat(theta).values()):
                p.copy_(value)


class PartwiseLBFGS:
    """L-BFGS on independent parts of one loss (the states of an eigenproblem, each seeing the
    lower ones as fixed data), one optimizer and one line search per part, stepped in turn. On the
    summed loss a single line search takes the step the stiffest part allows and the curvature
    pairs mix the parts: a well-posed part can stall behind the others."""

    def __init__(self, parts: list[list[torch.Tensor]], **settings):
        self.optimizers = [torch.optim.LBFGS(params, **settings) for params in parts]

    @property
    def param_groups(self):
        return self.optimizers[0].param_groups

    def step(self, closure: Callable[[int], torch.Tensor]) -> float:
        """`closure(k)` evaluates (and back-propagates) the loss of part k; returns the summed loss
        of the parts before their steps."""
        return float(sum(opt.step(functools.partial(closure, k)).detach() for k, opt in enumerate(self.optimizers)))

    def state_dict(self) -> dict[str, list]:
        return {"parts": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, state: dict) -> None:
        for opt, saved in zip(self.optimizers, state["parts"], strict=True):
            opt.load_state_dict(saved)
