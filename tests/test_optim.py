import math

import torch
from torch import nn

from pinn.optim import LevenbergMarquardt, ResidualModule


class Decay(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(1.0, dtype=torch.float64))
        self.k = nn.Parameter(torch.tensor(0.1, dtype=torch.float64))


def test_lm_fits_a_nonlinear_model_to_machine_precision():
    t = torch.linspace(0, 3, 40, dtype=torch.float64)
    y = 2.5 * torch.exp(-1.3 * t)
    model = Decay()
    lm = LevenbergMarquardt(ResidualModule(model), lambda: model.a * torch.exp(-model.k * t) - y)
    for _ in range(100):
        loss = lm.step()
        if lm.converged:
            break
    assert loss < 1e-20
    assert math.isclose(model.a.item(), 2.5, rel_tol=1e-10)
    assert math.isclose(model.k.item(), 1.3, rel_tol=1e-10)
