"""The trial function of a one-dimensional Schrödinger problem (pinn.problems.wells.eigenproblem),
the one place where its boundary conditions are imposed:

    psi = C N(u) + A p0 + B p1  on each region,

N the region's network at its input u, p0 and p1 the value and slope of the left neighbour at the
cut (none in the first region). C, A, B and u depend on the nodes and the problem, never on the
networks: they are computed once per batch of nodes (and once per cut) and given to the pointwise
residual rows as data, so a Levenberg-Marquardt step, which evaluates the same nodes several
times, pays for them once.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from pinn.numerics.jets import Jet
from pinn.problems.wells.envelope import envelope_jet


class TrialFactors(NamedTuple):
    """The network-free parts of a region's trial function, psi = C N(u) + A p0 + B p1
    (`TrialFunction.psi`); A and B are None in the first region."""

    C: Jet
    A: Jet | None
    B: Jet | None
    u: Jet

    def packed(self) -> torch.Tensor:
        """Order-2 factors as one tensor with the nodes first (Pointwise inputs): (nodes, 12)."""
        zero = torch.zeros_like(self.C.value)
        jets = [self.C, self.A, self.B, self.u]
        return torch.stack([getattr(j, k) if j is not None else zero for j in jets for k in ("value", "d1", "d2")], -1)

    @staticmethod
    def unpacked(packed: torch.Tensor, first_region: bool) -> "TrialFactors":
        C, A, B, u = (Jet(*packed[..., 3 * k:3 * k + 3].unbind(-1)) for k in range(4))
        return TrialFactors(C, None, None, u) if first_region else TrialFactors(C, A, B, u)


class TrialFunction:
    """The trial function of SchrodingerProblem: it reads the problem's regions, symmetry, parity
    and envelope fits, and the model's networks, decay rates and envelopes."""

    def _envelope(self, model: Any, state: int, region: int, t: Jet) -> Jet | float:
        """exp(-kappa * distance into the forbidden region), matching where psi is largest:
        growing towards the cut from the centre (cosh, even), decaying towards a wall, or both.
        In a smooth potential, exp(-P), P the fit of the WKB action (pinn.problems.wells.envelope)."""
        kappa = model.decay_rates[state, region].to(t.value.dtype)
        lo, hi = self.regions[region]
        first, last = region == 0, region == len(self.regions) - 1
        if first and last and self.smooth_envelope:
            z = (t * t - 0.5 * hi * hi) / (0.5 * hi * hi) if self.symmetric else (t - 0.5 * (lo + hi)) / (0.5 * (hi - lo))
            return envelope_jet(z, model.envelopes[state].to(t.value.dtype))
        if (first and last) or not model.forbidden[state][region]:
            return 1.0
        if self.symmetric and first:
            return ((t - hi) * kappa).exp() * ((1 + ((t * -2.0) * kappa).exp()) / (1 + torch.exp(-2 * kappa * hi)))
        if last:
            return ((t - lo) * -kappa).exp()
        if first:
            return ((t - hi) * kappa).exp()
        return ((t - lo) * -kappa).exp() + ((t - hi) * kappa).exp()

    def psi(self, model: Any, state: int, region: int, t: torch.Tensor, order: int = 2,
            factors: TrialFactors | None = None) -> Jet:
        """Trial wavefunction and its first `order` derivatives in t on one region (pinn.numerics.jets):

            psi = C N(u) + A p0 + B p1,

        N the region's network at its input u, p0 and p1 the value and slope of the left neighbour
        at the cut (none in the first region), and C, A, B, u the `trial_factors` of these nodes
        (computed here unless given)."""
        C, A, B, u = factors if factors is not None else self.trial_factors(model, state, region, t, order)
        value = C * model.states[state].jet(region, u)
        if region == 0:
            return value
        lo = self.regions[region][0]
        cut = t.new_full((1,), lo)
        left = self.psi(model, state, region - 1, cut, order=1, factors=self._cut_factors(model, state, region - 1, cut))
        return value + A * left.value + B * left.d1

    def trial_factors(self, model: Any, state: int, region: int, t: torch.Tensor,
                      order: int = 2) -> TrialFactors:
        """(C, A, B, u) of `psi`, none of which depends on the networks.

        The first region is free (up to parity and walls): C = env(t) a, u = t^2 (symmetric, even;
        times t / T when odd) or u = t, times the wall factors, with a = 1/sqrt(length). Every later
        region starts from the value p0 and slope p1 of its left neighbour at the cut t_k, with
        s = t - t_k, width w and the envelope ratio e(s) = env(t) / env(t_k), e1 = env'(t_k) / env(t_k):

            A = e (1 - e1 s),  B = s e,  C = a (s/w)^2 e,  u = t,

        each times a wall factor ((1 - (s/w)^2), (1 - s/w), (1 - s/w)) in the last region. So psi
        and psi' are continuous by construction and psi'' is free to jump with V."""
        lo, hi = self.regions[region]
        last = region == len(self.regions) - 1
        x = Jet.variable(t, order)
        amplitude = 1.0 / math.sqrt(self.length)
        if region == 0:
            central = self.symmetric
            C = self._envelope(model, state, 0, x) * amplitude
            C = C if isinstance(C, Jet) else Jet.constant(torch.full_like(t, C), order)
            if central and self.parity(state) == 1:
                C = C * (x / hi)
            if not central:
                C = C * ((x - lo) / (hi - lo))
            if last:
                C = C * ((hi * hi - x * x) / (hi * hi) if central else (hi - x) / (hi - lo))
            return TrialFactors(C, None, None, x * x if central else x)
        env_cut = self._envelope(model, state, region, Jet.variable(t.new_full((1,), lo), order=1))
        e0, e1 = (env_cut.value, env_cut.d1 / env_cut.value) if isinstance(env_cut, Jet) else (1.0, 0.0)
        envelope = self._envelope(model, state, region, x)
        e = envelope / e0 if isinstance(envelope, Jet) else Jet.constant(torch.ones_like(t), order)
        s, w = x - lo, hi - lo
        A, B, C = e * (1 - s * e1), s * e, (s * s) * e * (amplitude / (w * w))
        if last:
            A, B, C = A * (1 - (s * s) / (w * w)), B * (1 - s / w), C * (1 - s / w)
        return TrialFactors(C, A, B, x)

    def _cut_factors(self, model: Any, state: int, region: int, cut: torch.Tensor) -> TrialFactors:
        """The trial factors of `region` at its right cut (order 1), computed once per state."""
        return self._kept(("cut", state, region, cut.dtype, cut.device), (model.decay_rates, model.envelopes),
                          lambda: self.trial_factors(model, state, region, cut, order=1))

    def batch_factors(self, model: Any, state: int, region: int, t: torch.Tensor, order: int,
                      packed: bool = False) -> TrialFactors | torch.Tensor:
        """The trial factors at the nodes t of a batch (or, `packed`, those of order 2 as one
        tensor), kept while t is the batch's: a Levenberg-Marquardt step evaluates the same nodes
        several times."""
        def compute():
            factors = self.trial_factors(model, state, region, t, 2 if packed else order)
            return factors.packed() if packed else factors

        return self._kept(("batch", state, region, order, packed), (t, model.decay_rates, model.envelopes), compute)

    def _kept(self, key: tuple, sources: tuple[torch.Tensor, ...], compute):
        """compute() (network-free, so without gradients), kept under `key` while each of `sources`
        is the same tensor object: the nodes of one batch, the model's own decay rates and
        envelopes. A batched sweep evaluates this problem for several points under vmap, with
        other tensors in their place every time, so nothing is reused there."""
        cache = self.__dict__.setdefault("_trial_cache", {})
        hit = cache.get(key)
        if hit is None or any(a is not b for a, b in zip(hit[0], sources)):
            with torch.no_grad():
                hit = cache[key] = (sources, compute())
        return hit[1]
