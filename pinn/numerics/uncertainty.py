"""How well the data pin the unknowns of an inverse PINN: the Gauss-Newton (Laplace) covariance of
the unknowns with the network profiled out.

The trained parameters are theta = (w, p): w the network (and the eigenvalue, which the equations
fix), p the unknowns. The equation rows r_e(w, p) vanish at the solution: they are constraints,
not data. The data rows r_d(w, p) are the misfits in units of their noise: independent, unit
variance. When p moves by dp the solution follows along the constraint, J_e,w dw + J_e,p dp = 0,
by the least change dw = S dp with

    S = -J_e,w^+ J_e,p        (the pseudo-inverse: directions the equations do not see stay put),

the data move by G dp with G = J_d,w S + J_d,p, and the log-likelihood -|r_d|^2 / 2 has the
Fisher information F = G^T G. Then cov(p) = F^-1: the Cramér-Rao bound of this observation design,
and the Laplace covariance of a flat prior. A derived quantity q(w, p) (the eigenvalue) has the
total gradient g = q_w S + q_p and the variance g F^-1 g^T.

Assumptions: the residual is linear in dp over the size of the interval (checked at the ends of
the least determined unknown's interval, `interval_ends`), the noise Gaussian and independent
between observations, and the network able to follow p (a network that cannot adds its own error,
which this covariance does not contain)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call, jacrev

# the interval check re-solves the network at an interval's end to this multiple of the equation
# residual at the estimate
RESTORED = 1.5


class ResidualModule(nn.Module):
    """Wraps a model so that functional_call can swap its parameters while a residual is evaluated."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, residual_fn: Callable[[], torch.Tensor | list[torch.Tensor]]):
        return residual_fn()


def at_parameters(model: nn.Module, fn: Callable[[], torch.Tensor]) \
        -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor, list[str]]:
    """(fn as a function of a flat parameter vector theta, the model's own theta, the name of each
    column): the model's trainable parameters flattened in `named_parameters` order."""
    wrapper = ResidualModule(model)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    sizes = [p.numel() for _, p in named]
    flat = torch.cat([p.detach().reshape(-1) for _, p in named])

    def at(theta: torch.Tensor) -> torch.Tensor:
        params, i = {}, 0
        for (name, p), size in zip(named, sizes):
            params[f"model.{name}"] = theta[i:i + size].view_as(p)
            i += size
        return functional_call(wrapper, params, (), {"residual_fn": lambda: fn().reshape(-1)})

    columns = [name for (name, _), size in zip(named, sizes) for _ in range(size)]
    return at, flat, columns


def parameter_jacobian(model: nn.Module, fn: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, list[str]]:
    """(d fn / d theta, parameter names): fn() -> a vector, evaluated with the model's trainable
    parameters flattened in `named_parameters` order into the columns."""
    at, flat, columns = at_parameters(model, fn)
    return jacrev(at)(flat).detach(), columns


@dataclass(frozen=True)
class Profiled:
    """The result of `profile`: `covariance` of the unknowns (in their own parameterization, the
    noise as given), `sensitivity` S (network columns x unknowns), `gradients` of the derived
    quantities with the network profiled out (rows), and `information` F."""

    covariance: torch.Tensor
    information: torch.Tensor
    sensitivity: torch.Tensor
    gradients: torch.Tensor

    def derived_variances(self) -> torch.Tensor:
        return torch.einsum("qi,ij,qj->q", self.gradients, self.covariance, self.gradients)


def profile(equations: torch.Tensor, data: torch.Tensor, derived: torch.Tensor, unknown: torch.Tensor,
            rtol: float = 1e-10) -> Profiled:
    """The covariance of the unknowns from the Jacobians of the equation rows, the data rows (in
    units of their noise) and the derived quantities, all with respect to every parameter;
    `unknown` is a boolean mask of the unknowns' columns. Singular values of J_e,w below `rtol`
    of the largest count as zero (directions the equations do not determine)."""
    w, p = ~unknown, unknown
    sensitivity = -torch.linalg.pinv(equations[:, w], rtol=rtol) @ equations[:, p]
    response = data[:, w] @ sensitivity + data[:, p]
    information = response.T @ response
    covariance = torch.linalg.pinv(information, hermitian=True)
    gradients = derived[:, w] @ sensitivity + derived[:, p]
    return Profiled(covariance, information, sensitivity, gradients)


def noise_scale(data_rows: torch.Tensor, n_unknowns: int) -> float:
    """sigma_hat / sigma from the misfit in units of an assumed sigma: sqrt(|r_d|^2 / (m - k))."""
    dof = max(data_rows.numel() - n_unknowns, 1)
    return float(torch.sqrt((data_rows.detach() ** 2).sum() / dof))


def columns_of(columns: Sequence[str], names: Mapping[str, str] | Sequence[str]) -> torch.Tensor:
    """Boolean mask of the columns whose parameter (the last component of its dotted name) is in
    `names`."""
    wanted = set(names)
    return torch.tensor([c.rsplit(".", 1)[-1] in wanted for c in columns])


