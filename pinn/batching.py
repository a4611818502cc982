"""Batched sweeps: which points of a multirun train together, their training as one batch
(pinn.training.batched), and the hand-over of each point's trained state to its own run, which
then refines, evaluates and writes its run directory exactly as a single run does.

Points share a batch when they share the problem (and its number of states), the network, the
schedule, the dtype and the device; they may differ in the problem's parameters, the seed and the
tolerance. A batch whose loss does not reproduce each point's own (the check of
pinn.training.batched) runs one point at a time, and says why.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any, Iterator, Mapping, Sequence

import torch

from pinn.errors import PinnError

log = logging.getLogger("pinn")

_pending: dict[str, Any] = {}


def batch_key(config: Mapping[str, Any]) -> str | None:
    """What points must share to train together, or None for a point that runs alone (resumed)."""
    if config.get("resume") is not None or not isinstance(config.get("problem"), Mapping):
        return None
    problem = config["problem"]
    shared = {k: v for k, v in config.items() if k not in ("problem", "seed", "tolerance", "hydra")}
    shared["problem"] = {"name": problem.get("name"), "n_states": problem.get("n_states")}
    return json.dumps(shared, sort_keys=True, default=str)


def plan(configs: Sequence[Mapping[str, Any]], max_batch: int) -> list[list[int]]:
    """The batches, as indices into `configs`, in the order of their first point; a batch holds at
    most `max_batch` points, a point that cannot share a batch is one alone."""
    groups: dict[str, list[int]] = {}
    order: list[list[int]] = []
    for i, config in enumerate(configs):
        key = batch_key(config)
        if key is None:
            order.append([i])
            continue
        if key not in groups:
            groups[key] = []
            order.append(groups[key])
        groups[key].append(i)
    batches = []
    for group in order:
        batches += [group[k:k + max_batch] for k in range(0, len(group), max_batch)]
    return batches


def train_batch(configs: Sequence[dict[str, Any]]) -> list[Any] | str:
    """Train the points together; their outcomes (pinn.training.batched.Outcome), or why they
    cannot share a batch."""
    from pinn.training.batched import train_together
    from pinn.training.threads import choose, using_threads

    built = points_of(configs)
    if isinstance(built, str):
        return built
    points, phases, settings = built
    threads = choose(settings.threads)
    with using_threads(threads.used):
        return train_together(points, phases, settings.collocation_points, settings.log_every)


def points_of(configs: Sequence[dict[str, Any]]):
    """(the points of a batch, their shared phases, the first point's settings), or why the configs
    cannot share a batch."""
    from pinn.config import validate
    from pinn.problems import build_problem
    from pinn.run import check_stages, last_stage_terms, resolve_tolerance, schedule, seed_everything
    from pinn.numerics.uncertainty import ResidualModule
    from pinn.training.batched import Batch, Point
    from pinn.training.optimizers import LevenbergMarquardt
    from pinn.training.refine import Refinement

    try:
        settings = [validate(c) for c in configs]
        problems = [build_problem(c["problem"]) for c in configs]
        for problem, s in zip(problems, settings):
            check_stages(problem, s)
        phases = [schedule(problem, s) for problem, s in zip(problems, settings)]
    except PinnError as exc:  # each point's own run reports its error
        return f"a point's config is not valid ({exc})"
    if any(p != phases[0] for p in phases):
        return "the points' schedules differ"
    points = []
    torch.set_float32_matmul_precision("highest")
    for config, s, problem in zip(configs, settings, problems):
        problem.reference(s.reference_cache)  # before training, as a single run does
        seed_everything(s.seed)
        model = problem.build_model(s.width, s.depth, s.activation).to(device=s.device, dtype=s.dtype)
        refinement = Refinement(s.refine, phases[0], s.collocation_points,
                                lambda p=problem, m=model: p.estimate(m), resolve_tolerance(problem, config, s)[0],
                                settle_scales=lambda p=problem, m=model, s=s: p.settle_scales(
                                    m, last_stage_terms(p, m, s, phases[0])))
        points.append(Point(problem, model, s.seed,
                            lambda generator, n, p=problem, s=s: p.collocation(n or s.collocation_points, s.device,
                                                                               s.dtype, generator),
                            accurate_enough=refinement.well_within))
    if any(p.problem.parts(p.model) is not None for p in points):
        return "its states are solved one at a time (Problem.parts), which a batch does not do yet"
    try:
        batch = Batch(points)
    except RuntimeError as exc:
        return f"the points' networks differ in shape ({str(exc).splitlines()[0]})"
    why = batch.check(sorted({p.stage for p in phases[0]}))
    if why is not None:
        return why
    first = points[0]
    for stage in sorted({p.stage for p in phases[0] if p.optimizer == "lm"}):
        data = first.collocation(None, None)
        try:  # its Pointwise blocks checked once, on the first point (the batch's optimizer does not)
            LevenbergMarquardt(ResidualModule(first.model),
                               lambda: list(first.problem.loss_terms(first.model, data, stage).values())).linearized()
        except RuntimeError as exc:
            return str(exc)
    return points, phases[0], settings[0]


@contextlib.contextmanager
def handed_over(config: Mapping[str, Any], outcome: Any) -> Iterator[None]:
    """While the run of `config` starts, `take(config)` returns the point's batched outcome."""
    _pending["config"], _pending["outcome"] = json.dumps(config, sort_keys=True, default=str), outcome
    try:
        yield
    finally:
        _pending.clear()


def take(config: Mapping[str, Any]) -> Any:
    """The batched outcome handed over for this config, once; None for a run trained alone."""
    if _pending.get("config") != json.dumps(config, sort_keys=True, default=str):
        return None
    outcome = _pending["outcome"]
    _pending.clear()
    return outcome

