"""Thermodynamics, mixture-averaged transport and kinetics of a `Mechanism` in torch, term for
term as Cantera evaluates them (differentiable, batched over a leading axis of N states).

Shapes: T (N,), p scalar or (N,), Y and X (N, K). Units SI with kmol (Cantera's).

- NASA7: cp_k / R = a0 + a1 T + a2 T^2 + a3 T^3 + a4 T^4,
  h_k / (R T) = a0 + a1 T / 2 + a2 T^2 / 3 + a3 T^3 / 4 + a4 T^4 / 5 + a5 / T
  (the low-range coefficients up to and including T_mid).
- Viscosity (Wilke): mu = sum_k X_k mu_k / sum_j X_j Phi_kj,
  Phi_kj = (1 + sqrt(mu_k / mu_j) (W_j / W_k)^(1/4))^2 / sqrt(8 (1 + W_k / W_j)).
- Conductivity: lambda = (sum_k X_k lambda_k + 1 / sum_k X_k / lambda_k) / 2.
- Diffusion into the mixture: D_km = (W_mix - X_k W_k) / (W_mix sum_{j != k} X_j / D_jk), i.e.
  (1 - Y_k) / sum_{j != k} X_j / D_jk, with the binary D_jk = (p D_jk) / p.
- Rates: q_r = A_r T^b_r exp(-E_r / (R T)) prod_k C_k^(order_rk), C_k = rho Y_k / W_k;
  production omega_k = sum_r nu_rk q_r (kmol / m^3 / s).

Mole fractions are floored at 1e-20 in the transport rules, as Cantera does.
"""

from __future__ import annotations

import torch

from pinn.chemistry.mechanism import Mechanism
from pinn.constants import GAS_CONSTANT_J_PER_KMOL_K

TINY_FRACTION = 1e-20


