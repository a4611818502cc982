import contextlib
import io
import sys

import pytest
import torch

from pinn import cli

# A short schedule that still lands near the reference: enough for correctness, small for CI; its
# runs are judged at the accuracy it reaches.
FAST = [
    "tolerance=1e-4",
    "trainer.progress=none",
    "trainer.collocation_points=64",
    "trainer.phases.warmup.steps=300",
    "trainer.phases.solve.steps=80",
    "trainer.log_every=20",
]


@pytest.fixture(autouse=True)
def _double_precision_default():
    previous = torch.get_default_dtype()
    yield
    torch.set_default_dtype(previous)


def run_cli(argv, run_dir):
    """`python -m pinn ARGV` in process: (exit code, stdout, stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    saved = sys.argv
    sys.argv = ["pinn", *argv, f"hydra.run.dir={run_dir}"]
    code = 0
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = saved
    return code, stdout.getvalue(), stderr.getvalue()
