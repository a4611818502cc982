"""Several runs of one problem trained together: the points of a sweep that share a problem, a
network shape and a schedule, with their parameters stacked along a leading axis.

Each point keeps its own physical parameters (they reach the loss through its collocation batch
and its model's buffers), its own initialization (its seed), its own collocation draws and its own
optimizer state: the loss of the batch is the sum of the points' losses, and nothing couples them.

* Adam on the stacked parameters is Adam on each point: its update is elementwise, and the
  gradient of the sum with respect to a point's parameters is that point's gradient.
* Levenberg-Marquardt keeps a damping, an accept/reject decision and a stopping state per point;
  the Jacobians of all points are formed in one vectorized call (node by node where the problem
  gives Pointwise blocks) and the damped systems solved as one batch.
* L-BFGS keeps a curvature history, a line search and an end per point, and evaluates the points'
  losses and gradients together (pinn.training.batched_lbfgs).

Points are batched only when the batch reproduces every point's own loss terms at the start
(`Batch.check`): a problem whose loss reads a parameter as a Python number instead of a tensor
would silently train every point with the first one's value, and is run one point at a time.

`train_together` returns, per point, what a run needs to continue from where the batch ended
(pinn.run: its refinement rounds, evaluation and files), or a DivergenceError for a point whose
loss stopped being finite (the others go on).
"""

from __future__ import annotations

import collections
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.utils._pytree import tree_map

from pinn.errors import DivergenceError, Interrupted
from pinn.numerics.uncertainty import ResidualModule
from pinn.problems.base import evaluated
from pinn.training.checkpoints import capture_rng
from pinn.training.batched_lbfgs import BatchedLBFGS
from pinn.training.batched_lm import BatchedLevenbergMarquardt
from pinn.training.phase import Phase
from pinn.training.phase import SETTLE_WINDOW, phase_end, settling

# agreement the batch must show with each point's own loss terms at the start, relative to each term's largest entry
AGREEMENT = 1e-9


@dataclass
class Point:
    """One run of the batch: its problem, its model, its collocation settings and its record."""

    problem: Any
    model: nn.Module
    seed: int
    collocation: Callable[[torch.Generator | None, int | None], Any]   # (generator, n) -> batch
    accurate_enough: Callable[[Mapping[str, float]], bool] | None = None
    generator: torch.Generator = field(init=False)
    rows: list[dict[str, Any]] = field(default_factory=list)
    phase_steps: dict[str, int] = field(default_factory=dict)
    failed: DivergenceError | None = None
    final: dict[str, Any] | None = None
    steps: int = 0

    def __post_init__(self):
        self.generator = torch.Generator().manual_seed(self.seed)


