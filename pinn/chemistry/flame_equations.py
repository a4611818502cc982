"""Steady one-dimensional premixed flame equations with mixture-averaged transport, as Cantera's
flow domains solve them, with the mass flux m = rho u (constant, rho_in s_L, for a free flame in
its own frame; a field for the counterflow flame):

    species k:  m Y_k' + j_k' = W_k omega_k
    energy:     m cp T' + q' + T' sum_k j_k cp_k + sum_k h_k omega_k = 0,     q = -lambda T'

and for the axisymmetric counterflow flame (V = v / r the spread rate, Lambda = (1/r) dp/dr the
pressure-curvature eigenvalue):

    continuity:        (rho u)' + 2 rho V = 0
    radial momentum:   rho u V' + rho V^2 + Lambda - (mu V')' = 0

with molar h_k and omega_k, mass-specific cp_k, and the diffusive fluxes

    j_k = -rho (W_k / W_mix) D_km X_k' + Y_k sum_j rho (W_j / W_mix) D_jm X_j'

(the correction velocity makes the fluxes sum to zero). The derivatives in x are inputs: a PINN
differentiates its fields (flame_ch4 through its phase plane, flame_counterflow through its learnt
map), a test differences Cantera's solution; both evaluate these same functions.
"""

from __future__ import annotations

import torch

from pinn.constants import GAS_CONSTANT_J_PER_KMOL_K
from pinn.chemistry.properties import GasProperties


def mole_fraction_gradient(props: GasProperties, Y: torch.Tensor, dY: torch.Tensor) -> torch.Tensor:
    """X_k' from Y' (X_k = Y_k W_mix / W_k): X_k' = W_mix Y_k' / W_k - X_k W_mix sum_j Y_j' / W_j."""
    W_mix = props.mean_molecular_weight(Y).unsqueeze(-1)
    return W_mix * dY / props.W - props.mole_fractions(Y) * W_mix * (dY / props.W).sum(-1, keepdim=True)


def diffusive_fluxes(props: GasProperties, T: torch.Tensor, p, Y: torch.Tensor, dY: torch.Tensor) -> torch.Tensor:
    """j_k (kg / m^2 / s), (N, K), with the correction flux."""
    W_mix = props.mean_molecular_weight(Y).unsqueeze(-1)
    X = props.mole_fractions(Y)
    rho = props.density(T, p, Y).unsqueeze(-1)
    raw = -rho * props.W / W_mix * props.mix_diff_coeffs(T, p, X) * mole_fraction_gradient(props, Y, dY)
    return raw - Y * raw.sum(-1, keepdim=True)


def heat_flux(props: GasProperties, T: torch.Tensor, Y: torch.Tensor, dT: torch.Tensor) -> torch.Tensor:
    return -props.conductivity(T, props.mole_fractions(Y)) * dT


def residuals(props: GasProperties, m, T, dT, Y, dY, j, div_j, div_q, omega) -> tuple[torch.Tensor, torch.Tensor]:
    """(species residuals (N, K) in kg / m^3 / s, energy residual (N,) in W / m^3) of the fields,
    their x-derivatives, the diffusive fluxes j with their divergence, the heat flux's divergence
    and the molar production rates omega (the caller's kinetics)."""
    m = torch.as_tensor(m, dtype=T.dtype, device=T.device)
    m = m.unsqueeze(-1) if m.ndim else m
    species = m * dY + div_j - props.W * omega
    cp_k = GAS_CONSTANT_J_PER_KMOL_K * props.cp_species_R(T) / props.W
    h_k = GAS_CONSTANT_J_PER_KMOL_K * T.unsqueeze(-1) * props.enthalpy_species_RT(T)
    energy = (m.squeeze(-1) * props.cp_mass(T, Y) * dT + div_q + dT * (j * cp_k).sum(-1) + (h_k * omega).sum(-1))
    return species, energy


def counterflow_residuals(rho, m, V, dm, dV, div_tau, Lambda) -> tuple[torch.Tensor, torch.Tensor]:
    """(continuity, radial momentum) with m = rho u, dm = m', div_tau = (mu V')'."""
    return dm + 2.0 * rho * V, m * dV + rho * V * V + Lambda - div_tau


def heat_release(props: GasProperties, p, T: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """-sum_k h_k omega_k (W / m^3): the scale of the energy residual."""
    h_k = GAS_CONSTANT_J_PER_KMOL_K * T.unsqueeze(-1) * props.enthalpy_species_RT(T)
    return -(h_k * props.net_production_rates(T, p, Y)).sum(-1)
