"""run(cfg) -> metrics: validate, seed, build, train, evaluate against the references, save."""

from __future__ import annotations

import dataclasses
import json
import logging
import random
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from pinn import batching
from pinn.config import validate
from pinn.errors import ConfigError, DivergenceError, Interrupted
from pinn.io.figures import plot_run
from pinn.io.files import HistoryWriter, provenance, write_json, write_solution
from pinn.io.rundir import RunDirectory
from pinn.io.summary import reference_line, refinement_line
from pinn.problems import build_problem
from pinn.problems.registry import report_of
from pinn.status import Criteria, effective_tolerance
from pinn.training.checkpoints import load_checkpoint, save_checkpoint
from pinn.training.loggers import TensorBoardLogger, fan_out
from pinn.training.threads import ThreadChoice, ThreadTrial, usable_cores, using_threads
from pinn.training.threads import choose as choose_threads
from pinn.training.refine import Refinement
from pinn.training.restart import restart_states
from pinn.training.trainer import Trainer

log = logging.getLogger("pinn")


def plain_config(cfg: DictConfig | Mapping[str, Any]) -> dict[str, Any]:
    """Resolved config as plain Python containers; interpolation errors become ConfigErrors."""
    if isinstance(cfg, DictConfig):
        try:
            return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
        except Exception as exc:  # omegaconf raises several unrelated types here
            raise ConfigError(f"the config does not resolve: {str(exc).splitlines()[0]}") from None
    return dict(cfg)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def output_dir_from_hydra() -> Path:
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def resume_source(run_dir: Any) -> tuple[dict[str, Any], Path | None]:
    """The config saved in a run directory and its last checkpoint (None if it never wrote one)."""
    if not isinstance(run_dir, str) or not run_dir:
        raise ConfigError(f"resume={run_dir!r} must be the directory of an earlier run")
    path = Path(run_dir)
    if not (path / "config.json").is_file():
        what = "does not exist" if not path.exists() else "holds no config.json (not a pinn run directory)"
        raise ConfigError(f"resume={run_dir}: {what}; give the directory an interrupted run printed")
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"resume={run_dir}: config.json cannot be read ({exc})") from None
    checkpoint = path / "checkpoint.pt"
    return config, (checkpoint if checkpoint.exists() else None)


def run(cfg: DictConfig | Mapping[str, Any], out_dir: Path | None = None, keep: bool = True) -> dict[str, Any]:
    """Solve one configured problem; everything lands in out_dir (Hydra's run directory by default).

    With `resume=<run dir>` in the config, the run saved there continues from its last checkpoint
    with its own saved config, and writes into that directory. `keep=False`: the caller removes
    out_dir afterwards, so the summary does not point to it."""
    config = plain_config(cfg)
    checkpoint_path, key = None, "out_dir" if out_dir is not None else "hydra.run.dir"
    if config.get("resume") is not None:
        out_dir, key = Path(config["resume"]), "resume"
        config, checkpoint_path = resume_source(config["resume"])
    settings = validate(config)
    problem_cfg = config.get("problem")
    if not isinstance(problem_cfg, Mapping):
        raise ConfigError("problem must be selected, e.g. problem=finite_well")
    problem = build_problem(problem_cfg)
    check_stages(problem, settings)
    tolerance = resolve_tolerance(problem, config, settings)
    phases = schedule(problem, settings)
    batched = batching.take(config) if checkpoint_path is None else None
    out = Path(out_dir) if out_dir is not None else output_dir_from_hydra()
    with RunDirectory(out, key):
        checkpoint = load_checkpoint(checkpoint_path, settings.device) if checkpoint_path is not None else None
        if batched is not None:
            checkpoint = _from_batch(batched, problem, config, settings, out)
        threads = choose_threads(settings.threads) if checkpoint is None or "threads" not in checkpoint else \
            ThreadChoice(int(checkpoint["threads"]), "from the checkpoint", usable_cores(), 1, None, None)
        with using_threads(threads.used):
            metrics = _solve(problem, config, settings, phases, tolerance, threads, out, checkpoint)
    print(summary(metrics, out if keep else None))
    return metrics


