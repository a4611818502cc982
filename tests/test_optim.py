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


class TwoDecays(nn.Module):
    def __init__(self):
        super().__init__()
        self.first, self.second = Decay(), Decay()


def test_lm_groups_solve_each_part_with_its_own_damping():
    """Two independent fits in one module, one group each: both reach machine precision, each
    group keeps its own damping, and the state round-trips through state_dict."""
    t = torch.linspace(0, 3, 40, dtype=torch.float64)
    y1, y2 = 2.5 * torch.exp(-1.3 * t), 1e3 * torch.exp(-0.2 * t)
    model = TwoDecays()
    fits = [lambda: [model.first.a * torch.exp(-model.first.k * t) - y1],
            lambda: [model.second.a * torch.exp(-model.second.k * t) - y2]]
    groups = [(torch.tensor([0, 1]), fits[0]), (torch.tensor([2, 3]), fits[1])]
    lm = LevenbergMarquardt(ResidualModule(model), lambda: None, groups=groups)
    for _ in range(200):
        loss = lm.step()
        if lm.converged:
            break
    assert lm.converged
    assert loss < 1e-18
    for decay, (a, k) in ((model.first, (2.5, 1.3)), (model.second, (1e3, 0.2))):
        assert math.isclose(decay.a.item(), a, rel_tol=1e-10)
        assert math.isclose(decay.k.item(), k, rel_tol=1e-10)
    copy = LevenbergMarquardt(ResidualModule(model), lambda: None, groups=groups)
    copy.load_state_dict(lm.state_dict())
    assert copy.dampings == lm.dampings and copy.converged


def test_lm_groups_resumed_with_a_converged_group_report_a_finite_loss():
    t = torch.linspace(0, 3, 40, dtype=torch.float64)
    model = TwoDecays()
    fits = [lambda: [model.first.a * torch.exp(-model.first.k * t) - 2.5 * torch.exp(-1.3 * t)],
            lambda: [model.second.a * torch.exp(-model.second.k * t) - 2.0 * torch.exp(-0.5 * t)]]
    groups = [(torch.tensor([0, 1]), fits[0]), (torch.tensor([2, 3]), fits[1])]
    lm = LevenbergMarquardt(ResidualModule(model), lambda: None, groups=groups)
    lm.load_state_dict({"dampings": [1e-3, 1e-3], "done": [True, False]})
    loss = lm.step()
    first = float(((model.first.a * torch.exp(-model.first.k * t) - 2.5 * torch.exp(-1.3 * t)) ** 2).sum())
    assert math.isfinite(loss) and loss >= first > 0
