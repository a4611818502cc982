"""Where the configs live, and validation of everything outside `problem` (which the problem
class validates itself). Every failure is a ConfigError naming the key, the value and what is allowed."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from omegaconf import DictConfig

from pinn.errors import ConfigError
from pinn.training.loggers import LOGGERS
from pinn.numerics.nets import ACTIVATIONS
from pinn.reference.cache import ReferenceCache
from pinn.training.threads import check_setting as check_threads
from pinn.training.phase import REQUIRED, Phase
from pinn.training.refine import RefineSettings

def _config_dir() -> Path:
    """The configs: inside the installed package (a wheel carries them as pinn/conf), or the
    top-level conf/ of a source checkout."""
    package = Path(__file__).resolve().parent
    installed = package / "conf"
    return installed if installed.is_dir() else package.parent / "conf"


CONFIG_DIR = _config_dir()
TOP_LEVEL_KEYS = {"problem", "model", "trainer", "seed", "dtype", "device", "resume", "logger", "tolerance", "threads",
                  "reference", "figures"}
DTYPES = {"float64": torch.float64, "float32": torch.float32}


@dataclass(frozen=True)
class Settings:
    seed: int
    dtype: torch.dtype
    device: torch.device
    width: int
    depth: int
    activation: str
    collocation_points: int
    log_every: int
    checkpoint_every: int
    progress: str
    logger: str
    phases: tuple[Phase, ...]
    threads: str | int = "auto"
    refine: RefineSettings = RefineSettings()
    reference_cache: ReferenceCache | None = None
    figures: bool = True


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    """The same config the command line builds, from the same overrides (Hydra compose API)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(CONFIG_DIR), version_base=None):
        return compose("config", overrides=list(overrides))


def _whole(key: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        allowed = f"a whole number between {low} and {high}" if high is not None else f"a whole number >= {low}"
        raise ConfigError(f"{key}={value!r} must be {allowed}")
    return value


def _section(cfg: Mapping[str, Any], key: str, allowed: set[str]) -> Mapping[str, Any]:
    section = cfg.get(key)
    if not isinstance(section, Mapping):
        raise ConfigError(f"{key} must be a group of settings, got {section!r}")
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]} is not a setting; use {', '.join(sorted(allowed))}")
    return section


def reference_cache(cfg: Mapping[str, Any]) -> ReferenceCache | None:
    """The on-disk reference cache `reference.cache` / `reference.cache_dir` ask for (None: off);
    a config without the section (an older run's) caches in the default directory."""
    section = _section(cfg, "reference", {"cache", "cache_dir"}) if "reference" in cfg else {}
    enabled, directory = section.get("cache", True), section.get("cache_dir")
    if not isinstance(enabled, bool):
        raise ConfigError(f"reference.cache={enabled!r} must be true or false")
    if directory is not None and (not isinstance(directory, str) or not directory):
        raise ConfigError(f"reference.cache_dir={directory!r} must be a directory path, or null for the default")
    return ReferenceCache(directory) if enabled else None


def resolve_device(name: Any) -> torch.device:
    if not isinstance(name, str):
        raise ConfigError(f"device={name!r} must be auto, cpu, cuda or cuda:N")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ConfigError(f"device={name} but CUDA is not available on this machine; use device=cpu or device=auto")
        index = int(name[5:]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"device={name} but only {torch.cuda.device_count()} CUDA device(s) exist")
        return torch.device(name)
    raise ConfigError(f"device={name!r} must be auto, cpu, cuda or cuda:N")


def validate(cfg: Mapping[str, Any]) -> Settings:
    """Check the whole config except `problem`; return typed settings."""
    unknown = sorted(set(cfg) - TOP_LEVEL_KEYS)
    if unknown:
        raise ConfigError(f"{unknown[0]} is not a setting; top-level keys are {', '.join(sorted(TOP_LEVEL_KEYS))}")
    seed = _whole("seed", cfg.get("seed"), 0, 2**32 - 1)
    dtype_name = cfg.get("dtype")
    if not isinstance(dtype_name, str) or dtype_name not in DTYPES:
        raise ConfigError(f"dtype={dtype_name!r} is not supported; use float64 or float32")
    device = resolve_device(cfg.get("device"))
    model = _section(cfg, "model", {"width", "depth", "activation"})
    width = _whole("model.width", model.get("width"), 1, 4096)
    depth = _whole("model.depth", model.get("depth"), 1, 64)
    activation = model.get("activation")
    if activation not in ACTIVATIONS:
        raise ConfigError(f"model.activation={activation!r} is not supported; choose from {', '.join(ACTIVATIONS)}")
    trainer = _section(cfg, "trainer", {"collocation_points", "log_every", "checkpoint_every", "progress", "phases",
                                            "refine"})
    phases_cfg = trainer.get("phases")
    if not isinstance(phases_cfg, Mapping) or not phases_cfg:
        raise ConfigError("trainer.phases must map phase names to settings (stage, optimizer, steps, ...)")
    phases = []
    complete = [str(n) for n, p in phases_cfg.items() if isinstance(p, Mapping) and REQUIRED <= set(p)]
    for name, phase in phases_cfg.items():
        if not isinstance(phase, Mapping):
            raise ConfigError(f"trainer.phases.{name} must be a group of settings, got {phase!r}")
        if not REQUIRED & set(phase) and complete:  # a setting of a phase this trainer does not have
            raise ConfigError(f"trainer.phases.{name} is not one of this trainer's phases ({', '.join(complete)}); "
                              f"set one of those, or give a new phase its stage, optimizer and steps")
        phases.append(Phase.from_config(str(name), phase))
    logger = cfg.get("logger", "none")
    if not isinstance(logger, str) or logger not in LOGGERS:
        raise ConfigError(f"logger={logger!r} is not supported; use {' or '.join(LOGGERS)}")
    if logger == "tensorboard" and importlib.util.find_spec("tensorboard") is None:
        raise ConfigError("logger=tensorboard needs the tensorboard package; install it with pip install -e '.[tensorboard]'")
    progress = trainer.get("progress")
    if progress not in ("auto", "bar", "log", "none"):
        raise ConfigError(f"trainer.progress={progress!r} must be auto, bar, log or none")
    figures = cfg.get("figures", True)
    if not isinstance(figures, bool):
        raise ConfigError(f"figures={figures!r} must be true or false")
    return Settings(
        seed=seed,
        dtype=DTYPES[dtype_name],
        device=device,
        width=width,
        depth=depth,
        activation=activation,
        collocation_points=_whole("trainer.collocation_points", trainer.get("collocation_points"), 4, 100000),
        log_every=_whole("trainer.log_every", trainer.get("log_every"), 1),
        checkpoint_every=_whole("trainer.checkpoint_every", trainer.get("checkpoint_every"), 1),
        progress=progress,
        logger=logger,
        phases=tuple(phases),
        threads=check_threads(cfg.get("threads", "auto")),
        refine=RefineSettings.from_config(trainer.get("refine"), phases),
        reference_cache=reference_cache(cfg),
        figures=figures,
    )

