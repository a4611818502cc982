"""Training to a tolerance: refinement rounds after the schedule, decided by an estimate alone."""

import time

import pytest
import torch
from torch import nn

from pinn.errors import ConfigError
from pinn.training.refine import Refinement, RefineSettings
from pinn.training.trainer import Phase, Trainer


class Fit(nn.Module):
    """Least squares of a*exp(-k t) against 2.5 exp(-1.3 t) on the collocation points."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(1.0, dtype=torch.float64))
        self.k = nn.Parameter(torch.tensor(0.1, dtype=torch.float64))


def train(settings: RefineSettings, estimates, tolerance=1e-6, steps=5, seen=None):
    """Run a 5-step LM schedule with `settings`; the estimate returns the next of `estimates` per
    call. Returns (TrainResult, Refinement, the collocation sizes the phases asked for)."""
    model = Fit()
    sizes = []

    def sample(generator, n=8):
        sizes.append(n)
        t = torch.linspace(0.0, 3.0, n, dtype=torch.float64)
        return {"t": t}

    def loss(stage, batch):
        t = batch["t"]
        return {"fit": model.a * torch.exp(-model.k * t) - 2.5 * torch.exp(-1.3 * t)}

    values = iter(estimates)
    phases = [Phase("solve", "solve", "lm", steps, patience=1000)]
    refinement = Refinement(settings, phases, 8, lambda: {"E0": next(values)}, tolerance)
    trainer = Trainer(phases, progress="none", extend=refinement, max_seconds=settings.max_seconds)
    result = trainer.fit(model, loss, sample, lambda: {"a": model.a.detach()})
    return result, refinement, sizes


def test_rounds_run_until_the_estimate_meets_the_tolerance():
    result, refinement, sizes = train(RefineSettings(rounds=3, growth=2), [1e-3, 1e-5, 1e-7, 1e-9])
    assert [row["action"] for row in refinement.log] == ["refine", "refine", "met"]
    assert [p.name for p in result.added_phases] == ["solve_refine1", "solve_refine2"]
    assert [p.collocation_points for p in result.added_phases] == [16, 32]
    assert {16, 32} <= set(sizes)
    assert list(result.phase_steps) == ["solve", "solve_refine1", "solve_refine2"]  # each until LM converged
    assert result.final["phase"] == "solve_refine2"


def test_no_round_when_the_schedule_already_meets_it():
    result, refinement, _ = train(RefineSettings(), [1e-8])
    assert [row["action"] for row in refinement.log] == ["met"]
    assert result.added_phases == [] and list(result.phase_steps) == ["solve"]


def test_the_rounds_are_bounded():
    result, refinement, _ = train(RefineSettings(rounds=1), [1e-3, 1e-4])
    assert [row["action"] for row in refinement.log] == ["refine", "rounds_spent"]
    assert refinement.log[-1]["estimate"] == 1e-4
    assert len(result.added_phases) == 1


def test_a_spent_time_budget_stops_the_phase_and_the_rounds(monkeypatch):
    clock = iter(range(0, 10**6, 10))  # every reading of the clock 10 s later
    monkeypatch.setattr(time, "perf_counter", lambda: float(next(clock)))
    result, refinement, _ = train(RefineSettings(rounds=3, max_seconds=25.0), [1e-3] * 4, steps=50)
    assert result.out_of_time
    assert result.phase_steps["solve"] < 50 and not result.added_phases
    assert result.final["stopped"] is False


@pytest.mark.parametrize("cfg, named", [
    ({"rounds": -1}, "trainer.refine.rounds"),
    ({"growth": 0}, "trainer.refine.growth"),
    ({"max_seconds": float("nan")}, "trainer.refine.max_seconds"),
    ({"phase": "polish"}, "trainer.refine.phase"),
    ({"round": 2}, "trainer.refine.round"),
    ("three", "trainer.refine"),
])
def test_bad_refine_settings_are_one_line(cfg, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        RefineSettings.from_config(cfg, [Phase("solve", "solve", "lm", 5)])


def test_a_phase_ends_early_once_the_estimate_is_well_within_the_tolerance():
    """Asked every EARLY_STOP_EVERY steps: 1e-6 is not within 1% of the tolerance 1e-6, 5e-9 is;
    the phase ends there as converged, and the round that follows finds the tolerance met."""
    from pinn.training.phase import EARLY_STOP_EVERY

    model = Fit()
    asked = []
    values = iter([1e-6, 5e-9, 5e-9])

    def estimate():
        asked.append(len(asked))
        return {"E0": next(values)}

    def loss(stage, batch):
        t = batch["t"]
        return {"fit": model.a * torch.exp(-model.k * t) - 2.5 * torch.exp(-1.3 * t)}

    phases = [Phase("solve", "solve", "lm", 100, patience=1000, damping=1e6)]
    refinement = Refinement(RefineSettings(), phases, 8, estimate, 1e-6)
    trainer = Trainer(phases, progress="none", extend=refinement, accurate_enough=refinement.well_within)
    result = trainer.fit(model, loss, lambda generator, n=8: {"t": torch.linspace(0.0, 3.0, n, dtype=torch.float64)},
                         lambda: {"a": model.a.detach()})
    assert result.phase_steps == {"solve": 2 * EARLY_STOP_EVERY}
    assert result.final["stopped"] is True and len(asked) == 3
    assert [row["action"] for row in refinement.log] == ["met"]


@pytest.mark.parametrize("until_placed, min_steps, answers, steps", [
    (True, None, [False, False, True], 300),   # asked every PLACED_EVERY steps, ends at the first yes
    (True, 250, [True] * 9, 300),              # first asked after its least steps
    (True, None, [None] * 9, 450),             # a problem that cannot tell: all the steps
    (False, None, [True] * 9, 450),            # a phase that does not ask
])
def test_a_warmup_ends_once_its_states_are_placed(until_placed, min_steps, answers, steps):
    from pinn.training.phase import PLACED_EVERY

    model = Fit()
    asked = iter(answers)

    def loss(stage, batch):
        t = batch["t"]
        return {"fit": model.a * torch.exp(-model.k * t) - 2.5 * torch.exp(-1.3 * t)}

    phases = [Phase("warmup", "warmup", "adam", 450, lr=1e-2, until_placed=until_placed, min_steps=min_steps)]
    trainer = Trainer(phases, progress="none", placed=lambda: next(asked))
    result = trainer.fit(model, loss, lambda generator, n=8: {"t": torch.linspace(0.0, 3.0, n, dtype=torch.float64)},
                         lambda: {"a": model.a.detach()})
    assert PLACED_EVERY == 100 and result.phase_steps == {"warmup": steps}


def run_checked(estimates, tolerance=1e-6, steps=100, settle_scales=None):
    """An LM phase of `steps` steps that never converges by itself (fresh noisy data every step)
    and whose estimate, asked every EARLY_STOP_EVERY steps, returns the next of `estimates` (then
    the last again); no refinement round; the observable `a` judged by `settle_scales`. Returns
    the steps it ran."""
    model = Fit()
    values = iter(estimates)
    last = []

    def estimate():
        last.append(next(values, last[-1] if last else None))
        return {"E0": last[-1]}

    def sample(generator, n=8):
        t = torch.rand(n, generator=generator, dtype=torch.float64) * 3.0
        return {"t": t, "noise": 0.01 * torch.randn(n, generator=generator, dtype=torch.float64)}

    def loss(stage, batch):
        t = batch["t"]
        return {"fit": model.a * torch.exp(-model.k * t) - 2.5 * torch.exp(-1.3 * t) - batch["noise"]}

    phases = [Phase("solve", "solve", "lm", steps, patience=1000)]
    refinement = Refinement(RefineSettings(rounds=0), phases, 8, estimate, tolerance, settle_scales=settle_scales)
    trainer = Trainer(phases, progress="none", extend=refinement, accurate_enough=refinement.well_within)
    result = trainer.fit(model, loss, sample, lambda: {"a": model.a.detach()})
    return result.phase_steps["solve"]


def test_a_phase_ends_once_the_estimate_is_within_the_tolerance_and_stalled():
    """Within the tolerance 1e-6 but never within 1% of it: the phase goes on while the best
    estimate improves by more than STALL_GAIN over STALL_CHECKS checks, and ends at the first check
    where it does not. Falling by 1.06 a check for seven checks, then flat: at check 8 the best of
    the last five (the seventh) is 1.06^4 = 1.26 below the best before them (the third), at check 9
    only 1.06^3 = 1.19 below (the fourth), and the phase ends."""
    from pinn.training.phase import EARLY_STOP_EVERY
    from pinn.training.refine import STALL_CHECKS, STALL_GAIN

    assert STALL_CHECKS == 5 and 1.06**3 < STALL_GAIN < 1.06**4
    falling = [5e-7 / 1.06**k for k in range(7)]
    assert run_checked(falling + [falling[-1]] * 5) == 9 * EARLY_STOP_EVERY


def test_a_steadily_falling_noisy_or_too_large_estimate_does_not_end_the_phase():
    """A gain of 1.05 per check (1.28 over five) keeps the phase going to its last step; so does
    an estimate that jumps up and down by 10x while its best keeps improving, and a stalled
    estimate above the tolerance."""
    assert run_checked([5e-7 / 1.05**k for k in range(12)]) == 100
    noisy = [5e-7 / 1.5**k * (10 if k % 2 else 1) for k in range(12)]
    assert run_checked(noisy) == 100
    assert run_checked([2e-6] * 12) == 100


def test_a_phase_does_not_end_while_an_inferred_value_still_moves():
    """The estimate well within the tolerance from the first check. `a` goes from 1 to about 2.5
    in the first steps, then, refitted to fresh noisy data every step, moves by about 0.1 over ten.
    A phase ends once ENDING_STD (0.1) of the standard error covers that: against 20 at the first
    check; against 2 only at the second (the first window holds the approach); against 1e-6
    never, and the phase runs all its steps. The standard error is asked at the first check and
    again before the phase ends."""
    from pinn.training.phase import EARLY_STOP_EVERY, ENDING_STD

    asked = []

    def scales(value):
        return lambda: asked.append(value) or {"a": value}

    assert ENDING_STD == 0.1
    assert run_checked([1e-9], settle_scales=scales(20.0)) == EARLY_STOP_EVERY
    assert run_checked([1e-9], settle_scales=scales(2.0)) == 2 * EARLY_STOP_EVERY
    assert run_checked([1e-9], settle_scales=scales(1e-6)) == 100
    assert asked == [20.0, 2.0, 2.0, 1e-6]


def test_a_state_that_skipped_a_level_is_restarted_once_then_the_last_phase_runs_again():
    """The restart is asked for the states an independent count names; it runs once per run even
    if the count still names them, and the refinement goes on as before."""
    model = Fit()
    restarts = []

    def loss(stage, batch):
        t = batch["t"]
        return {"fit": model.a * torch.exp(-model.k * t) - 2.5 * torch.exp(-1.3 * t)}

    phases = [Phase("solve", "solve", "lm", 5, patience=1000)]
    estimates = iter([1e-3, 1e-3, 1e-7])
    refinement = Refinement(RefineSettings(rounds=1), phases, 8, lambda: {"E0": next(estimates, 1e-7)}, 1e-6,
                            misplaced=lambda: [1], restart=lambda states: restarts.append(states) or [{"state": 1}])
    trainer = Trainer(phases, progress="none", extend=refinement)
    result = trainer.fit(model, loss, lambda generator, n=8: {"t": torch.linspace(0.0, 3.0, n, dtype=torch.float64)},
                         lambda: {"a": model.a.detach()})
    assert restarts == [[1]]
    assert [row["action"] for row in refinement.log] == ["restart", "refine", "met"]
    assert refinement.log[0]["states"] == [1]
    assert [p.name for p in result.added_phases] == ["solve_restart", "solve_refine1"]


def test_restart_refits_a_state_to_its_level_from_any_network():
    """harmonic omega = 2, state 2 of an untrained network refitted to the Galerkin estimate: its
    Rayleigh quotient lands on the exact level 10 (the walls at +-5 move it by ~1e-20)."""
    from pinn.problems import build_problem
    from pinn.training.restart import restart_states

    torch.manual_seed(0)
    problem = build_problem({"name": "harmonic", "omega": 2.0, "n_states": 3})
    model = problem.build_model(16, 2, "tanh").double()
    record = restart_states(problem, model, [2])
    assert record[0]["state"] == 2 and record[0]["fit_misfit"] <= 1e-3
    rayleigh = problem.estimator(model).rayleigh[2]
    assert abs(rayleigh - 10.0) < 1e-4 * 10.0
    assert abs(float(model.energies[2]) - 10.0) < 1e-10 * 10.0
    assert 2 not in problem.misplaced_states(model)
