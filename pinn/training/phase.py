"""One phase of a training schedule: which stage's loss, which optimizer, how many steps, and the
optimizer's settings, checked as the config gives them; and when a phase ends before its steps."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from pinn.errors import ConfigError

# the settings every phase must have
REQUIRED = frozenset({"stage", "optimizer", "steps"})
# steps over which the last phase's observables must have settled (see `settling`)
SETTLE_WINDOW = 10
# an inferred value counts as settled when those steps moved it by at most this fraction of its
# standard error (the run's status)
SETTLED_STD = 0.5
# and a phase the estimate would end goes on until they moved it by at most this fraction: with
# SETTLED_STD, finite_well_inverse V0=150 (from its density, 148.4) ended a drift of 0.2 a window
# early, 0.5 standard errors short of the optimum, and the interval check said `unconverged`
ENDING_STD = 0.1
# steps between two a-posteriori checks that may end a phase early (each costs about two LM steps)
EARLY_STOP_EVERY = 10
# steps between two asks of an `until_placed` phase whether its states are placed (one a-posteriori
# estimate each, about ten Adam steps of a three-state well)
PLACED_EVERY = 100


@dataclass(frozen=True)
class Phase:
    name: str
    stage: str
    optimizer: str                   # adam | lbfgs | lm
    steps: int
    lr: float = 1.0                  # Adam / L-BFGS step size
    lr_final: float | None = None   # Adam: exponential decay from lr to lr_final over the phase
    damping: float = 1e-3            # lm: initial Levenberg-Marquardt damping
    geodesic: bool = True            # lm: add the geodesic acceleration to each step
    scale_floor: float = 1e-12       # lm: Marquardt's scaling diag(J^T J) floored at this fraction of its largest entry
    resample: bool = True            # adam, lm: fresh collocation points every step (L-BFGS never)
    history_size: int = 50           # L-BFGS memory
    patience: int = 300              # L-BFGS, lm: stop after this many steps without a new best loss
    extra_steps_per_state: int = 0   # steps added for every state beyond the first (problem.n_states)
    until_placed: bool = False       # end once every state is near its own level (Problem.states_placed),
    min_steps: int | None = None     # but not before this many steps (default: `steps`, less the extra per state)
    collocation_points: int | None = None  # this phase's collocation size (default: trainer.collocation_points)

    @staticmethod
    def from_config(name: str, cfg: Mapping[str, Any]) -> "Phase":
        known = set(Phase.__dataclass_fields__) - {"name"}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ConfigError(f"trainer.phases.{name}.{unknown[0]} is not a phase setting; use {', '.join(sorted(known))}")
        missing = sorted(REQUIRED - set(cfg))
        if missing:
            raise ConfigError(f"trainer.phases.{name}.{missing[0]} is missing; every phase needs stage, optimizer "
                              f"and steps (set trainer.phases.{name}.{missing[0]}=...)")
        phase = Phase(name=name, **dict(cfg))
        if phase.optimizer not in ("adam", "lbfgs", "lm"):
            raise ConfigError(f"trainer.phases.{name}.optimizer={phase.optimizer!r} must be adam, lbfgs or lm")
        if isinstance(phase.steps, bool) or not isinstance(phase.steps, int) or phase.steps < 0:
            raise ConfigError(f"trainer.phases.{name}.steps={phase.steps!r} must be a whole number >= 0")
        for key in ("lr", "lr_final", "damping", "scale_floor"):
            value = getattr(phase, key)
            if value is None and key == "lr_final":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"trainer.phases.{name}.{key}={value!r} must be a finite number > 0")
        for key in ("geodesic", "resample", "until_placed"):
            if not isinstance(getattr(phase, key), bool):
                raise ConfigError(f"trainer.phases.{name}.{key}={getattr(phase, key)!r} must be true or false")
        value = phase.extra_steps_per_state
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"trainer.phases.{name}.extra_steps_per_state={value!r} must be a whole number >= 0")
        value = phase.min_steps
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ConfigError(f"trainer.phases.{name}.min_steps={value!r} must be a whole number >= 0 or null")
        value = phase.collocation_points
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"trainer.phases.{name}.collocation_points={value!r} must be a whole number >= 1 or null")
        for key in ("history_size", "patience"):
            value = getattr(phase, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"trainer.phases.{name}.{key}={value!r} must be a whole number >= 1")
        return phase


def phase_end(phase: Phase, k: int, since_best: int, converged: bool, last_stage: bool,
              accurate_enough: Callable[[Mapping[str, float]], bool] | None,
              recent: Sequence[Mapping[str, float]] = ()) -> tuple[bool, bool]:
    """(stalled, accurate) after step k (from 0) of `phase`: an L-BFGS or LM phase stalls after
    `patience` steps without a new best loss or once its optimizer has converged; an LM phase of
    the schedule's last stage ends once `accurate_enough(moves)` (asked every EARLY_STOP_EVERY
    steps, with the observables' `window_moves` over the `recent` rows)."""
    stalled = phase.optimizer != "adam" and (since_best >= phase.patience or converged)
    accurate = (not stalled and accurate_enough is not None and estimate_due(phase, k, last_stage)
                and accurate_enough(window_moves(recent)))
    return stalled, bool(accurate)


def placed_end(phase: Phase, k: int, placed: Callable[[], bool | None] | None) -> bool:
    """Whether an `until_placed` phase ends after step k (from 0): `placed()` says every state is
    near its own level, asked every PLACED_EVERY steps from the phase's `min_steps` on."""
    due = (phase.until_placed and placed is not None and (k + 1) % PLACED_EVERY == 0
           and (phase.min_steps or 0) <= k + 1 < phase.steps)
    return bool(due and placed())


def estimate_due(phase: Phase, k: int, last_stage: bool) -> bool:
    """Whether step k (from 0) of `phase` is one after which the a-posteriori estimate is asked."""
    return phase.optimizer == "lm" and last_stage and (k + 1) % EARLY_STOP_EVERY == 0 and k + 1 < phase.steps


def settling(phase: str, steps: int, stopped: bool, recent) -> dict[str, Any]:
    """How a phase that ran `steps` steps ended (TrainResult.final): whether it stopped by itself
    and, per observable, the largest change over the `recent` rows (its last SETTLE_WINDOW steps)."""
    last = dict(recent[-1]) if recent else {}
    return {"phase": phase, "steps": steps, "stopped": stopped, "window": len(recent), "moves": window_moves(recent),
            "last": last}


def window_moves(recent: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Per observable, the largest distance of its value in the `recent` rows from its last value."""
    last = recent[-1] if recent else {}
    return {name: max(abs(row[name] - value) for row in recent) for name, value in last.items()}


def unsettled(moves: Mapping[str, float], scales: Mapping[str, float], fraction: float = SETTLED_STD) -> list[str]:
    """The observables whose move exceeds `fraction` of their scale (a standard error; a scale
    that is not a finite positive number judges nothing)."""
    return [name for name, scale in scales.items() if math.isfinite(scale) and scale > 0
            and name in moves and not moves[name] <= fraction * scale]
