"""Checkpoint files: everything a run needs to continue exactly where it stopped.

A checkpoint holds the model, the optimizer and scheduler states, the phase and step, the
collocation batch in use, the training clock and the states of every random generator (the
sampler's own, torch's, numpy's and Python's). It is written to a temporary file and renamed, so a
kill at any moment leaves the previous checkpoint intact. Only tensors and plain Python values are
stored, so it loads with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from pinn.errors import ConfigError

FORMAT = 1


def save_checkpoint(path: Path, payload: Mapping[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, **payload}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged or foreign file
        raise ConfigError(f"checkpoint {path} cannot be read (damaged, or not a pinn checkpoint: "
                          f"{type(exc).__name__}); delete it to start that run again from scratch") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ConfigError(f"checkpoint {path} was not written by this version of pinn; "
                          "delete it to start that run again from scratch")
    return payload


def capture_rng() -> dict[str, Any]:
    """States of the global generators (the sampler's own generator is saved by the trainer)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.cpu().numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
