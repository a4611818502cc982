"""The PINN side without training: residual formula, hard constraints, jets, validation."""

import math

import pytest
import torch

from pinn.errors import ConfigError
from pinn.numerics.jets import Jet
from pinn.problems import PROBLEMS, build_problem
from pinn.problems.wells.eigenproblem import schrodinger_residual
from pinn.reference import infinite_well, symmetric_step_well




def fundamental(x: Jet, z: float, odd: bool) -> Jet:
    """cos/sin (z > 0) or cosh/sinh (z < 0) of sqrt|z| x as a jet."""
    k = math.sqrt(abs(z))
    y = x * k
    if z > 0:
        return y.sin() if odd else y.apply(torch.cos(y.value), -torch.sin(y.value), -torch.cos(y.value))
    e, ei = torch.exp(y.value), torch.exp(-y.value)
    ch, sh = 0.5 * (e + ei), 0.5 * (e - ei)
    return y.apply(sh, ch, sh) if odd else y.apply(ch, sh, ch)


@pytest.mark.parametrize("name,params", [("finite_well", {}), ("finite_barrier", {}),
                                         ("finite_well", {"V0": 37.0, "half_width": 0.7, "L": 2.5})])
def test_exact_solution_makes_the_residual_vanish(name, params):
    """Plug the exact eigenfunction (built in torch from the exact E) into the problem's residual."""
    problem = build_problem({"name": name, **params, "n_states": 2})
    spec = problem.reference_spec()
    exact = symmetric_step_well(spec["V_in"], spec["V_out"], spec["a"], spec["L"], 2)
    for n, E in enumerate(exact.eigenvalues):
        odd = n % 2 == 1
        inner = torch.linspace(0.0, spec["a"] * 0.999, 200, dtype=torch.float64)
        outer = torch.linspace(spec["a"] * 1.001, spec["L"], 200, dtype=torch.float64)
        psi_in = fundamental(Jet.variable(inner), E - spec["V_in"], odd)
        r_in = schrodinger_residual(psi_in, problem.potential(inner), E)
        # outside: the solution that vanishes at the wall, S(z_out, L - x)
        psi_out = fundamental(spec["L"] - Jet.variable(outer), E - spec["V_out"], odd=True)
        r_out = schrodinger_residual(psi_out, problem.potential(outer), E)
        assert torch.max(torch.abs(r_in)) < 1e-9 * max(1, abs(E)) * torch.max(torch.abs(psi_in.value))
        assert torch.max(torch.abs(r_out)) < 1e-9 * max(1, abs(E)) * torch.max(torch.abs(psi_out.value))
        # and a wrong energy does not
        wrong = schrodinger_residual(psi_in, problem.potential(inner), E * 1.01)
        assert torch.max(torch.abs(wrong)) > 1e-3 * torch.max(torch.abs(psi_in.value))


def test_infinite_well_residual_of_exact_mode():
    problem = build_problem({"name": "infinite_well", "L": 2.0})
    E = infinite_well(2.0, 1).eigenvalues[0]
    x = torch.linspace(0, 2, 101, dtype=torch.float64)
    psi = (Jet.variable(x) * (math.pi / 2)).sin()
    assert torch.max(torch.abs(schrodinger_residual(psi, problem.potential(x), E))) < 1e-12


CASES = [("infinite_well", {"L": 1.7}), ("finite_well", {}), ("finite_barrier", {}),
         ("finite_well", {"V0": 400.0, "half_width": 0.5}), ("finite_barrier", {"V0": -30.0, "L": 2.0})]


@pytest.mark.parametrize("name,params", CASES)
def test_hard_constraints_hold_for_an_untrained_network(name, params):
    torch.manual_seed(1)
    problem = build_problem({"name": name, **params, "n_states": 3})
    model = problem.build_model(8, 2, "tanh").double()
    a, b = problem.domain
    walls = torch.tensor([a, b], dtype=torch.float64)
    psi, _ = problem.wavefunctions(model, walls)
    assert torch.all(psi == 0.0)
    # parity: state n has parity (-1)^n about the centre
    t = torch.linspace(0.01, (b - a) / 2 - 0.01, 50, dtype=torch.float64)
    c = problem.center
    left, _ = problem.wavefunctions(model, c - t)
    right, _ = problem.wavefunctions(model, c + t)
    for n in range(3):
        assert torch.allclose(left[n], (-1) ** n * right[n], atol=1e-14, rtol=1e-12)
    # psi and psi' are continuous across every cut between regions
    for k in range(1, len(problem.regions)):
        cut = torch.tensor([problem.regions[k][0]], dtype=torch.float64)
        for n in range(3):
            lhs, rhs = problem.psi(model, n, k - 1, cut), problem.psi(model, n, k, cut)
            assert torch.allclose(lhs.value, rhs.value, atol=1e-13)
            assert torch.allclose(lhs.d1, rhs.d1, atol=1e-11)


