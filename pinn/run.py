"""run(cfg) -> metrics: validate, seed, build, train, evaluate against the references, save."""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from pinn.config import validate
from pinn.errors import ConfigError, DivergenceError
from pinn.evaluate import evaluate_schrodinger
from pinn.outputs import HistoryWriter, write_json, write_solution
from pinn.plots import plot_run
from pinn.problems import build_problem
from pinn.train import Trainer

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


def run(cfg: DictConfig | Mapping[str, Any], out_dir: Path | None = None) -> dict[str, Any]:
    """Solve one configured problem; everything lands in out_dir (Hydra's run directory by default)."""
    config = plain_config(cfg)
    settings = validate(config)
    problem_cfg = config.get("problem")
    if not isinstance(problem_cfg, Mapping):
        raise ConfigError("problem must be selected, e.g. problem=finite_well")
    problem = build_problem(problem_cfg)
    out = Path(out_dir) if out_dir is not None else output_dir_from_hydra()
    out.mkdir(parents=True, exist_ok=True)

    torch.set_float32_matmul_precision("highest")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    seed_everything(settings.seed)
    model = problem.build_model(settings.width, settings.depth, settings.activation)
    model = model.to(device=settings.device, dtype=settings.dtype)
    trainer = Trainer(list(settings.phases), log_every=settings.log_every,
                      checkpoint_every=settings.checkpoint_every, checkpoint_path=out / "checkpoint.pt",
                      progress=settings.progress)
    history = HistoryWriter(out / "history.csv")
    log.info("solving %s on %s in %s; outputs in %s", problem.name, settings.device,
             str(settings.dtype).replace("torch.", ""), out)
    started = time.perf_counter()
    try:
        result = trainer.fit(
            model,
            lambda stage, batch: problem.loss_terms(model, batch, stage),
            lambda generator: problem.collocation(settings.collocation_points, settings.device,
                                                  settings.dtype, generator),
            lambda: problem.observables(model),
            on_row=history,
            seed=settings.seed,
        )
    except DivergenceError:
        write_json(out / "metrics.json", {"problem": problem.name, "status": "diverged",
                                          "config": config, "seed": settings.seed})
        raise
    train_seconds = time.perf_counter() - started

    metrics, arrays = evaluate_schrodinger(problem, model)
    metrics = {
        "problem": problem.name,
        **metrics,
        "train_seconds": train_seconds,
        "steps": result.steps,
        "phase_steps": result.phase_steps,
        "device": str(settings.device),
        "dtype": str(settings.dtype).replace("torch.", ""),
        "seed": settings.seed,
        "versions": {"torch": torch.__version__, "numpy": np.__version__},
        "config": config,
    }
    write_json(out / "metrics.json", metrics)
    write_solution(out / "solution.npz", arrays)
    plot_run(out)
    print(summary(metrics, out))
    return metrics


def summary(metrics: Mapping[str, Any], out: Path) -> str:
    lines = [f"{metrics['problem']}: {metrics['steps']} steps in {metrics['train_seconds']:.1f} s "
             f"on {metrics['device']} ({metrics['dtype']})"]
    for j, (E, ref, err, rq, l2) in enumerate(zip(metrics["eigenvalues"], metrics["reference_eigenvalues"],
                                                  metrics["relative_errors"], metrics["rayleigh_quotients"],
                                                  metrics["wavefunction_l2_errors"])):
        lines.append(f"  state {j}: E = {E:.12g}   reference = {ref:.12g} ({metrics['reference_source']})   "
                     f"relative error = {err:.2e}   Rayleigh quotient = {rq:.12g}   psi L2 error = {l2:.2e}")
    if metrics["status"] != "ok":
        lines.append(f"  FAILED ({metrics['status']}): {metrics.get('status_detail', '')}")
    lines.append(f"  outputs: {out}")
    return "\n".join(lines)
