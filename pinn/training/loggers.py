"""Optional experiment loggers fed with the same rows as history.csv (`logger=tensorboard`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Mapping

LOGGERS = ("none", "tensorboard")
Row = Mapping[str, Any]


class TensorBoardLogger:
    """Every loss term under loss/, eigenvalues (E0, E1, ...) under eigenvalue/, the rest under
    train/, at the row's step; event files in <run dir>/tensorboard."""

    def __init__(self, run_dir: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))

    def __call__(self, row: Row) -> None:
        step = int(row["step"])
        for key, value in row.items():
            if key in ("step", "phase") or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            group = "eigenvalue" if key[:1] == "E" and key[1:].isdigit() else "train" if key in ("time", "lr") else "loss"
            self.writer.add_scalar(f"{group}/{key}", value, step)

    def close(self) -> None:
        self.writer.close()


def fan_out(*sinks: Callable[[Row], None] | None) -> Callable[[Row], None]:
    active = [s for s in sinks if s is not None]

    def write(row: Row) -> None:
        for sink in active:
            sink(row)

    return write