def test_jets_agree_with_autograd():
    torch.manual_seed(0)
    problem = build_problem({"name": "finite_barrier"})
    model = problem.build_model(8, 2, "tanh").double()
    for region, (lo, hi) in enumerate(problem.regions):
        t = torch.linspace(lo + 1e-3, hi - 1e-3, 17, dtype=torch.float64, requires_grad=True)
        jet = problem.psi(model, 0, region, t)
        d1 = torch.autograd.grad(jet.value.sum(), t, create_graph=True)[0]
        d2 = torch.autograd.grad(d1.sum(), t)[0]
        assert torch.allclose(jet.d1, d1, atol=1e-12)
        assert torch.allclose(jet.d2, d2, atol=1e-10)


@pytest.mark.parametrize("name,params", [("finite_barrier", {}), ("harmonic", {"omega": 10.5, "L": 4.6})])
def test_lower_order_jets_carry_the_same_derivatives(name, params):
    """A jet of order 1 or 0 (no psi'', no psi') gives exactly the value and slope of the full
    jet: every region (each starts from its neighbour at the cut) and the smooth envelope."""
    torch.manual_seed(0)
    problem = build_problem({"name": name, "n_states": 2, **params})
    model = problem.build_model(8, 2, "tanh").double()
    for state in range(2):
        for region, (lo, hi) in enumerate(problem.regions):
            t = torch.linspace(lo, hi, 13, dtype=torch.float64)
            full, first, plain = (problem.psi(model, state, region, t, order) for order in (2, 1, 0))
            assert (first.order, plain.order) == (1, 0) and first.d2 is None and plain.d1 is None
            assert torch.equal(first.value, full.value) and torch.equal(plain.value, full.value)
            assert torch.equal(first.d1, full.d1)
    mixed = Jet.variable(torch.linspace(0, 1, 5, dtype=torch.float64)) * Jet.variable(torch.ones(5), order=1)
    assert mixed.order == 1


def test_eigenvalue_is_a_parameter_of_the_model():
    problem = build_problem({"name": "finite_well", "n_states": 2})
    model = problem.build_model(8, 2, "tanh")
    names = [n for n, _ in model.named_parameters()]
    assert "energy_raw" in names
    assert "energy_raw" in model.state_dict()
    fixed = build_problem({"name": "infinite_well", "fixed_energy": True}).build_model(8, 2, "tanh")
    assert not fixed.energy_raw.requires_grad
    assert float(fixed.energies[0]) == pytest.approx(math.pi**2, rel=1e-15)


@pytest.mark.parametrize("params,key", [
    ({"half_width": -1.0}, "half_width"),
    ({"L": 0.5}, "L"),
    ({"V0": float("nan")}, "V0"),
    ({"V0": float("inf")}, "V0"),
    ({"V0": "deep"}, "V0"),
    ({"n_states": 0}, "n_states"),
    ({"n_states": 1.5}, "n_states"),
    ({"depth": 3.0}, "depth"),
])
def test_bad_parameters_name_the_key(params, key):
    with pytest.raises(ConfigError) as err:
        build_problem({"name": "finite_well", **params})
    assert key in str(err.value)
    assert "\n" not in str(err.value)


def test_every_problem_is_registered_with_its_name():
    assert set(PROBLEMS) >= {"infinite_well", "finite_well", "finite_barrier"}
    for name, cls in PROBLEMS.items():
        assert cls.name == name


def test_second_jvp_gives_a_function_with_its_first_two_derivatives():
    from pinn.numerics.jets import second_jvp

    x = torch.linspace(-1.0, 2.0, 7, dtype=torch.float64)
    value, slope, curvature = second_jvp(lambda u: torch.stack([u**2 * torch.sin(3 * u), torch.exp(u)], -1), x)
    s, c = torch.sin(3 * x), torch.cos(3 * x)
    torch.testing.assert_close(value[:, 0], x**2 * s, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(slope[:, 0], 2 * x * s + 3 * x**2 * c, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(curvature[:, 0], 2 * s + 12 * x * c - 9 * x**2 * s, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(curvature[:, 1], torch.exp(x), rtol=1e-14, atol=0.0)
