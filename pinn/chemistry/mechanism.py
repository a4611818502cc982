"""A Cantera mechanism as plain arrays: what the torch property functions need, read through
Cantera from the mechanism file itself (never typed in twice)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from pinn.errors import ConfigError

DEFAULT_MECHANISM = "ch4_one_step.yaml"


def require_cantera() -> Any:
    """The `cantera` module, or a one-line error naming the extra that installs it."""
    try:
        import cantera
    except ImportError:
        raise ConfigError("the CH4 flame problems need Cantera: pip install -e \".[flames]\" "
                          "(or pip install cantera)") from None
    return cantera


def mechanism_path(name: str | None = None) -> Path:
    """A mechanism shipped in pinn/mechanisms by file name, or any existing YAML path."""
    name = name or DEFAULT_MECHANISM
    shipped = resources.files("pinn") / "mechanisms" / name
    if shipped.is_file():
        return Path(str(shipped))
    path = Path(name).expanduser()
    if not path.is_file():
        raise ConfigError(f"mechanism {name!r} is neither shipped with pinn ({DEFAULT_MECHANISM}) nor an "
                          "existing file; give a Cantera YAML path")
    return path


@dataclass(frozen=True)
class Mechanism:
    """One ideal-gas phase with mixture-averaged transport and irreversible Arrhenius reactions.

    Transport fits (Cantera's, in ln T, degree 4): sqrt(mu_k) = T^(1/4) P_k(ln T),
    lambda_k = T^(1/2) Q_k(ln T), p D_jk = T^(3/2) R_jk(ln T)."""

    path: Path
    species: tuple[str, ...]
    molecular_weights: np.ndarray      # kg / kmol, (K,)
    nasa_low: np.ndarray               # (K, 7), below nasa_mid
    nasa_high: np.ndarray              # (K, 7)
    nasa_mid: np.ndarray               # K, (K,)
    viscosity_fits: np.ndarray         # (K, 5)
    conductivity_fits: np.ndarray      # (K, 5)
    diffusion_fits: np.ndarray         # (K, K, 5)
    pre_exponential: np.ndarray        # SI (kmol, m, s), (R,)
    temperature_exponent: np.ndarray   # (R,)
    activation_energy: np.ndarray      # J / kmol, (R,)
    orders: np.ndarray                 # (R, K), concentration exponents of the rate
    net_stoichiometry: np.ndarray      # (R, K), products minus reactants

    def index(self, name: str) -> int:
        return self.species.index(name)

    def solution(self):
        """A fresh cantera.Solution of this mechanism (for the reference solvers and tests)."""
        return require_cantera().Solution(str(self.path))


def mechanism_sources(name: str | None = None) -> list[Path]:
    """The mechanism file and the code that reads it: what a reference computed with it depends on."""
    return [mechanism_path(name), Path(__file__)]


def load_mechanism(name: str | None = None) -> Mechanism:
    ct = require_cantera()
    path = mechanism_path(name)
    try:
        gas = ct.Solution(str(path))
    except ct.CanteraError as exc:
        first = str(exc).strip().splitlines()
        raise ConfigError(f"mechanism {path} cannot be read by Cantera: {first[-1] if first else exc}") from None
    if gas.transport_model != "mixture-averaged":
        gas.transport_model = "mixture-averaged"
    K = gas.n_species
    low, high, mid = np.zeros((K, 7)), np.zeros((K, 7)), np.zeros(K)
    for k, sp in enumerate(gas.species()):
        if sp.thermo.input_data.get("model") != "NASA7":
            raise ConfigError(f"mechanism {path}: species {sp.name} is not NASA7 (only NASA 7-coefficient thermo is supported)")
        coeffs = sp.thermo.coeffs  # [T_mid, high(7), low(7)]
        mid[k], high[k], low[k] = coeffs[0], coeffs[1:8], coeffs[8:15]
    R = gas.n_reactions
    A, b, Ea = np.zeros(R), np.zeros(R), np.zeros(R)
    orders, net = np.zeros((R, K)), np.zeros((R, K))
    for r, reaction in enumerate(gas.reactions()):
        if reaction.reversible or reaction.rate.type != "Arrhenius" or reaction.third_body is not None:
            raise ConfigError(f"mechanism {path}: reaction {reaction.equation!r} is not an irreversible "
                              "elementary Arrhenius reaction (the only kind supported)")
        A[r], b[r], Ea[r] = (reaction.rate.pre_exponential_factor, reaction.rate.temperature_exponent,
                             reaction.rate.activation_energy)
        for name, nu in reaction.reactants.items():
            orders[r, gas.species_index(name)] = nu
            net[r, gas.species_index(name)] -= nu
        for name, nu in reaction.products.items():
            net[r, gas.species_index(name)] += nu
        for name, order in reaction.orders.items():
            orders[r, gas.species_index(name)] = order
    diffusion = np.array([[gas.get_binary_diff_coeffs_polynomial(i, j) for j in range(K)] for i in range(K)])
    return Mechanism(
        path=path,
        species=tuple(gas.species_names),
        molecular_weights=np.array(gas.molecular_weights),
        nasa_low=low, nasa_high=high, nasa_mid=mid,
        viscosity_fits=np.array([gas.get_viscosity_polynomial(k) for k in range(K)]),
        conductivity_fits=np.array([gas.get_thermal_conductivity_polynomial(k) for k in range(K)]),
        diffusion_fits=diffusion,
        pre_exponential=A, temperature_exponent=b, activation_energy=Ea,
        orders=orders, net_stoichiometry=net,
    )
