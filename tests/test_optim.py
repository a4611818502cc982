import copy
import functools
import math

import torch
from torch import nn

from pinn.problems.base import Deferred
from pinn.numerics.uncertainty import ResidualModule
from pinn.training.optimizers import LevenbergMarquardt


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


def test_lm_deferred_blocks_take_the_same_steps_as_immediate_ones():
    """A deferred block is computed only when its own Jacobian is taken, but enters the step as
    any other rows: with and without deferring, with and without groups, the iterates agree to
    rounding. Deferring never evaluates the rows more often (ungrouped, where each block's
    Jacobian is taken alone, less often)."""
    t = torch.linspace(0, 3, 40, dtype=torch.float64)
    y = 2.5 * torch.exp(-1.3 * t)
    calls = []

    def rows(model, deferred):
        fit = model.a * torch.exp(-model.k * t[:30]) - y[:30]

        def tail():
            calls.append(1)
            return model.a * torch.exp(-model.k * t[30:]) - y[30:]

        return [fit, Deferred(tail) if deferred else tail()]

    for grouped in (False, True):
        paths, counts = [], []
        for deferred in (False, True):
            model = Decay()
            fn = functools.partial(rows, model, deferred)
            groups = [(torch.tensor([0, 1]), fn)] if grouped else None
            lm = LevenbergMarquardt(ResidualModule(model), fn if not grouped else (lambda: None), groups=groups)
            calls.clear()
            paths.append([(lm.step(), model.a.item(), model.k.item()) for _ in range(6)])
            counts.append(len(calls))
        assert 0 < counts[1] <= counts[0] and (grouped or counts[1] < counts[0])
        torch.testing.assert_close(torch.tensor(paths[1]), torch.tensor(paths[0]), rtol=1e-12, atol=1e-14)
    assert math.isclose(model.k.item(), 1.3, rel_tol=1e-3)


def test_partwise_lbfgs_minimizes_each_part_and_round_trips_its_state():
    """Two independent fits of very different scale, one L-BFGS per part: both reach their
    minimizers (each part's line search is its own), and a copy restored from state_dict takes
    the same next step."""
    from pinn.training.optimizers import PartwiseLBFGS

    t = torch.linspace(0, 3, 40, dtype=torch.float64)
    targets = [2.5 * torch.exp(-1.3 * t), 0.02 * torch.exp(-0.2 * t)]

    def make():
        model = TwoDecays()
        parts = [list(model.first.parameters()), list(model.second.parameters())]
        opt = PartwiseLBFGS(parts, lr=1.0, max_iter=1, history_size=20, tolerance_grad=0.0,
                            tolerance_change=0.0, line_search_fn="strong_wolfe")
        fits = [model.first, model.second]

        def closure(k):
            model.zero_grad(set_to_none=True)
            loss = ((fits[k].a * torch.exp(-fits[k].k * t) - targets[k]) ** 2).sum()
            loss.backward()
            return loss

        return model, opt, closure

    model, opt, closure = make()
    for _ in range(200):
        opt.step(closure)
    assert math.isclose(model.first.k.item(), 1.3, rel_tol=1e-8)
    assert math.isclose(model.second.k.item(), 0.2, rel_tol=1e-8)

    model, opt, closure = make()
    for _ in range(5):
        opt.step(closure)
    twin, twin_opt, twin_closure = make()
    twin.load_state_dict(model.state_dict())
    twin_opt.load_state_dict(copy.deepcopy(opt.state_dict()))  # as a checkpoint would: no shared lists
    opt.step(closure)
    twin_opt.step(twin_closure)
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.equal(p, q)
