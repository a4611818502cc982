import contextlib
import io
import os
import sys

import pytest
import torch

from pinn import cli

if os.environ.get("PYTEST_XDIST_WORKER"):
    # the workers share the cores: one torch thread each, the same in every run, so that runs
    # compared bit for bit (rerun, resume) took the same reductions
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)  # torch read the environment when it was imported, above

# A short schedule that still lands near the reference: enough for correctness, small for CI; its
# runs are judged at the accuracy it reaches. FAST draws no PNGs (a second or two per run), FAST_WITH_FIGURES does.
FAST_WITH_FIGURES = [
    "tolerance=1e-4",
    "trainer.progress=none",
    "trainer.collocation_points=64",
    "trainer.phases.warmup.steps=300",
    "trainer.phases.solve.steps=80",
    "trainer.log_every=20",
]
FAST = [*FAST_WITH_FIGURES, "figures=false"]


@pytest.fixture(autouse=True, scope="session")
def _reference_cache(tmp_path_factory):
    """One reference cache for the whole session, its workers (pytest-xdist) and their subprocesses:
    tests that solve the same physical parameters share one solve, and nothing is written to the
    user's own cache."""
    saved = os.environ.get("PINN_CACHE_DIR")
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "reference-cache"
    shared.mkdir(exist_ok=True)
    os.environ["PINN_CACHE_DIR"] = str(shared)
    yield
    if saved is None:
        os.environ.pop("PINN_CACHE_DIR", None)
    else:
        os.environ["PINN_CACHE_DIR"] = saved


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
