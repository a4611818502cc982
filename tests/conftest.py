import pytest
import torch

# A short schedule that still lands near the reference: enough for correctness, small for CI.
FAST = [
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