def interval_ends(covariance: torch.Tensor, unknown: torch.Tensor, k: int, z: float) -> list[torch.Tensor]:
    """The steps in theta (every column; zero in the network's) from the estimate to the two ends
    of unknown k's interval along its profile: the unknowns by dp = +-z cov[:, k] / sqrt(cov[k, k])
    (unknown k to its interval's end, the others to their best values given it, to first order).
    With the network re-solved there (`restore_constraint`), the data misfit |r_d|^2 rises by
    dp^T F dp = z^2 at both ends when the model is linear across the interval and the estimate at
    the data's optimum: what it rises by in fact checks both."""
    dp = covariance[:, k] * (z / torch.sqrt(covariance[k, k]))
    steps = []
    for sign in (-1.0, 1.0):
        step = torch.zeros(unknown.numel(), dtype=covariance.dtype, device=covariance.device)
        step[unknown] = sign * dp
        steps.append(step)
    return steps


def restore_constraint(equations_at: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor,
                       unknown: torch.Tensor, target: float, steps: int = 20) -> tuple[torch.Tensor, float]:
    """The network re-solved with the unknowns held: Levenberg-Marquardt steps on the network
    columns, dw = -(J^T J + lambda I)^-1 J^T r_e (J = J_e,w; as -J^T (J J^T + lambda I)^-1 r_e
    when J has fewer rows than columns), until |r_e| <= target or `steps` Jacobians are spent.
    The damping matters: the least-change Gauss-Newton step follows singular values down to
    round-off and leaves the region where the equations are linear. Returns theta and the |r_e|
    it ends with (inf where the equations could not be evaluated)."""
    free = ~unknown

    def size(t: torch.Tensor) -> float:
        with torch.no_grad():
            value = float(torch.linalg.vector_norm(equations_at(t)))
        return value if math.isfinite(value) else math.inf

    current = size(theta)
    for _ in range(steps):
        if current <= target or not math.isfinite(current):
            break
        jacobian = jacrev(equations_at)(theta).detach()[:, free]
        if not torch.isfinite(jacobian).all():
            break
        with torch.no_grad():
            rows = equations_at(theta)
            wide = jacobian.shape[0] <= jacobian.shape[1]
            gram = jacobian @ jacobian.T if wide else jacobian.T @ jacobian
            scale = float(torch.diagonal(gram).mean())
            if not (math.isfinite(scale) and scale > 0):
                break
            eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
            damping, moved = 1e-6 * scale, False
            while damping <= 1e6 * scale and not moved:
                if wide:
                    step = jacobian.T @ torch.linalg.solve(gram + damping * eye, rows)
                else:
                    step = torch.linalg.solve(gram + damping * eye, jacobian.T @ rows)
                trial = theta.clone()
                trial[free] -= step
                reached = size(trial)
                if reached < current:
                    theta, current, moved = trial, reached, True
                damping *= 10.0
        if not moved:
            break
    return theta, current


def profile_shape(low: float, high: float, z: float) -> tuple[float, float]:
    """(c, t*) of a misfit 2 a t + c t^2 along a profile, t in standard errors, from its rises at
    t = -z and t = +z: c the curvature relative to a linear model's (1), t* = -a / c where its
    minimum lies (0 at the data's optimum)."""
    curvature = (low + high) / (2 * z ** 2)
    slope = (high - low) / (4 * z)
    return curvature, (-slope / curvature if curvature > 0 else math.copysign(math.inf, -slope))


def interval_check(model: nn.Module, data_rows: Callable[[], torch.Tensor], equation_rows: Callable[[], torch.Tensor],
                   covariance: torch.Tensor, unknown: torch.Tensor, k: int, z: float) -> dict:
    """A profile check of the intervals: unknown k moved to each end of its interval, the others
    with it to first order (`interval_ends`), the network re-solved there (`restore_constraint`),
    and the data misfit |r_d|^2 (rows in units of the noise) compared with the estimate's. Along
    that profile, in units of k's standard error t, the misfit is 2 a t + c t^2 for a model
    quadratic across the interval; for a linear model c = 1, and a = 0 at the data's optimum.
    From the rises at t = +-z (`profile_shape`): `curvature` c (`linear`: within a factor 2 of 1)
    and `offset` -a / c, where the data's optimum lies from the estimate in standard errors
    (`centred`: within 1/2). Both need the equations restored at the ends to about their residual
    at the estimate (`restored`, the ratio)."""
    data_at, theta, _ = at_parameters(model, data_rows)
    equations_at, _, _ = at_parameters(model, equation_rows)
    with torch.no_grad():
        misfit = lambda t: float((data_at(t) ** 2).sum())  # noqa: E731
        base, residual = misfit(theta), float(torch.linalg.vector_norm(equations_at(theta)))
    rises, restored = [], []
    for step in interval_ends(covariance, unknown, k, z):
        end, left = restore_constraint(equations_at, theta + step.to(theta), unknown, RESTORED * residual)
        with torch.no_grad():
            rise = misfit(end) - base
        rises.append(rise if math.isfinite(rise) else None)
        restored.append(left / residual if 0 < residual and math.isfinite(left) else None)
    check = {"rise": rises, "expected": z ** 2, "restored": restored,
             "curvature": None, "offset": None, "linear": False, "centred": False}
    if None not in rises and None not in restored and max(restored) <= 2 * RESTORED:
        curvature, offset = profile_shape(*rises, z)
        check["curvature"], check["offset"] = curvature, offset if math.isfinite(offset) else None
        check["linear"] = 0.5 <= curvature <= 2.0
        check["centred"] = check["offset"] is not None and abs(offset) <= 0.5
    return check
