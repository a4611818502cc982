"""The envelope of stiff smooth potentials: its jets are the derivatives of its value, it follows
the WKB decay, and only states that decay by more than LEAST_DECAY e-folds get one."""

import math

import numpy as np
import pytest
import torch

from pinn.numerics.jets import Jet
from pinn.problems import build_problem
from pinn.problems.wells.envelope import LEAST_DECAY, clenshaw, envelope_jet, fit_envelope, wkb_action


def test_clenshaw_matches_numpy_chebval():
    coefficients = np.random.default_rng(1).normal(size=13)
    z = np.linspace(-1.0, 1.0, 17)
    ours = clenshaw(torch.tensor(z), torch.tensor(coefficients)).numpy()
    assert np.allclose(ours, np.polynomial.chebyshev.chebval(z, coefficients), rtol=0, atol=1e-13)


def test_wkb_action_of_the_oscillator_matches_its_closed_form():
    """For V = w^2 t^2 and E = w, S(t) = (t sqrt(t^2 - a^2) - a^2 arccosh(t / a)) w / 2, a = w^-1/2."""
    omega = 3.0
    t = np.linspace(0.0, 4.0, 200001)
    a = 1 / math.sqrt(omega)
    outside = t > a
    exact = np.zeros_like(t)
    exact[outside] = 0.5 * omega * (t[outside] * np.sqrt(t[outside] ** 2 - a * a) - a * a * np.arccosh(t[outside] / a))
    assert np.allclose(wkb_action(lambda s: omega**2 * s * s, omega, t), exact, rtol=0, atol=1e-6)


def envelope_at(fit: np.ndarray, half: float, t: torch.Tensor) -> Jet:
    x = Jet.variable(t)
    return envelope_jet((x * x - 0.5 * half * half) / (0.5 * half * half), torch.tensor(fit))


def test_envelope_derivatives_are_those_of_its_value():
    omega, half = 10.52, 4.607
    fit = fit_envelope(lambda s: omega**2 * s * s, omega, 0.0, half, even=True)
    assert np.any(fit)
    t = torch.tensor([0.2, 0.5, 0.9, 1.5, 2.5], dtype=torch.float64)
    h = 1e-5
    value = lambda s: envelope_at(fit, half, s).value  # noqa: E731
    jet = envelope_at(fit, half, t)
    slope = (value(t + h) - value(t - h)) / (2 * h)
    curvature = (value(t + h) - 2 * value(t) + value(t - h)) / h**2
    assert torch.allclose(jet.d1, slope, rtol=1e-7, atol=0)
    assert torch.allclose(jet.d2, curvature, rtol=1e-4, atol=0)


def test_envelope_follows_the_wkb_decay_to_the_wall():
    """exp(-omega t^2 / 2) decays by ~110 e-folds from the centre to the wall; the fitted exponent
    must carry nearly all of it, so the network is left a factor of a few e-folds at most."""
    omega, half = 10.52, 4.607
    fit = fit_envelope(lambda s: omega**2 * s * s, omega, 0.0, half, even=True)
    t = torch.linspace(0.0, half, 101, dtype=torch.float64)
    exponent = -torch.log(envelope_at(fit, half, t).value).numpy()
    gaussian = 0.5 * omega * t.numpy() ** 2
    assert gaussian[-1] > LEAST_DECAY
    assert np.max(np.abs(exponent - gaussian)) < 5.0


@pytest.mark.parametrize("parameters, shaped", [
    ({"name": "harmonic"}, [False]),
    ({"name": "harmonic", "omega": 10.52, "L": 4.607, "n_states": 2}, [True, True]),
    ({"name": "finite_well", "V0": 400.0}, [False]),
    ({"name": "infinite_well"}, [False]),
])
def test_only_states_decaying_past_the_threshold_get_an_envelope(parameters, shaped):
    problem = build_problem(parameters)
    assert [bool(np.any(rows)) for rows in problem.envelope_fits] == shaped