def last_stage_terms(problem, model, settings, phases) -> Callable[[], Mapping[str, Any]]:
    """The loss terms of the schedule's last stage on the default collocation nodes, as a function."""
    nodes = problem.collocation(settings.collocation_points, settings.device, settings.dtype)
    return lambda: problem.loss_terms(model, nodes, phases[-1].stage)


def _solve(problem, config: dict[str, Any], settings, phases, tolerance: tuple[float, str], threads: ThreadChoice,
           out: Path, checkpoint: Mapping[str, Any] | None) -> dict[str, Any]:
    reference = problem.reference(settings.reference_cache)  # before training: a flame that does not fit fails at once
    lookup = problem.reference_lookup
    log.info("reference: %s in %.2f s%s", "loaded from the cache" if lookup.source == "cache" else lookup.source,
             lookup.seconds, f" (its solve took {lookup.solve_seconds:.1f} s)" if lookup.source == "cache" else "")
    if checkpoint is None:
        write_json(out / "config.json", config)
    torch.set_float32_matmul_precision("highest")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    seed_everything(settings.seed)
    model = problem.build_model(settings.width, settings.depth, settings.activation)
    model = model.to(device=settings.device, dtype=settings.dtype)
    trial = ThreadTrial([threads.used, 1]) if threads.setting == "auto" and threads.used > 1 and checkpoint is None \
        else None
    refinement = Refinement(settings.refine, phases, settings.collocation_points, lambda: problem.estimate(model),
                            tolerance[0], history=checkpoint.get("extend_log", []) if checkpoint else (),
                            misplaced=lambda: problem.misplaced_states(model),
                            restart=lambda states: restart_states(problem, model, states),
                            part_estimates=lambda: problem.part_estimates(model),
                            settle_scales=lambda: problem.settle_scales(model, last_stage_terms(problem, model, settings,
                                                                                                phases)))
    trainer = Trainer(phases, log_every=settings.log_every,
                      checkpoint_every=settings.checkpoint_every, checkpoint_path=out / "checkpoint.pt",
                      progress=settings.progress, checkpoint_extra={"config": config},
                      resume_hint=f"; continue it with: python -m pinn resume={out}",
                      extend=refinement, max_seconds=settings.refine.max_seconds,
                      accurate_enough=refinement.well_within, settled_parts=lambda: refinement.parts_within,
                      thread_trial=trial, placed=lambda: problem.states_placed(model))
    batch = checkpoint.get("trained_in_batch") if checkpoint is not None else None
    if batch is not None:
        log.info("%s: trained in a batch of %d points for %d steps; its own run continues in %s", problem.name,
                 batch["points"], checkpoint["step"], out)
    elif checkpoint is not None:
        log.info("resuming %s from step %d of %s", problem.name, checkpoint["step"], out)
    history = HistoryWriter(out / "history.csv", keep_until_step=checkpoint["step"] if checkpoint else None)
    board = TensorBoardLogger(out) if settings.logger == "tensorboard" else None
    log.info("solving %s on %s in %s with %d thread(s); outputs in %s", problem.name, settings.device,
             str(settings.dtype).replace("torch.", ""), threads.used, out)
    try:
        result = trainer.fit(
            model,
            lambda stage, batch, part=None: (problem.loss_terms(model, batch, stage) if part is None
                                             else problem.loss_terms(model, batch, stage, part=part)),
            lambda generator, n_points=None: problem.collocation(n_points or settings.collocation_points,
                                                                 settings.device, settings.dtype, generator),
            lambda: problem.observables(model),
            on_row=fan_out(history, board),
            seed=settings.seed,
            resume=checkpoint,
            on_phase_start=lambda stage: problem.start_stage(model, stage),
            parts=lambda: problem.parts(model),
        )
    except DivergenceError:
        write_json(out / "metrics.json", {"problem": problem.name, "status": "diverged",
                                          "config": config, "seed": settings.seed})
        raise
    finally:
        if board is not None:
            board.close()

    last = [*phases, *result.added_phases][-1]
    nodes = problem.collocation(last.collocation_points or settings.collocation_points, settings.device, settings.dtype)
    criteria = Criteria(tolerance[0], result.final, lambda: problem.loss_terms(model, nodes, last.stage))
    metrics, arrays = problem.evaluate(model, reference, criteria)
    metrics = {
        "problem": problem.name,
        "report": problem.report,
        **metrics,
        "observables": sorted(problem.observables(model)),
        "tolerance": tolerance[0],
        "tolerance_source": tolerance[1],
        "final_phase": result.final,
        "refinement": refinement.log,
        "out_of_time": result.out_of_time,
        "train_seconds": result.seconds,
        "reference": lookup.as_dict(),
        "steps": result.steps,
        "resumed_from_step": result.resumed_from_step if batch is None else None,
        "batch": batch,
        "phase_steps": result.phase_steps,
        "device": str(settings.device),
        "dtype": str(settings.dtype).replace("torch.", ""),
        "threads": {**threads.as_dict(), "used": torch.get_num_threads(),
                    "trial": trial.as_dict() if trial is not None else None},
        "seed": settings.seed,
        "versions": provenance(),
        "config": config,
    }
    write_json(out / "metrics.json", metrics)
    write_solution(out / "solution.npz", arrays)
    if settings.figures:
        plot_run(out)
    return metrics