class Batch:
    """The points' parameters stacked (`params`, `buffers`: name -> tensor with the points along
    axis 0), evaluated with the first point's model and problem as the code that runs."""

    def __init__(self, points: Sequence[Point]):
        self.points = list(points)
        template = self.points[0]
        self.wrapper = ResidualModule(template.model)
        self.problem = template.problem
        wrapped = [ResidualModule(p.model) for p in self.points]
        params, buffers = stack_module_state(wrapped)
        self.names = [n for n, p in wrapped[0].named_parameters() if p.requires_grad]
        self.params = {n: params[n].detach().clone().requires_grad_(True) for n in self.names}
        self.buffers = {**buffers, **{n: v.detach() for n, v in params.items() if n not in self.names}}

    @property
    def size(self) -> int:
        return len(self.points)

    def flat(self) -> torch.Tensor:
        """The points' parameters as rows (points x entries, in the order of `names`)."""
        return torch.cat([self.params[n].detach().flatten(1) for n in self.names], dim=1)

    def unflat(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Rows of `flat` (or one point's row) -> the parameters they hold, as views of `theta`."""
        out, i, lead = {}, 0, theta.shape[:-1]
        for name in self.names:
            shape = self.params[name].shape[1:]
            out[name] = theta[..., i:i + shape.numel()].reshape(*lead, *shape)
            i += shape.numel()
        return out

    def assign(self, theta: torch.Tensor) -> None:
        """Set the stacked parameters to the rows of `theta`."""
        with torch.no_grad():
            for name, value in self.unflat(theta).items():
                self.params[name].copy_(value)

    def terms(self, params: Mapping[str, torch.Tensor], batch: Any, stage: str,
              buffers: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Every point's loss terms (evaluated), each with the points along axis 0 (`buffers`: the
        points' buffers, when `params` and `batch` hold only some of the points)."""

        def one(p, b, data):
            def compute():
                return evaluated(self.problem.loss_terms(self.wrapper.model, data, stage))
            return functional_call(self.wrapper, {**p, **b}, (), {"residual_fn": compute})

        return vmap(one)(params, self.buffers if buffers is None else buffers, batch)

    def losses(self, params: Mapping[str, torch.Tensor], batch: Any, stage: str,
               buffers: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Every point's loss: a scalar term as it is, a vector term by its sum of squares."""
        return sum(v if v.ndim == 1 else (v * v).flatten(1).sum(1)
                   for v in self.terms(params, batch, stage, buffers).values())

    def stacked_batch(self, draws: Sequence[Any]) -> Any:
        return tree_map(lambda *leaves: torch.stack(leaves), *draws)

    def draw(self, n_points: int | None, fresh: bool) -> Any:
        return self.stacked_batch([p.collocation(p.generator if fresh else None, n_points) for p in self.points])

    def check(self, stages: Sequence[str]) -> str | None:
        """None if the batch reproduces each point's own loss terms in every stage, else why not."""
        try:
            batch = self.draw(None, fresh=False)
            for stage in stages:
                with torch.no_grad():
                    together = self.terms(self.params, batch, stage)
                for k, point in enumerate(self.points):
                    alone = evaluated(point.problem.loss_terms(point.model, point.collocation(None, None), stage))
                    for name, value in alone.items():
                        value = value.detach()
                        if together[name][k].shape != value.shape:
                            return f"stage {stage}, term {name}: point {k} has another shape than its own run"
                        scale = float(value.abs().max()) if value.numel() else 0.0
                        if value.numel() and not torch.allclose(together[name][k], value, rtol=0.0,
                                                                atol=AGREEMENT * scale):
                            return f"stage {stage}, term {name}: point {k} differs from its own run"
        except Exception as exc:  # the loss cannot be vectorized over the points at all
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return f"its loss cannot be evaluated for several points at once ({first})"
        return None

    def store(self) -> None:
        """Copy the stacked parameters into each point's own model."""
        with torch.no_grad():
            for k, point in enumerate(self.points):
                own = dict(point.model.named_parameters())
                for name in self.names:
                    own[name.removeprefix("model.")].copy_(self.params[name][k])

    def load(self) -> None:
        """Stack the points' own models again (after a stage start that changed a model)."""
        params, buffers = stack_module_state([ResidualModule(p.model) for p in self.points])
        with torch.no_grad():
            for name in self.names:
                self.params[name].copy_(params[name])
        self.buffers = {**buffers, **{n: v.detach() for n, v in params.items() if n not in self.names}}


@dataclass
class Outcome:
    """How a point's batched training ended: its state to continue from, its history rows and its
    phase steps, or the divergence that ended it. `interrupted`: the batch was stopped (Ctrl-C)
    in the middle; `start` then holds the weights reached, to continue from the start of the
    phase that was interrupted."""

    start: dict[str, Any] | None
    rows: list[dict[str, Any]]
    batch: dict[str, Any]                 # points: the batch's size, seconds: its training time
    error: DivergenceError | None = None
    interrupted: bool = False


def train_together(points: Sequence[Point], phases: Sequence[Phase], default_points: int, log_every: int) -> list[Outcome]:
    """Run `phases` on every point of the batch; see the module doc. A Ctrl-C stops the batch and
    hands each point over at the weights it reached (`Outcome.interrupted`)."""
    batch = Batch(points)
    begin = time.perf_counter()
    finished, interrupted = len(phases) - 1, False
    for index, phase in enumerate(phases):
        if phase.steps == 0:
            continue
        alive = [p for p in points if p.failed is None]
        if not alive:
            break
        try:
            for point in alive:
                point.problem.start_stage(point.model, phase.stage)
            batch.load()
            _run_batched(batch, phase, default_points, begin, log_every, phase.stage == phases[-1].stage)
        except (KeyboardInterrupt, Interrupted):
            finished, interrupted = index - 1, True
            break
    batch.store()
    seconds = time.perf_counter() - begin
    together = {"points": batch.size, "seconds": seconds}
    outcomes = []
    for point in points:
        if point.failed is not None:
            outcomes.append(Outcome(None, point.rows, together, point.failed))
            continue
        start = {"model": point.model.state_dict(), "step": point.steps, "phase_index": finished, "phase_step": 0,
                 "phase_finished": True, "phase_steps": dict(point.phase_steps), "generator": point.generator.get_state(),
                 "rng": capture_rng(), "elapsed": seconds / batch.size, "final": point.final, "added_phases": [],
                 "extend_log": [], "trained_in_batch": together}
        outcomes.append(Outcome(start, point.rows, together, interrupted=interrupted))
    return outcomes


def _row(step: int, phase: Phase, point: Point, data: Any, loss: float, begin: float, lr: float) -> dict[str, Any]:
    """A history row as the single trainer writes it: the terms on the point's own nodes, the loss,
    the observables and the step size (Adam) or damping (Levenberg-Marquardt)."""
    with torch.no_grad():
        terms = evaluated(point.problem.loss_terms(point.model, data, phase.stage))
    row: dict[str, Any] = {"step": step, "phase": phase.name, "time": time.perf_counter() - begin}
    row.update({name: float(v if v.ndim == 0 else (v * v).sum()) for name, v in terms.items()})
    row["loss"] = loss
    row.update({name: float(v) for name, v in point.problem.observables(point.model).items()})
    row["lr"] = lr
    return row


def _run_batched(batch: Batch, phase: Phase, default_points: int, begin: float, log_every: int,
                 last_stage: bool) -> None:
    """A phase on all points together, each point until it ends (`last_stage`: the phase belongs
    to the schedule's last stage, where the estimate may end it)."""
    points = batch.points
    n_points = phase.collocation_points or default_points
    fixed = batch.draw(n_points, fresh=False)
    resample = phase.resample and phase.optimizer != "lbfgs"  # as the single trainer: L-BFGS on fixed nodes
    adam = phase.optimizer == "adam"
    if adam:
        opt = torch.optim.Adam(list(batch.params.values()), lr=phase.lr, foreach=True)
        gamma = (phase.lr_final / phase.lr) ** (1.0 / phase.steps) if phase.lr_final else 1.0
        schedule = torch.optim.lr_scheduler.ExponentialLR(opt, gamma)
    elif phase.optimizer == "lbfgs":
        stepper = BatchedLBFGS(batch, phase.stage, phase.lr, phase.history_size)
    else:
        stepper = BatchedLevenbergMarquardt(batch, phase.stage, phase.damping, phase.geodesic, phase.scale_floor)
    B = batch.size
    active = torch.tensor([p.failed is None for p in points])
    if not adam:
        stepper.done |= ~active.to(stepper.done.device)  # the points that failed in an earlier phase
    best = torch.full((B,), math.inf, dtype=torch.float64)
    since_best = torch.zeros(B, dtype=torch.long)
    recent = [collections.deque(maxlen=SETTLE_WINDOW) for _ in points]
    ran = [0] * B
    for k in range(phase.steps):
        if not bool(active.any()):
            break
        data = batch.draw(n_points, fresh=True) if resample else fixed
        if adam:
            opt.zero_grad(set_to_none=True)
            totals = batch.losses(batch.params, data, phase.stage)
            finite = torch.isfinite(totals.detach())
            counted = finite & active
            if bool(counted.any()):
                totals[counted].sum().backward()
            opt.step()
            schedule.step()
            losses = totals.detach()
        else:
            losses = stepper.step(data)
        batch.store()
        finite = torch.isfinite(losses.detach())
        for value in batch.params.values():
            finite &= torch.isfinite(value.detach()).flatten(1).all(1)
        losses, finite = losses.detach().cpu().tolist(), finite.cpu().tolist()  # to the host once per step
        done = stepper.done.cpu().tolist() if not adam else [False] * B
        for b, point in enumerate(points):
            if not bool(active[b]):
                continue
            step = point.steps + k + 1
            if not finite[b]:
                point.failed = DivergenceError(f"training diverged at step {step} (phase {phase.name}): "
                                               f"the loss is {losses[b]} (trained in a batch; the other points go on)")
                active[b] = False
                if not adam:
                    stepper.done[b] = True
                continue
            ran[b] = k + 1
            recent[b].append({n: float(v) for n, v in point.problem.observables(point.model).items()})
            value = losses[b]
            if value < float(best[b]) * (1 - 1e-10):
                best[b], since_best[b] = value, 0
            else:
                since_best[b] += 1
            stalled, accurate = phase_end(phase, k, int(since_best[b]), done[b], last_stage, point.accurate_enough,
                                          recent[b])
            final = stalled or accurate or k == phase.steps - 1
            if step % log_every == 0 or final or k == 0:
                own = tree_map(lambda leaf: leaf[b], data)
                point.rows.append(_row(step, phase, point, own, value, begin,
                                       schedule.get_last_lr()[0] if adam else _rate(stepper, b)))
            if stalled or accurate:
                point.final = settling(phase.name, k + 1, True, recent[b])
                point.phase_steps[phase.name] = k + 1
                active[b] = False
                if not adam:
                    stepper.done[b] = True
    for b, point in enumerate(points):
        if point.failed is None:
            if phase.name not in point.phase_steps:
                point.final = settling(phase.name, ran[b], False, recent[b])
                point.phase_steps[phase.name] = ran[b]
            point.steps += point.phase_steps[phase.name]


def _rate(stepper: BatchedLBFGS | BatchedLevenbergMarquardt, b: int) -> float:
    """The `lr` column of point b's history row: L-BFGS's step size, Levenberg-Marquardt's damping."""
    return stepper.lr if isinstance(stepper, BatchedLBFGS) else float(stepper.damping[b])
