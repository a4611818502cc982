"""The torch gas properties against Cantera's own, on random states of the shipped mechanism."""

import builtins

import numpy as np
import pytest
import torch

ct = pytest.importorskip("cantera", reason="the flames extra is not installed")

from pinn.chemistry.mechanism import load_mechanism  # noqa: E402
from pinn.chemistry.properties import GasProperties  # noqa: E402
from pinn.errors import ConfigError  # noqa: E402

RTOL = 1e-10


@pytest.fixture(scope="module")
def states():
    """Random T (300-2800 K, both NASA ranges), p (0.2-20 atm), Y (every species present)."""
    mech = load_mechanism()
    gas = mech.solution()
    rng = np.random.default_rng(7)
    rows = []
    for _ in range(40):
        T, p = rng.uniform(300.0, 2800.0), ct.one_atm * 10 ** rng.uniform(-0.7, 1.3)
        Y = rng.dirichlet(np.ones(gas.n_species) * 0.7)
        gas.TPY = T, p, Y
        rows.append(dict(T=T, p=p, Y=gas.Y.copy(), X=gas.X.copy(), cp=gas.cp_mass, h=gas.enthalpy_mass,
                         h_k=gas.partial_molar_enthalpies.copy(), cp_k=gas.partial_molar_cp.copy(),
                         rho=gas.density, mu=gas.viscosity, lam=gas.thermal_conductivity,
                         D=gas.mix_diff_coeffs.copy(), wdot=gas.net_production_rates.copy()))
    props = GasProperties(mech)
    as_t = lambda key: torch.tensor(np.array([r[key] for r in rows]), dtype=torch.float64)  # noqa: E731
    return props, as_t, rows


def close(ours, theirs, rtol=RTOL):
    ours = ours.detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=0)


def test_thermodynamics_match_cantera(states):
    props, as_t, _ = states
    T, Y = as_t("T"), as_t("Y")
    R = ct.gas_constant
    close(props.cp_mass(T, Y), as_t("cp").numpy())
    close(props.enthalpy_mass(T, Y), as_t("h").numpy())
    close(props.cp_species_R(T) * R, as_t("cp_k").numpy())
    close(props.enthalpy_species_RT(T) * R * T.unsqueeze(-1), as_t("h_k").numpy())
    close(props.density(T, as_t("p"), Y), as_t("rho").numpy())
    close(props.mole_fractions(Y), as_t("X").numpy())


def test_transport_matches_cantera(states):
    props, as_t, _ = states
    T, p, X = as_t("T"), as_t("p"), as_t("X")
    close(props.viscosity(T, X), as_t("mu").numpy())
    close(props.conductivity(T, X), as_t("lam").numpy())
    close(props.mix_diff_coeffs(T, p, X), as_t("D").numpy())


def test_net_production_rates_match_cantera(states):
    props, as_t, _ = states
    close(props.net_production_rates(as_t("T"), as_t("p"), as_t("Y")), as_t("wdot").numpy())


def test_a_pure_species_state_matches_cantera():
    """Mole fractions exactly zero: the transport rules floor them as Cantera does."""
    mech = load_mechanism()
    gas, props = mech.solution(), GasProperties(mech)
    gas.TPY = 1500.0, ct.one_atm, "N2:1"
    T, X = torch.tensor([1500.0], dtype=torch.float64), torch.tensor(gas.X[None, :], dtype=torch.float64)
    close(props.viscosity(T, X), [gas.viscosity])
    close(props.conductivity(T, X), [gas.thermal_conductivity])
    close(props.mix_diff_coeffs(T, ct.one_atm, X), [gas.mix_diff_coeffs])