def schedule(problem, settings) -> list:
    """The trainer's phases for this problem: each phase's steps plus its extra steps per state (an
    `until_placed` phase runs at least the steps without them)."""
    extra_states = getattr(problem, "n_states", 1) - 1
    phases = [dataclasses.replace(p, steps=p.steps + p.extra_steps_per_state * extra_states,
                                  min_steps=p.steps if p.min_steps is None else p.min_steps) for p in settings.phases]
    if not any(p.steps for p in phases):
        raise ConfigError("every trainer phase has steps=0: nothing would be trained; give one phase steps > 0")
    return phases


def _from_batch(outcome, problem, config: dict[str, Any], settings, out: Path) -> dict[str, Any]:
    """A point trained in a batch (pinn.batching): its history so far, and the state its own run
    continues from; a point that diverged there fails here as it would have alone, and one whose
    batch was interrupted keeps a checkpoint to resume from and stops."""
    write_json(out / "config.json", config)
    history = HistoryWriter(out / "history.csv")
    for row in outcome.rows:
        history(row)
    if outcome.error is not None:
        write_json(out / "metrics.json", {"problem": problem.name, "status": "diverged", "config": config,
                                          "seed": settings.seed, "batch": outcome.batch})
        raise outcome.error
    if outcome.interrupted:
        kept = {k: v for k, v in outcome.start.items() if k != "trained_in_batch"}  # continued later: a resume
        save_checkpoint(out / "checkpoint.pt", {**kept, "config": config, "threads": torch.get_num_threads()})
        raise Interrupted(f"{problem.name}: its batch was interrupted after step {outcome.start['step']}; the weights "
                          f"it reached are kept; continue it (from the start of the interrupted phase) with: "
                          f"python -m pinn resume={out}")
    return outcome.start


def resolve_tolerance(problem, config: Mapping[str, Any], settings) -> tuple[float, str]:
    """The relative eigenvalue tolerance of this run (`tolerance`, or the problem's default raised
    to what the dtype resolves) and where it came from."""
    return effective_tolerance(config.get("tolerance"), problem.tolerance(), settings.dtype)


def check_stages(problem, settings) -> None:
    for phase in settings.phases:
        if phase.stage not in problem.stages:
            raise ConfigError(f"trainer.phases.{phase.name}.stage={phase.stage!r} is not a stage of {problem.name}; "
                              f"use one of {', '.join(problem.stages)}")


def summary(metrics: Mapping[str, Any], out: Path | None) -> str:
    """The printed summary: steps and time, the lines of the run's report kind, a failed status."""
    lines = [f"{metrics['problem']}: {metrics['steps']} steps in {metrics['train_seconds']:.1f} s "
             f"on {metrics['device']} ({metrics['dtype']})", *report_of(metrics).summary(metrics),
             *refinement_line(metrics), *reference_line(metrics)]
    if metrics["status"] != "ok":
        lines.append(f"  FAILED ({metrics['status']}): {metrics.get('status_detail', '')}")
    if out is not None:
        lines.append(f"  outputs: {out}")
    return "\n".join(lines)
