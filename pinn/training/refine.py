"""Training to a requested accuracy: after the schedule, more rounds while an a-posteriori estimate
says the tolerance is not met, and once a restart of states that skipped a level.

The estimate comes from the problem (`Problem.estimate`: the relative error of each eigenvalue,
computed from the trained model alone, never from the reference). Each round repeats one phase of
the schedule (the last by default) with `growth` times the collocation nodes of the round before, until the estimate is
within the tolerance, `rounds` rounds have run, or the training time reaches `max_seconds`. The
same estimate may end a Levenberg-Marquardt phase before its step count, once it is well within the
tolerance, or within it and no longer improving, and the inferred unknowns of an inverse problem
have settled (`well_within`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from pinn.errors import ConfigError
from pinn.training.phase import ENDING_STD, Phase, unsettled
from pinn.training.trainer import TrainResult

log = logging.getLogger("pinn")

# a phase may end early once the estimate is this fraction of the tolerance: digits to spare, and
# room for an estimate that is optimistic by up to 10x
EARLY_STOP_FRACTION = 0.01
# ... or once every estimate is within the tolerance and the best of none has improved by more than
# STALL_GAIN over the last STALL_CHECKS checks: the network's capacity, not the optimizer, then
# limits it (finite_well V0=80 gained 7% in its last 260 Levenberg-Marquardt steps). The best, not
# the last: with fresh collocation nodes every step the estimate can jump by 10-100x.
STALL_CHECKS = 5
STALL_GAIN = 1.25


@dataclass(frozen=True)
class RefineSettings:
    rounds: int = 2                   # at most this many rounds after the schedule (0: none)
    phase: str | None = None          # the phase of the schedule each round repeats (None: the last)
    growth: int = 2                   # collocation nodes multiply by this every round
    max_seconds: float | None = None  # training time after which no phase or round goes on

    @staticmethod
    def from_config(cfg: Any, phases: Sequence[Phase]) -> "RefineSettings":
        if cfg is None:
            cfg = {}
        if not isinstance(cfg, Mapping):
            raise ConfigError(f"trainer.refine must be a group of settings (rounds, phase, growth, max_seconds), got {cfg!r}")
        known = {f.name for f in dataclasses.fields(RefineSettings)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ConfigError(f"trainer.refine.{unknown[0]} is not a setting; use {', '.join(sorted(known))}")
        settings = RefineSettings(**dict(cfg))
        for key, low in (("rounds", 0), ("growth", 1)):
            value = getattr(settings, key)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 64:
                raise ConfigError(f"trainer.refine.{key}={value!r} must be a whole number between {low} and 64")
        seconds = settings.max_seconds
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                    or not math.isfinite(seconds) or seconds <= 0):
            raise ConfigError(f"trainer.refine.max_seconds={seconds!r} must be a number of seconds > 0, or null for no limit")
        names = [p.name for p in phases]
        if settings.phase is not None and settings.phase not in names:
            raise ConfigError(f"trainer.refine.phase={settings.phase!r} is not a phase of the schedule; "
                              f"use one of {', '.join(names)} (or trainer.refine.rounds=0)")
        return settings


class Refinement:
    """The trainer's `extend` hook: asked when the phases are done, it returns the next round's
    phase, or None when the estimate meets the tolerance or the rounds are spent. `log` holds, per
    decision, the training step, the worst estimated relative error and what was done."""

    def __init__(self, settings: RefineSettings, phases: Sequence[Phase], default_points: int,
                 estimate: Callable[[], Mapping[str, float] | None], tolerance: float,
                 history: Sequence[Mapping[str, Any]] = (),
                 misplaced: Callable[[], list[int]] | None = None,
                 restart: Callable[[list[int]], list[dict[str, Any]]] | None = None,
                 part_estimates: Callable[[], list[str] | None] | None = None,
                 settle_scales: Callable[[], Mapping[str, float] | None] | None = None):
        """`misplaced()` names the states an independent count shows on a wrong level; once per
        run, `restart(states)` refits them (pinn.training.restart) and the last phase runs again.
        `part_estimates()` names the estimate that judges each part of the problem (`Problem.parts`).
        `settle_scales()` gives the standard error of each inferred observable (`Problem.settle_scales`):
        a phase does not end early while one of them is still moving by more than ENDING_STD of it."""
        self.settle_scales = settle_scales
        self.scales: Mapping[str, float] | None = None  # settle_scales() last asked in the phase in progress
        self.part_estimates = part_estimates
        self.parts_within: frozenset[int] = frozenset()
        self.settings = settings
        self.base = next((p for p in phases if p.name == settings.phase), None) if settings.phase else phases[-1]
        self.default_points = default_points
        self.estimate = estimate
        self.tolerance = tolerance
        self.log: list[dict[str, Any]] = [dict(row) for row in history]
        self.misplaced, self.restart = misplaced, restart
        self.trail: list[dict[str, float]] = []  # the estimates at the checks of the phase in progress

    def well_within(self, moves: Mapping[str, float] | None = None) -> bool:
        """Whether the estimate is already within EARLY_STOP_FRACTION of the tolerance, or within
        the tolerance and stalled, and no inferred observable is still moving (`moves`: each
        observable's largest change over the last steps, pinn.training.phase.window_moves): the
        trainer's `accurate_enough`, the phase in progress may end. The parts whose own estimates
        are within the fraction (`part_estimates`) are kept in `parts_within` until the next call."""
        estimates = self.estimate()
        limit = EARLY_STOP_FRACTION * self.tolerance
        names = self.part_estimates() if self.part_estimates is not None and estimates else None
        self.parts_within = frozenset(g for g, name in enumerate(names or ()) if float(estimates[name]) <= limit)
        if not estimates:
            return False
        self.trail.append({name: float(e) for name, e in estimates.items()})
        worst = max(self.trail[-1].values())
        if not (worst <= limit or (worst <= self.tolerance and self.stalled())):
            return False
        if self.settle_scales is None:
            return True
        moves = moves or {}
        moving = unsettled(moves, self.scales, ENDING_STD) if self.scales is not None else []
        if not moving:
            # the phase's last standard errors say "still moving" well enough; an end needs fresh
            # ones (with noise-free data they shrink with the misfit as training goes on)
            self.scales = self.settle_scales() or {}
            moving = unsettled(moves, self.scales, ENDING_STD)
        if moving:
            log.debug("estimate %.1e within the tolerance, but %s still moving: the phase goes on", worst,
                      ", ".join(moving))
        return not moving

    def stalled(self) -> bool:
        """Whether the best of no estimate improved by more than STALL_GAIN in the last STALL_CHECKS checks."""
        if len(self.trail) <= STALL_CHECKS:
            return False

        def best(rows, name):
            return min(row.get(name, math.inf) for row in rows)

        before, recent = self.trail[:-STALL_CHECKS], self.trail[-STALL_CHECKS:]
        return all(best(before, name) <= STALL_GAIN * best(recent, name) for name in self.trail[-1])

    @property
    def rounds_done(self) -> int:
        return sum(1 for row in self.log if row["action"] == "refine")

    def __call__(self, result: TrainResult) -> Phase | None:
        self.trail, self.scales = [], None
        estimates = self.estimate()
        if not estimates:
            return None
        worst_name = max(estimates, key=lambda k: estimates[k])
        worst = float(estimates[worst_name])
        row: dict[str, Any] = {"step": result.steps, "estimate": worst, "worst": worst_name}
        restarted = any(r["action"] == "restart" for r in self.log)
        can_restart = not (restarted or self.restart is None or self.misplaced is None or result.out_of_time
                           or self.base is None or self.base.steps == 0)
        misplaced = self.misplaced() if can_restart else []
        if misplaced:
            log.info("state(s) %s skipped a level (independent Galerkin count): restarting them", misplaced)
            phase = dataclasses.replace(self.base, name=f"{self.base.name}_restart", extra_steps_per_state=0)
            row.update(action="restart", states=misplaced, fits=self.restart(misplaced), phase=phase.name)
            self.log.append(row)
            return phase
        if worst <= self.tolerance:
            row["action"] = "met"
            log.info("a-posteriori estimate %.1e (%s) within the tolerance %.1e after %d steps",
                     worst, worst_name, self.tolerance, result.steps)
        elif result.out_of_time:
            row["action"] = "out_of_time"
            log.info("a-posteriori estimate %.1e (%s) above the tolerance %.1e; the time budget "
                     "(trainer.refine.max_seconds) is spent", worst, worst_name, self.tolerance)
        elif self.base is None or self.rounds_done >= self.settings.rounds:
            row["action"] = "rounds_spent"
            log.info("a-posteriori estimate %.1e (%s) above the tolerance %.1e after %d refinement round(s) "
                     "(trainer.refine.rounds)", worst, worst_name, self.tolerance, self.rounds_done)
        else:
            k = self.rounds_done + 1
            points = (self.base.collocation_points or self.default_points) * self.settings.growth**k
            phase = dataclasses.replace(self.base, name=f"{self.base.name}_refine{k}", collocation_points=points,
                                        extra_steps_per_state=0)
            row.update(action="refine", phase=phase.name, collocation_points=points)
            log.info("a-posteriori estimate %.1e (%s) above the tolerance %.1e: refinement round %d, phase %s "
                     "with %d collocation nodes", worst, worst_name, self.tolerance, k, self.base.name, points)
            self.log.append(row)
            return phase
        self.log.append(row)
        return None
