import copy
import functools
import math

import pytest
import torch
from torch import nn

from pinn.problems import build_problem
from pinn.problems.base import Deferred, Pointwise, evaluated
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


class Curve(nn.Module):
    """A small network u(t) and a scalar c, for residual rows of one, then two equations per node."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).double()
        self.c = nn.Parameter(torch.tensor(0.7, dtype=torch.float64))

    def u(self, t):
        return self.net(t.unsqueeze(-1)).squeeze(-1)


def _lm_jacobian(model, fn):
    """Levenberg-Marquardt's own residual and Jacobian of fn's blocks at the model's parameters."""
    lm = LevenbergMarquardt(ResidualModule(model), fn)
    theta = lm._flat()
    with torch.no_grad():
        now, later = lm._split_at(theta, None, raw=True)
        values = [(b() if isinstance(b, Pointwise) else b).reshape(-1) for b in now] + [b().reshape(-1) for b in later]
    return torch.cat(values), lm._jacobian(lm._unflat, theta, None, now, [v.numel() for v in values[len(now):]], True)


def _dense_jacobian(model, fn):
    names = [n for n, p in model.named_parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def at(theta):
        params, i = {}, 0
        for name, p in zip(names, model.parameters()):
            params[f"model.{name}"] = theta[i:i + p.numel()].view_as(p)
            i += p.numel()
        return torch.func.functional_call(ResidualModule(model), params, (),
                                          {"residual_fn": lambda: torch.cat([b.reshape(-1) for b in evaluated(
                                              dict(enumerate(fn()))).values()])})

    return torch.func.jacrev(at)(flat)


def test_pointwise_blocks_have_the_dense_jacobian_node_by_node():
    """One and several rows per node, beside ordinary rows: the node-by-node Jacobian equals the
    reverse-mode Jacobian of all rows together, and the rows keep the problem's order."""
    model = Curve()
    t = torch.linspace(-1, 1, 9, dtype=torch.float64)
    w = torch.rand(9, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    def blocks():
        first = Pointwise(lambda t, w: w * (model.u(t) - model.c * t), t, w)
        pair = Pointwise(lambda t: torch.stack([model.u(t) ** 2, model.c * torch.sin(model.u(t))], -1), t)
        return [first, (model.u(t).sum() - 1.0).reshape(1), Pointwise.join([pair, first])]

    r, J = _lm_jacobian(model, blocks)
    dense = _dense_jacobian(model, blocks)
    assert J.shape == dense.shape == (9 + 1 + 18 + 9, sum(p.numel() for p in model.parameters()))
    torch.testing.assert_close(J, dense, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(r, torch.cat([b.reshape(-1) for b in evaluated(dict(enumerate(blocks()))).values()]))


@pytest.mark.parametrize("config", [{"name": "finite_well", "n_states": 2}, {"name": "box2d"}, {"name": "flame_fpp"}])
def test_problem_residuals_are_pointwise(config):
    """The problems' Pointwise residuals (finite_well's outer region starts from the inner one's
    value at the cut; flame_fpp's rows read the network at a fixed point too) against the dense
    Jacobian of the same rows."""
    problem = build_problem(config)
    torch.manual_seed(0)
    model = problem.build_model(8, 2, "tanh").double()
    batch = problem.collocation(16, torch.device("cpu"), torch.float64)
    stage = "solve"
    fn = lambda: list(problem.loss_terms(model, batch, stage).values())  # noqa: E731
    assert any(isinstance(b, Pointwise) for b in fn())
    _, J = _lm_jacobian(model, fn)
    torch.testing.assert_close(J, _dense_jacobian(model, fn), rtol=1e-10, atol=1e-12)


def test_lm_group_variables_give_the_columns_of_the_full_jacobian():
    """One group per state of finite_well n_states=2 (each state's networks plus its entry of the
    shared eigenvalue tensor): the group's parameters built from its own variables are the
    model's, and its Jacobian is the full Jacobian of its rows restricted to its columns."""
    problem = build_problem({"name": "finite_well", "n_states": 2})
    torch.manual_seed(0)
    model = problem.build_model(8, 2, "tanh").double()
    batch = problem.collocation(16, torch.device("cpu"), torch.float64)
    owners = problem.parts(model)
    labels = torch.cat([owners[name].reshape(-1) for name, _ in model.named_parameters()])
    fns = [functools.partial(lambda g: list(problem.loss_terms(model, batch, "solve", part=g).values()), g)
           for g in range(2)]
    groups = [(torch.nonzero(labels == g).squeeze(1), fns[g]) for g in range(2)]
    lm = LevenbergMarquardt(ResidualModule(model), lambda: None, groups=groups)
    for g, (cols, fn) in enumerate(groups):
        sub, at, place = lm._variables(g, cols)
        for name, value in at(sub).items():
            assert torch.equal(value, dict(lm.module.named_parameters())[name])
        assert torch.equal(place(sub), lm._flat())
        _, J = lm._linearized(at, sub, fn, by_block=False)
        _, full = lm._linearized(lm._unflat, lm._flat(), fn, by_block=False)
        assert J.shape == (full.shape[0], cols.numel())
        torch.testing.assert_close(J, full[:, cols], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("coupled", ["input", "nodes"])
def test_a_block_that_is_not_pointwise_is_refused(coupled):
    """An input that moves with the parameters, or rows that see the other nodes, would give a
    wrong Jacobian: the first step says so."""
    model = Curve()
    t = torch.linspace(-1, 1, 9, dtype=torch.float64)

    def blocks():
        if coupled == "input":
            return [Pointwise(lambda t, shift: model.u(t) - shift, t, model.c * t)]
        return [Pointwise(lambda t: model.u(t) - model.u(t).mean(), t)]

    with pytest.raises(RuntimeError, match="not pointwise"):
        LevenbergMarquardt(ResidualModule(model), blocks).step()


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


def test_a_settled_part_stops_stepping_while_the_others_go_on():
    """When the estimate does not end the phase but names parts that are within it (`settled_parts`,
    asked every EARLY_STOP_EVERY steps), those parts keep the parameters they had then."""
    from pinn.training.phase import EARLY_STOP_EVERY, Phase
    from pinn.training.trainer import Trainer

    t = torch.linspace(0, 3, 40, dtype=torch.float64)
    targets = (1e3 * torch.exp(-0.2 * t), 1e3 * torch.exp(-8.0 * t))  # neither fitted within 10 steps

    def train(steps: int, settled: set[int]) -> TwoDecays:
        model = TwoDecays()
        decays = (model.first, model.second)

        def loss_fn(stage, batch, part=None):
            fits = {f"fit{j}": d.a * torch.exp(-d.k * t) - y for j, (d, y) in enumerate(zip(decays, targets))}
            return fits if part is None else {f"fit{part}": fits[f"fit{part}"]}

        owners = {name: torch.full(p.shape, 0 if name.startswith("first") else 1) for name, p in model.named_parameters()}
        trainer = Trainer([Phase("solve", "solve", "lm", steps=steps, resample=False)], progress="none",
                          accurate_enough=lambda moves: False, settled_parts=lambda: settled)
        trainer.fit(model, loss_fn, lambda generator, n=None: {}, lambda: {}, parts=lambda: owners)
        return model

    settled_then, went_on = train(EARLY_STOP_EVERY, {0}), train(3 * EARLY_STOP_EVERY, {0})
    assert torch.equal(went_on.first.a, settled_then.first.a) and torch.equal(went_on.first.k, settled_then.first.k)
    assert abs(went_on.second.k.item() - 8.0) < abs(settled_then.second.k.item() - 8.0)
    unsettled = train(3 * EARLY_STOP_EVERY, set())
    assert abs(unsettled.first.k.item() - 0.2) < abs(settled_then.first.k.item() - 0.2)
    assert torch.equal(unsettled.second.k, went_on.second.k)


def test_recalled_evaluations_leave_lbfgs_bitwise_unchanged():
    """torch's L-BFGS stepped once per call (max_iter=1, strong Wolfe) on Rosenbrock's function:
    through `Recalling` every step after the first starts from the remembered end of the previous
    line search (and a search that comes back to a point it tried takes it from memory too), and
    the iterates are bitwise those of the plain closure."""
    from pinn.training.recall import Recalling

    STEPS = 100

    def minimize(recall: bool):
        x = nn.Parameter(torch.tensor([-1.2, 1.0, 0.5], dtype=torch.float64))
        opt = torch.optim.LBFGS([x], lr=1.0, max_iter=1, max_eval=25, history_size=10, tolerance_grad=0.0,
                                tolerance_change=0.0, line_search_fn="strong_wolfe")
        evaluations = []

        def closure():
            opt.zero_grad(set_to_none=True)
            loss = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2 + 10 * (x[2] - x[1]) ** 2
            loss.backward()
            evaluations.append(float(loss))
            return loss

        terms = {}
        step = Recalling(closure, [x], lambda: dict(terms), terms.update) if recall else closure
        for _ in range(STEPS):
            opt.step(step)
        return x.detach().clone(), len(evaluations), step

    plain, plain_evaluations, _ = minimize(False)
    recalled, evaluations, recalling = minimize(True)
    assert torch.equal(plain, recalled)
    assert recalling.recalled >= STEPS - 1 and evaluations == plain_evaluations - recalling.recalled
    assert torch.allclose(recalled, torch.ones(3, dtype=torch.float64), atol=1e-6)


def test_lm_starts_each_step_from_the_residual_its_last_step_accepted():
    """Each accepted trial's residual is the next step's r: one evaluation of the rows per step
    fewer, the iterates bitwise those of recomputing it; `forget` (new rows) makes the next step
    evaluate them."""
    t = torch.linspace(0, 3, 40, dtype=torch.float64)
    data = {"y": 2.5 * torch.exp(-1.3 * t)}

    def fit(remember: bool, steps: int = 5):
        model, calls = Decay(), []

        def rows(tt, y):
            calls.append(1)
            return model.a * torch.exp(-model.k * tt) - y

        def residual():
            return [Pointwise(rows, t, data["y"])]

        lm = LevenbergMarquardt(ResidualModule(model), residual)
        for _ in range(steps):
            lm.step()
            if not remember:
                lm.forget()
        return model, len(calls), lm

    recomputed, plain_calls, _ = fit(False)
    remembered, calls, lm = fit(True)
    assert torch.equal(recomputed.a, remembered.a) and torch.equal(recomputed.k, remembered.k)
    assert calls == plain_calls - 4  # the first step evaluates; each later one starts from memory

    data["y"] = 4.0 * torch.exp(-0.5 * t)  # the rows change under the optimizer
    lm.forget()
    for _ in range(100):
        loss = lm.step()
        if lm.converged:
            break
    assert loss < 1e-20 and math.isclose(remembered.k.item(), 0.5, rel_tol=1e-10)