class GasProperties:
    def __init__(self, mechanism: Mechanism, device=None, dtype=torch.float64):
        self.mechanism = mechanism
        as_tensor = lambda a: torch.as_tensor(a, device=device, dtype=dtype)  # noqa: E731
        m = mechanism
        self.W = as_tensor(m.molecular_weights)
        self.nasa_low, self.nasa_high, self.nasa_mid = as_tensor(m.nasa_low), as_tensor(m.nasa_high), as_tensor(m.nasa_mid)
        self.viscosity_fits, self.conductivity_fits = as_tensor(m.viscosity_fits), as_tensor(m.conductivity_fits)
        self.diffusion_fits = as_tensor(m.diffusion_fits)
        self.A, self.b, self.Ea = as_tensor(m.pre_exponential), as_tensor(m.temperature_exponent), as_tensor(m.activation_energy)
        self.orders, self.nu = as_tensor(m.orders), as_tensor(m.net_stoichiometry)
        self.n_species = len(m.species)

    # ----- composition ----------------------------------------------------------------------------
    def mean_molecular_weight(self, Y: torch.Tensor) -> torch.Tensor:
        return 1.0 / (Y / self.W).sum(-1)

    def mole_fractions(self, Y: torch.Tensor) -> torch.Tensor:
        return Y / self.W * self.mean_molecular_weight(Y).unsqueeze(-1)

    def density(self, T: torch.Tensor, p, Y: torch.Tensor) -> torch.Tensor:
        return p * self.mean_molecular_weight(Y) / (GAS_CONSTANT_J_PER_KMOL_K * T)

    # ----- thermodynamics -------------------------------------------------------------------------
    def _nasa(self, T: torch.Tensor) -> torch.Tensor:
        low = (T.unsqueeze(-1) <= self.nasa_mid).unsqueeze(-1)
        return torch.where(low, self.nasa_low, self.nasa_high)  # (N, K, 7)

    def cp_species_R(self, T: torch.Tensor) -> torch.Tensor:
        """cp_k / R, (N, K)."""
        a, t = self._nasa(T), T.unsqueeze(-1)
        return a[..., 0] + t * (a[..., 1] + t * (a[..., 2] + t * (a[..., 3] + t * a[..., 4])))

    def enthalpy_species_RT(self, T: torch.Tensor) -> torch.Tensor:
        """h_k / (R T), (N, K)."""
        a, t = self._nasa(T), T.unsqueeze(-1)
        return (a[..., 0] + t * (a[..., 1] / 2 + t * (a[..., 2] / 3 + t * (a[..., 3] / 4 + t * a[..., 4] / 5)))
                + a[..., 5] / t)

    def cp_mass(self, T: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        return GAS_CONSTANT_J_PER_KMOL_K * (Y * self.cp_species_R(T) / self.W).sum(-1)

    def enthalpy_mass(self, T: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        return GAS_CONSTANT_J_PER_KMOL_K * T * (Y * self.enthalpy_species_RT(T) / self.W).sum(-1)

    # ----- transport ------------------------------------------------------------------------------
    @staticmethod
    def _fit(coeffs: torch.Tensor, log_t: torch.Tensor) -> torch.Tensor:
        """sum_i c_i (ln T)^i over the last axis of coeffs; log_t broadcast against the rest."""
        out = coeffs[..., 4]
        for i in (3, 2, 1, 0):
            out = out * log_t + coeffs[..., i]
        return out

    def species_viscosities(self, T: torch.Tensor) -> torch.Tensor:
        root = T.unsqueeze(-1) ** 0.25 * self._fit(self.viscosity_fits, T.log().unsqueeze(-1))
        return root * root

    def species_conductivities(self, T: torch.Tensor) -> torch.Tensor:
        return T.unsqueeze(-1).sqrt() * self._fit(self.conductivity_fits, T.log().unsqueeze(-1))

    def binary_diffusion_times_pressure(self, T: torch.Tensor) -> torch.Tensor:
        """p D_jk, (N, K, K)."""
        t = T.reshape(-1, 1, 1)
        return t**1.5 * self._fit(self.diffusion_fits, t.log())

    def _floored(self, X: torch.Tensor) -> torch.Tensor:
        return X.clamp_min(TINY_FRACTION)

    def viscosity(self, T: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        X = self._floored(X)
        mu = self.species_viscosities(T)
        ratio = (mu.unsqueeze(-1) / mu.unsqueeze(-2)).sqrt()                       # sqrt(mu_k / mu_j)
        w_ratio = self.W.unsqueeze(0) / self.W.unsqueeze(1)                         # W_j / W_k at [k, j]
        phi = (1 + ratio * w_ratio**0.25) ** 2 / torch.sqrt(8 * (1 + 1 / w_ratio))
        return (X * mu / (phi * X.unsqueeze(-2)).sum(-1)).sum(-1)

    def conductivity(self, T: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        X = self._floored(X)
        lam = self.species_conductivities(T)
        return 0.5 * ((X * lam).sum(-1) + 1.0 / (X / lam).sum(-1))

    def mix_diff_coeffs(self, T: torch.Tensor, p, X: torch.Tensor) -> torch.Tensor:
        """D_km (m^2/s), (N, K): diffusion of k into the rest of the mixture."""
        X = self._floored(X)
        pD = self.binary_diffusion_times_pressure(T)
        off_diagonal = 1.0 - torch.eye(self.n_species, dtype=X.dtype, device=X.device)
        resistance = (X.unsqueeze(-2) / pD * off_diagonal).sum(-1)                 # sum_{j != k} X_j / (p D_jk)
        W_mix = (X * self.W).sum(-1, keepdim=True)
        p = torch.as_tensor(p, dtype=X.dtype, device=X.device)
        p = p.unsqueeze(-1) if p.ndim else p
        return (W_mix - X * self.W) / (p * W_mix * resistance)

    # ----- kinetics -------------------------------------------------------------------------------
    def rate_constants(self, T: torch.Tensor, A=None, Ea=None) -> torch.Tensor:
        """k_r(T), (N, R); A and Ea (J/kmol) replace the mechanism's when given (inverse problems)."""
        A = self.A if A is None else A
        Ea = self.Ea if Ea is None else Ea
        t = T.unsqueeze(-1)
        return A * t**self.b * torch.exp(-Ea / (GAS_CONSTANT_J_PER_KMOL_K * t))         # (N, R)

    def rates_of_progress(self, T: torch.Tensor, p, Y: torch.Tensor, A=None, Ea=None, signed: bool = False) -> torch.Tensor:
        """q_r (kmol / m^3 / s), (N, R). A species with no positive concentration contributes
        C^order = 0 (1 for order 0), with a zero, never NaN, gradient (C^0.5 at C = 0). With
        signed=True a negative concentration contributes sign(C) |C|^order instead: smooth
        through C = 0 for order 1, so a trial function that dips below zero is pushed back
        rather than met by a kink."""
        C = (self.density(T, p, Y).unsqueeze(-1) * Y / self.W).unsqueeze(-2)
        tiny = torch.finfo(C.dtype).tiny
        if signed:
            law = torch.where(self.orders == 0, torch.ones_like(C),
                              torch.sign(C) * torch.pow(C.abs().clamp_min(tiny), self.orders))
        else:
            law = torch.where(C > 0, torch.pow(C.clamp_min(tiny), self.orders), (self.orders == 0).to(C.dtype))
        return self.rate_constants(T, A, Ea) * law.prod(-1)

    def net_production_rates(self, T: torch.Tensor, p, Y: torch.Tensor, A=None, Ea=None,
                             signed: bool = False) -> torch.Tensor:
        """omega_k in kmol / m^3 / s, (N, K)."""
        return self.rates_of_progress(T, p, Y, A, Ea, signed) @ self.nu


def burnt_state(props: GasProperties, T_in: float, Y_in: torch.Tensor, iterations: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """The adiabatic end state of a one-reaction mechanism: the reaction runs until its first
    reactant is used up (Y_k = Y_in,k + W_k nu_k xi, xi the largest progress that keeps every
    Y_k >= 0), and T_b solves h(T_b, Y_b) = h(T_in, Y_in) (Newton on cp). Returns (T_b, Y_b)."""
    if props.nu.shape[0] != 1:
        raise ValueError("burnt_state needs a one-reaction mechanism")
    nu = props.nu[0]
    Y_in = Y_in.reshape(1, -1)
    consumed = nu < 0
    xi = (Y_in[0, consumed] / (props.W[consumed] * -nu[consumed])).min()
    Y_b = Y_in + props.W * nu * xi
    Y_b = torch.where(Y_b.abs() < 1e-15, torch.zeros_like(Y_b), Y_b)
    T_in_t = torch.full((1,), float(T_in), dtype=Y_in.dtype, device=Y_in.device)
    h_in = props.enthalpy_mass(T_in_t, Y_in)
    T = T_in_t + 1500.0
    for _ in range(iterations):
        step = (props.enthalpy_mass(T, Y_b) - h_in) / props.cp_mass(T, Y_b)
        T = T - step
        if float(step.abs().max()) < 1e-10 * float(T.max()):
            break
    return T[0], Y_b[0]