def test_gradients_stay_finite_where_a_reactant_is_used_up():
    """Burnt gas without O2 (order 0.5) or without CH4: rates and their gradients are finite, and
    the rate vanishes as Cantera's does."""
    mech = load_mechanism()
    gas, props = mech.solution(), GasProperties(mech)
    for burnt in ([0.0, 0.05, 0.14, 0.11, 0.70], [0.02, 0.0, 0.14, 0.11, 0.73]):
        Y = torch.tensor([burnt], dtype=torch.float64, requires_grad=True)
        T = torch.tensor([2000.0], dtype=torch.float64, requires_grad=True)
        rates = props.net_production_rates(T, ct.one_atm, Y)
        rates.sum().backward()
        gas.TPY = 2000.0, ct.one_atm, burnt
        np.testing.assert_array_equal(rates.detach().numpy()[0], gas.net_production_rates)
        assert torch.isfinite(Y.grad).all() and torch.isfinite(T.grad).all()


def test_cantera_missing_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_cantera(name, *args, **kwargs):
        if name == "cantera":
            raise ImportError("No module named 'cantera'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cantera)
    with pytest.raises(ConfigError, match=r'pip install -e "\.\[flames\]"'):
        load_mechanism()


def test_unknown_mechanism_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="neither shipped"):
        load_mechanism(str(tmp_path / "nope.yaml"))


def _cantera_residuals(flame, mass_flux_factor=1.0):
    """Our equations on Cantera's converged FreeFlame: derivatives by second-order differences on
    its grid; residuals relative to the largest source term of each equation."""
    from pinn.chemistry import flame_equations as F

    props = GasProperties(load_mechanism())
    x = flame.x
    t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    grad = lambda a: np.gradient(a, x, axis=0)  # noqa: E731
    T, Y = t(flame.T), t(flame.Y.T.copy())
    dT, dY = t(grad(flame.T)), t(grad(flame.Y.T))
    p = 101325.0
    j = F.diffusive_fluxes(props, T, p, Y, dY)
    q = F.heat_flux(props, T, Y, dT)
    m = flame.inlet_density * flame.s_L * mass_flux_factor
    omega = props.net_production_rates(T, p, Y)
    species, energy = F.residuals(props, m, T, dT, Y, dY, j, t(grad(j.numpy())), t(grad(q.numpy())), omega)
    source = (props.W * omega).abs().max()  # N2 has none of its own
    inner = slice(2, -2)  # one-sided differences at the ends
    return (species[inner].abs().max(0).values / source).numpy(), float(energy[inner].abs().max() / F.heat_release(props, p, T, Y).abs().max())


def test_our_equations_vanish_on_cantera_free_flame():
    """The PINN's equations are Cantera's: on its converged solution (3000+ points) they vanish to
    the accuracy of the differencing, and a 2% wrong flame speed shows up clearly."""
    from pinn.reference.flame_ch4 import free_flame

    flame = free_flame(0.8)
    assert flame.x.size > 3000
    species, energy = _cantera_residuals(flame)
    assert species.max() < 5e-3 and energy < 5e-3, (species, energy)
    wrong_species, wrong_energy = _cantera_residuals(flame, mass_flux_factor=1.02)
    assert wrong_species.max() > 5 * species.max() and wrong_energy > 5 * energy


def test_free_flame_reference_converges_with_refinement():
    """s_L moves less and less as Cantera's grid doubles, and lands where Cantera's own example
    with this mechanism does (about 0.28 m/s at phi = 0.8); a mixture without fuel is an error."""
    from pinn.reference.flame_ch4 import free_flame

    flame = free_flame(0.8)
    speeds = [row["value"] for row in flame.refinement.rows]
    changes = np.abs(np.diff(speeds))
    assert changes[-1] < 0.25 * changes[0]
    assert flame.error_estimate < 3e-4 * flame.s_L_extrapolated  # well inside the 1e-3 PINN target
    assert abs(flame.s_L - flame.s_L_extrapolated) < 1e-3 * flame.s_L
    assert abs(flame.s_L_extrapolated - 0.28) < 0.005
    with pytest.raises(ConfigError, match="phi=0.0"):
        free_flame(0.0)


