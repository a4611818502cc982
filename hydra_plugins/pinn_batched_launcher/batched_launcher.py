"""Hydra launcher `hydra/launcher=batched`: the points of a sweep that share a problem, a network
and a schedule are trained together (pinn.batching), then each point's own job refines, evaluates
and writes its run directory as a single run does. Points that cannot share a batch run one after
another, as with the basic launcher. A Ctrl-C while a batch trains stops the sweep: every point
trained so far keeps a checkpoint in its job directory (`python -m pinn resume=<it>`)."""

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)


@dataclass
class BatchedLauncherConf:
    _target_: str = "hydra_plugins.pinn_batched_launcher.batched_launcher.BatchedLauncher"
    max_batch: int = 64  # at most this many points in one batch (memory)


ConfigStore.instance().store(group="hydra/launcher", name="batched", node=BatchedLauncherConf, provider="pinn")


class BatchedLauncher(Launcher):
    def __init__(self, max_batch: int = 64) -> None:
        super().__init__()
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"hydra.launcher.max_batch={max_batch!r} must be a whole number >= 1")
        self.max_batch = max_batch
        self.config: Optional[DictConfig] = None
        self.task_function: Optional[TaskFunction] = None
        self.hydra_context: Optional[HydraContext] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from pinn import batching
        from pinn.run import plain_config

        setup_globals()
        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        sweeps, plain = [], []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = idx
                sweep_config.hydra.job.num = idx
            sweeps.append(sweep_config)
            plain.append(_job_config(sweep_config, plain_config))
        outcomes: Dict[int, Any] = {}
        batches = batching.plan([c if c is not None else {} for c in plain], self.max_batch)
        interrupted = False
        for batch in batches:
            if len(batch) < 2 or any(plain[i] is None for i in batch):
                continue
            log.info("training jobs %s together", ", ".join(f"#{initial_job_idx + i}" for i in batch))
            try:
                trained = batching.train_batch([plain[i] for i in batch])
            except Exception as exc:  # noqa: BLE001 - whatever broke the batch, each job still runs alone
                trained = f"training them together failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
            if isinstance(trained, str):
                log.info("jobs %s run one at a time: %s", ", ".join(f"#{initial_job_idx + i}" for i in batch), trained)
                continue
            outcomes.update(zip(batch, trained))
            if any(o.interrupted for o in trained):
                interrupted = True
                break
        if interrupted:  # every point trained so far keeps a checkpoint; nothing else starts
            outcomes = {i: dataclasses.replace(o, interrupted=o.start is not None) for i, o in outcomes.items()}
        runs = []
        for i, (overrides, sweep_config) in enumerate(zip(job_overrides, sweeps)):
            if interrupted and i not in outcomes:
                continue
            log.info("\t#%d : %s", initial_job_idx + i, " ".join(filter_overrides(overrides)))
            with batching.handed_over(plain[i] or {}, outcomes.get(i)):
                try:
                    runs.append(run_job(hydra_context=self.hydra_context, task_function=self.task_function,
                                        config=sweep_config, job_dir_key="hydra.sweep.dir",
                                        job_subdir_key="hydra.sweep.subdir"))
                except KeyboardInterrupt:  # a job that stopped: the sweep stops, after the others keep theirs
                    if not interrupted:
                        raise
        if interrupted:
            log.info("the sweep was interrupted: each job trained so far kept a checkpoint (resume=<its directory>); "
                     "%d job(s) did not start", len(job_overrides) - len(outcomes))
            raise KeyboardInterrupt
        return runs


def _job_config(sweep_config: DictConfig, plain_config) -> Optional[Dict[str, Any]]:
    """The job's config as its run sees it (without Hydra's own node), or None if it does not
    resolve (its own run then reports why)."""
    job = OmegaConf.masked_copy(sweep_config, [k for k in sweep_config if k != "hydra"])
    try:
        return plain_config(job)
    except Exception:  # the job's own run reports the error
        return None
