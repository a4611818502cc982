"""HOW a model is optimized: phases (Adam, then L-BFGS), progress, checkpoints. No physics here.

The trainer sees a module, a function stage -> named loss terms (already weighted; the total is
their sum), and a function returning scalars to log (the eigenvalues). Every `log_every` steps a row
goes to `on_row` (history.csv) and every `checkpoint_every` steps the state is written atomically.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Mapping

import torch
from torch import nn

from pinn.training.checkpoints import capture_rng, restore_rng, save_checkpoint
from pinn.errors import ConfigError, DivergenceError, Interrupted
from pinn.problems.base import Deferred, evaluated
from pinn.training.phase import SETTLE_WINDOW, Phase, estimate_due, phase_end, placed_end, settling
from pinn.training.recall import Recalling
from pinn.training.threads import ThreadTrial
from pinn.numerics.uncertainty import ResidualModule
from pinn.training.optimizers import LevenbergMarquardt, PartwiseLBFGS

log = logging.getLogger("pinn")

LossFn = Callable[..., Mapping[str, torch.Tensor]]  # (stage, batch[, part]) -> named terms
Sampler = Callable[..., Any]  # (generator or None[, n_points]) -> batch


@dataclass
class TrainResult:
    """`final`: how the last phase that ran ended, the evidence of convergence: its name, steps,
    whether it stopped by itself (no further decrease) and, per observable, the largest change
    over its last `window` steps (`moves`)."""

    steps: int = 0
    seconds: float = 0.0
    phase_steps: dict[str, int] = field(default_factory=dict)
    resumed_from_step: int | None = None
    final: dict[str, Any] | None = None
    added_phases: list[Phase] = field(default_factory=list)  # phases `extend` appended to the schedule
    out_of_time: bool = False                                   # max_seconds reached


class Trainer:
    def __init__(self, phases: list[Phase], log_every: int = 100, checkpoint_every: int = 500,
                 checkpoint_path: Path | None = None, progress: str = "auto",
                 checkpoint_extra: Mapping[str, Any] | None = None, resume_hint: str = "",
                 extend: Callable[[TrainResult], Phase | None] | None = None, max_seconds: float | None = None,
                 accurate_enough: Callable[[Mapping[str, float]], bool] | None = None,
                 settled_parts: Callable[[], Collection[int]] | None = None, thread_trial: ThreadTrial | None = None,
                 placed: Callable[[], bool | None] | None = None):
        """`checkpoint_extra` is stored in every checkpoint (the run's config); `resume_hint` is
        appended to the message of an interrupted run (the command that continues it).
        `extend(result)`, asked when every phase has run, returns one more phase to run or None
        (pinn.training.refine); its `log`, if it has one, is checkpointed. After `max_seconds` of
        training the phase in progress ends and nothing more runs. `accurate_enough(moves)` (an
        a-posteriori estimate within the tolerance, and the observables' largest changes over the
        last SETTLE_WINDOW steps small enough), asked every EARLY_STOP_EVERY steps of a
        Levenberg-Marquardt phase of the schedule's last stage, ends that phase when it says so;
        when it does not, the parts (`parts`) that `settled_parts()` names stop stepping.
        `placed()` (Problem.states_placed) ends an `until_placed` phase.
        `thread_trial` is told how long each step took until it has chosen a thread count; every
        checkpoint records the count in use, which a resumed run keeps."""
        self.phases = list(phases)
        self.extend = extend
        self.max_seconds = max_seconds
        self.accurate_enough = accurate_enough
        self.settled_parts = settled_parts
        self.placed = placed
        self.thread_trial = thread_trial
        self.log_every = max(1, int(log_every))
        self.checkpoint_every = max(1, int(checkpoint_every))
        self.checkpoint_path = checkpoint_path
        self.checkpoint_extra = dict(checkpoint_extra or {})
        self.resume_hint = resume_hint
        self.parts = None
        if progress not in ("auto", "bar", "log", "none"):
            raise ConfigError(f"trainer.progress={progress!r} must be auto, bar, log or none")
        self.progress = "bar" if progress == "auto" and sys.stderr.isatty() else progress
        if self.progress == "auto":
            self.progress = "log"
        self._stop_requested = False

    def fit(self, model: nn.Module, loss_fn: LossFn, sample: Sampler,
            observables: Callable[[], Mapping[str, torch.Tensor]],
            on_row: Callable[[dict[str, Any]], None] | None = None, seed: int = 0,
            resume: Mapping[str, Any] | None = None,
            on_phase_start: Callable[[str], None] | None = None,
            parts: Callable[[], Mapping[str, torch.Tensor] | None] | None = None) -> TrainResult:
        """Run every phase. `sample(None)` gives the fixed collocation set, `sample(generator)` a
        random draw (used every step of a resampling phase), `sample(generator, n)` either with the
        size n a phase asks for (`Phase.collocation_points`); `loss_fn(stage, batch)` the terms.
        `resume` is a checkpoint: training continues after its step, from its exact state.
        `on_phase_start(stage)` runs before a phase begins afresh. `parts()` (see `Problem.parts`)
        splits a Levenberg-Marquardt or L-BFGS phase into independent groups;
        `loss_fn(stage, batch, part)` then gives the terms of one part."""
        self.parts = parts
        params = [p for p in model.parameters() if p.requires_grad]
        self.sample = sample
        self.fixed_batch = sample(None)
        self.generator = torch.Generator().manual_seed(seed)
        result = TrainResult()
        first_phase, elapsed = 0, 0.0
        if resume is not None:
            model.load_state_dict(resume["model"])
            self.generator.set_state(resume["generator"].cpu())
            restore_rng(resume["rng"])
            result.steps = result.resumed_from_step = int(resume["step"])
            result.phase_steps = dict(resume["phase_steps"])
            elapsed = float(resume["elapsed"])
            result.final = resume.get("final")
            result.added_phases = [Phase(**p) for p in resume.get("added_phases", [])]
            self.phases.extend(result.added_phases)
            first_phase = min(int(resume["phase_index"]) + (1 if resume["phase_finished"] else 0), len(self.phases))
        start = time.perf_counter() - elapsed
        bar = self._bar(sum(p.steps for p in self.phases))
        if bar is not None and resume is not None:
            bar.update(sum(p.steps for p in self.phases[:first_phase])
                       + (0 if resume["phase_finished"] else int(resume["phase_step"])))
        previous_handler = self._catch_sigint()
        try:
            index = first_phase - 1
            while not result.out_of_time:
                index += 1
                if index == len(self.phases):
                    added = None if self.extend is None else self.extend(result)
                    if added is None:
                        break
                    self.phases.append(added)
                    result.added_phases.append(added)
                    if bar is not None:
                        bar.total += added.steps
                        bar.refresh()
                phase = self.phases[index]
                if phase.steps == 0:
                    continue
                within = resume if resume is not None and index == int(resume["phase_index"]) else None
                if within is None and on_phase_start is not None:
                    on_phase_start(phase.stage)
                done = self._run_phase(index, model, params, loss_fn, observables, on_row, result, start,
                                       bar, within)
                result.phase_steps[phase.name] = done
                if bar is not None:
                    bar.update(phase.steps - done)  # a phase that converged early skips its remaining steps
        except KeyboardInterrupt:  # a second Ctrl-C: the step in flight is abandoned, not saved
            raise Interrupted(f"interrupted during step {result.steps + 1}{self._kept('last checkpoint kept at')}") from None
        finally:
            if previous_handler is not None:
                signal.signal(signal.SIGINT, previous_handler)
            if bar is not None:
                bar.close()
        result.seconds = time.perf_counter() - start
        self._checkpoint({"model": model.state_dict(), "step": result.steps, "phase_index": len(self.phases) - 1,
                          "phase_step": 0, "phase_finished": True, "phase_steps": result.phase_steps,
                          "generator": self.generator.get_state(), "rng": capture_rng(),
                          "elapsed": result.seconds, "final": result.final, **self._extension(result)})
        return result

    def _extension(self, result: TrainResult) -> dict[str, Any]:
        """What a checkpoint keeps of the phases `extend` added."""
        return {"added_phases": [dataclasses.asdict(p) for p in result.added_phases],
                "extend_log": list(getattr(self.extend, "log", []))}

    # ------------------------------------------------------------------------------------------
    def _catch_sigint(self):
        """The first Ctrl-C asks to stop after the step in flight (which is then checkpointed);
        a second one interrupts at once."""
        if threading.current_thread() is not threading.main_thread():
            return None
        self._stop_requested = False

        def request_stop(signum, frame):
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested = True

        return signal.signal(signal.SIGINT, request_stop)

    def _bar(self, total: int):
        if self.progress != "bar":
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, unit="step", dynamic_ncols=True, file=sys.stderr)

    @staticmethod
    def _total(terms: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """A 0-d term counts as it is, a vector term by its sum of squares."""
        return sum(v if v.ndim == 0 else (v * v).sum() for v in terms.values())

    def _make_optimizer(self, phase: Phase, model: nn.Module, params, loss_fn: LossFn, batch: dict[str, Any]):
        if phase.optimizer == "adam":
            opt = torch.optim.Adam(params, lr=phase.lr, foreach=True)  # all tensors per call: half the CPU time
            gamma = (phase.lr_final / phase.lr) ** (1.0 / phase.steps) if phase.lr_final else 1.0
            return opt, torch.optim.lr_scheduler.ExponentialLR(opt, gamma)
        if phase.optimizer == "lbfgs":
            settings = dict(lr=phase.lr, max_iter=1, max_eval=25, history_size=phase.history_size,
                            tolerance_grad=0.0, tolerance_change=0.0, line_search_fn="strong_wolfe")
            owners = self.parts() if self.parts is not None else None
            if owners is None:
                return torch.optim.LBFGS(params, **settings), None
            named = [(owners[name], p) for name, p in model.named_parameters() if p.requires_grad]
            groups = sorted(set(torch.cat([o.reshape(-1).cpu() for o, _ in named]).tolist()))
            return PartwiseLBFGS([[p for o, p in named if bool((o == g).any())] for g in groups], **settings), None

        def residual(*part: int) -> list[torch.Tensor]:
            terms = loss_fn(phase.stage, batch["current"], *part)
            scalars = [name for name, v in terms.items() if not isinstance(v, Deferred) and v.ndim == 0]
            if scalars:
                raise ConfigError(f"trainer phase {phase.name}: optimizer lm needs least-squares terms, "
                                  f"but stage {phase.stage!r} has the scalar term {scalars[0]!r}; use adam")
            return list(terms.values())

        return LevenbergMarquardt(ResidualModule(model), residual, damping=phase.damping,
                                  geodesic=phase.geodesic, scale_floor=phase.scale_floor,
                                  groups=self._groups(model, residual)), None

    def _groups(self, model: nn.Module, residual: Callable[..., list[torch.Tensor]]):
        """(parameter indices in the flattened parameters, residual of that part) of each part the
        problem splits into (`Problem.parts`), or None for one problem."""
        owners = self.parts() if self.parts is not None else None
        if owners is None:
            return None
        labels = torch.cat([owners[name].reshape(-1).cpu() for name, p in model.named_parameters() if p.requires_grad])
        device = next(model.parameters()).device
        return [(torch.nonzero(labels == g).squeeze(1).to(device), functools.partial(residual, g))
                for g in sorted(set(labels.tolist()))]

    def _run_phase(self, index, model, params, loss_fn, observables, on_row, result, start, bar,
                   resume: Mapping[str, Any] | None) -> int:
        phase = self.phases[index]
        draw = self.sample if phase.collocation_points is None else functools.partial(
            _sized, self.sample, phase.collocation_points)
        batch = {"current": self.fixed_batch if phase.collocation_points is None else draw(None)}
        resample = phase.resample and phase.optimizer != "lbfgs"
        opt, sched = self._make_optimizer(phase, model, params, loss_fn, batch)
        best, since_best, first = math.inf, 0, 0
        if resume is not None:
            opt.load_state_dict(resume["optimizer"])
            if sched is not None:
                sched.load_state_dict(resume["scheduler"])
            best, since_best, first = float(resume["best"]), int(resume["since_best"]), int(resume["phase_step"])
            batch["current"] = resume["batch"]
        recent: collections.deque[dict[str, float]] = collections.deque(
            resume.get("recent", []) if resume is not None else [], maxlen=SETTLE_WINDOW)
        last_terms: dict[str, torch.Tensor] = {}

        def closure():
            opt.zero_grad(set_to_none=True)
            terms = evaluated(loss_fn(phase.stage, batch["current"]))
            total = self._total(terms)
            total.backward()
            last_terms.clear()
            last_terms.update({name: self._term_value(v) for name, v in terms.items()})
            last_terms["loss"] = total.detach()
            return total

        def restore_terms(terms: dict[str, torch.Tensor]) -> None:
            last_terms.clear()
            last_terms.update(terms)

        # L-BFGS steps once per trainer step and starts each step where the last line search ended
        recalling = Recalling(closure, params, lambda: dict(last_terms), restore_terms)

        def closure_of_part(stage: str, part: int) -> torch.Tensor:
            model.zero_grad(set_to_none=True)
            total = self._total(evaluated(loss_fn(stage, batch["current"], part)))
            total.backward()
            return total

        def state(done: int, finished: bool) -> dict[str, Any]:
            return {"model": model.state_dict(), "step": result.steps, "phase_index": index,
                    "phase": phase.name, "phase_step": done, "phase_finished": finished,
                    "phase_steps": {**result.phase_steps, phase.name: done},
                    "optimizer": opt.state_dict(), "scheduler": sched.state_dict() if sched else None,
                    "best": best, "since_best": since_best, "batch": batch["current"], "recent": list(recent),
                    "generator": self.generator.get_state(), "rng": capture_rng(),
                    "elapsed": time.perf_counter() - start, **self._extension(result)}

        for k in range(first, phase.steps):
            step = result.steps + 1
            step_began = time.perf_counter()
            if resample:
                batch["current"] = draw(self.generator)
                if isinstance(opt, LevenbergMarquardt):
                    opt.forget()
            if phase.optimizer == "adam":
                closure()
                self._check_finite(step, phase, last_terms)
                opt.step()
                sched.step()
            elif isinstance(opt, PartwiseLBFGS):
                loss = opt.step(functools.partial(closure_of_part, phase.stage))
                last_terms.clear()
                last_terms["loss"] = torch.tensor(loss)
                self._check_finite(step, phase, last_terms)
            elif phase.optimizer == "lbfgs":
                opt.step(recalling)
                self._check_finite(step, phase, last_terms)
            else:
                loss = opt.step()
                last_terms.clear()
                last_terms["loss"] = torch.tensor(loss)
                self._check_finite(step, phase, last_terms)
            result.steps = step
            if self.thread_trial is not None:
                self.thread_trial.after_step(time.perf_counter() - step_began)
            recent.append({name: float(v) for name, v in observables().items()})
            loss = float(last_terms["loss"])
            if loss < best * (1 - 1e-10):
                best, since_best = loss, 0
            else:
                since_best += 1
            if bar is not None:
                bar.update(1)
            last_stage = phase.stage == self.phases[-1].stage
            stalled, accurate = phase_end(phase, k, since_best, getattr(opt, "converged", False), last_stage,
                                          self.accurate_enough, recent)
            placed = not (stalled or accurate) and placed_end(phase, k, self.placed)
            if not (stalled or accurate) and self.settled_parts is not None and self.accurate_enough is not None \
                    and isinstance(opt, LevenbergMarquardt) and estimate_due(phase, k, last_stage):
                opt.settle(self.settled_parts())
            stalled = stalled or accurate or placed
            if self.max_seconds is not None and time.perf_counter() - start >= self.max_seconds:
                result.out_of_time = True
            final = k == phase.steps - 1 or stalled or result.out_of_time
            if step % self.log_every == 0 or final or k == 0:
                self._check_parameters(step, phase, params)
                if phase.optimizer == "lm" or isinstance(opt, PartwiseLBFGS):
                    with torch.no_grad():
                        terms = evaluated(loss_fn(phase.stage, batch["current"]))
                    last_terms.update({name: self._term_value(v) for name, v in terms.items()})
                row = self._row(step, phase, last_terms, observables, opt, start)
                if on_row is not None:
                    on_row(row)
                self._report(row, bar)
            if step % self.checkpoint_every == 0 or self._stop_requested:
                self._check_parameters(step, phase, params)
                self._checkpoint(state(k + 1, final))
            if self._stop_requested:
                raise Interrupted(f"interrupted after step {step}{self._kept('checkpoint written to')}")
            if stalled:
                log.info("phase %s: %s at step %d", phase.name, _ending(accurate, placed), step)
                result.final = settling(phase.name, k + 1, True, recent)
                return k + 1
            if result.out_of_time:
                log.info("phase %s: stopped at step %d, the time budget of %g s is spent", phase.name, step,
                         self.max_seconds)
                result.final = settling(phase.name, k + 1, False, recent)
                return k + 1
        result.final = settling(phase.name, phase.steps, False, recent)
        return phase.steps

    @staticmethod
    def _term_value(v: torch.Tensor) -> torch.Tensor:
        return v.detach() if v.ndim == 0 else (v.detach() ** 2).sum()

    def _check_finite(self, step: int, phase: Phase, terms: Mapping[str, torch.Tensor]) -> None:
        """Every step: one sync on the total, the terms are only inspected when it is bad."""
        if bool(torch.isfinite(terms["loss"])):
            return
        for name, value in terms.items():
            if name != "loss" and not torch.isfinite(value):
                raise DivergenceError(self._divergence(step, phase, f"loss term '{name}' is {float(value)}"))
        raise DivergenceError(self._divergence(step, phase, f"the loss is {float(terms['loss'])}"))

    def _check_parameters(self, step: int, phase: Phase, params) -> None:
        """Before a row is logged or a checkpoint written, so a bad state is never saved."""
        for p in params:
            if p.grad is not None and not torch.isfinite(p.grad).all():
                raise DivergenceError(self._divergence(step, phase, "a gradient is not finite"))
            if not torch.isfinite(p).all():
                raise DivergenceError(self._divergence(step, phase, "a parameter is not finite"))

    def _divergence(self, step: int, phase: Phase, what: str) -> str:
        return f"training diverged at step {step} (phase {phase.name}): {what}{self._kept('last good checkpoint kept at', hint=False)}"

    def _kept(self, what: str, hint: bool = True) -> str:
        """Where the checkpoint is (and with `hint` how to continue), or that none was written yet."""
        if self.checkpoint_path is None:
            return ""
        if not self.checkpoint_path.exists():
            return "; no checkpoint had been written yet"
        return f"; {what} {self.checkpoint_path}{self.resume_hint if hint else ''}"

    def _row(self, step, phase, terms, observables, opt, start) -> dict[str, Any]:
        row: dict[str, Any] = {"step": step, "phase": phase.name, "time": time.perf_counter() - start}
        row.update({name: float(v) for name, v in terms.items()})
        row.update({name: float(v) for name, v in observables().items()})
        row["lr"] = opt.param_groups[0]["lr"] if hasattr(opt, "param_groups") else opt.damping
        return row

    def _report(self, row: Mapping[str, Any], bar) -> None:
        shown = {k: v for k, v in row.items() if k not in ("step", "phase", "time")}
        text = " ".join(f"{k}={v:.8g}" for k, v in shown.items())
        if bar is not None:
            bar.set_postfix_str(text, refresh=False)
        elif self.progress == "log":
            log.info("step %d [%s] %.1fs %s", row["step"], row["phase"], row["time"], text)

    def _checkpoint(self, state: Mapping[str, Any]) -> None:
        if self.checkpoint_path is None:
            return
        save_checkpoint(self.checkpoint_path, {**self.checkpoint_extra, **state, "threads": torch.get_num_threads()})


def _ending(accurate: bool, placed: bool) -> str:
    """Why a phase ended before its steps."""
    if placed:
        return "every state is near its own level (independent count)"
    return "converged (the a-posteriori estimate is within the tolerance)" if accurate else \
        "stopped (no step lowers the loss further: a minimum, which the checks judge)"


def _sized(sample: Sampler, n_points: int, generator: torch.Generator | None) -> dict[str, Any]:
    return sample(generator, n_points)