@pytest.mark.xdist_group("counterflow")  # with the other tests of this flame (test_flame_counterflow.py)
def test_counterflow_equations_vanish_on_cantera_solution():
    """Continuity, radial momentum (with Cantera's Lambda), species and energy with our properties
    on Cantera's converged premixed counterflow flame; a 2% wrong Lambda shows up clearly; and the
    reference's Lambda converges under refinement."""
    from pinn.chemistry import flame_equations as F
    from pinn.config import compose_config, validate
    from pinn.problems import build_problem
    from pinn.run import plain_config

    config = plain_config(compose_config(["problem=flame_counterflow", "problem.phi=0.8"]))
    # pinn.reference.flame_ch4.counterflow(0.8) through the session's cache, shared with the runs
    flame = build_problem(config["problem"]).reference(validate(config).reference_cache)
    rows = flame.refinement.rows
    assert abs(rows[-1]["value"] - rows[-2]["value"]) < 0.25 * abs(rows[2]["value"] - rows[1]["value"])
    assert flame.error_estimate < 1e-3 * abs(flame.Lambda_extrapolated)
    props = GasProperties(load_mechanism())
    x, p = flame.x, 101325.0
    t = lambda a: torch.tensor(np.asarray(a), dtype=torch.float64)  # noqa: E731
    grad = lambda a: np.gradient(np.asarray(a), x, axis=0)  # noqa: E731
    T, Y, u, V = t(flame.T), t(flame.Y.T.copy()), t(flame.u), t(flame.V)
    rho = props.density(T, p, Y)
    mu = props.viscosity(T, props.mole_fractions(Y))
    dV = t(grad(V.numpy()))
    inner = slice(2, -2)

    def momentum(Lambda):
        mass, radial = F.counterflow_residuals(rho, rho * u, V, t(grad((rho * u).numpy())), dV,
                                               t(grad((mu * dV).numpy())), Lambda)
        return float(mass[inner].abs().max() / (2 * rho * V).abs().max()), float(radial[inner].abs().max() / abs(Lambda))

    mass, radial = momentum(flame.Lambda)
    assert mass < 5e-3 and radial < 5e-3, (mass, radial)
    assert momentum(1.02 * flame.Lambda)[1] > 3 * radial
    dT, dY = t(grad(flame.T)), t(grad(flame.Y.T))
    j = F.diffusive_fluxes(props, T, p, Y, dY)
    q = F.heat_flux(props, T, Y, dT)
    omega = props.net_production_rates(T, p, Y)
    species, energy = F.residuals(props, rho * u, T, dT, Y, dY, j, t(grad(j.numpy())), t(grad(q.numpy())), omega)
    source = (props.W * omega).abs().max()
    assert float(species[inner].abs().max() / source) < 5e-3
    assert float(energy[inner].abs().max() / F.heat_release(props, p, T, Y).abs().max()) < 5e-3


@pytest.mark.parametrize("phi", [0.6, 1.0, 1.4])
def test_burnt_state_is_the_adiabatic_complete_combustion_state(phi):
    """Cantera at (h_in, p, Y_b) has our T_b; and it is Cantera's HP equilibrium where that is
    complete (lean and rich: the excess reactant stays; at phi = 1 equilibrium keeps traces)."""
    from pinn.chemistry.properties import burnt_state
    from pinn.reference.flame_ch4 import inlet_gas

    gas = inlet_gas(phi, 300.0, ct.one_atm)
    props = GasProperties(load_mechanism())
    T_b, Y_b = burnt_state(props, 300.0, torch.tensor(gas.Y))
    assert Y_b.min() >= 0 and abs(float(Y_b.sum()) - 1) < 1e-14
    assert min(float(Y_b[0]), float(Y_b[1])) == 0.0  # CH4 or O2 used up
    h_in = gas.enthalpy_mass
    gas.HPY = h_in, ct.one_atm, Y_b.numpy()
    assert abs(gas.T / float(T_b) - 1) < 1e-10  # Cantera's own T(h) solve tolerance
    gas = inlet_gas(phi, 300.0, ct.one_atm)
    gas.equilibrate("HP")
    assert abs(gas.T / float(T_b) - 1) < (1e-5 if phi == 1.0 else 1e-8)
