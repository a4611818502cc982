"""The 1D Schrödinger eigenproblem -psi'' + V psi = E psi, psi(a) = psi(b) = 0, integral psi^2 = 1.

Representation (the one place where the boundary conditions are imposed, `psi`):

* The domain is cut at the jumps of V into regions, with one network per state and region, so
  psi'' may jump where V does. Each region after the first starts from the value and slope of its
  left neighbour at the cut, so psi and psi' are continuous by construction (see `psi`).
* For a potential symmetric about the centre c, the states alternate in parity (state n has n
  nodes, parity (-1)^n), so state n is solved on the half domain t = |x - c| in [0, T] with the
  parity built in: in the central region psi = N(t^2) (even) or t N(t^2) (odd).
* Dirichlet walls are exact: a factor vanishing at each wall multiplies the free part.
* In a classically forbidden region the network multiplies a WKB envelope exp(-kappa * depth),
  so it only has to represent a slowly varying factor; in a stiff smooth potential (one region), an
  envelope fitted to the WKB action beyond the turning points (pinn.problems.wells.envelope).

Loss terms, with w the Gauss-Legendre weights of each region and E_s an energy scale; all but the
Rayleigh term are residual vectors whose squares sum to the term (so Levenberg-Marquardt applies):

* residual       sqrt(w) (-psi'' + (V - E) psi) / (E_s sqrt|domain|)
* normalization  integral psi^2 - 1
* orthogonality  integral psi_i psi_j against the (detached) lower states of the same parity
* rayleigh       (integral phi'^2 + V phi^2) / (integral phi^2) / E_s, the variational energy of
                 phi = psi with the (detached) lower states of its parity projected out (Gram-Schmidt),
                 minimized in the warm-up stage so that training starts from the lowest states;
                 without the projection a penalty on the overlap would compete with the energy
                 gained by sliding down onto a lower state
* eigen_tracking (E - Rayleigh quotient) / E_s in the warm-up stage, which carries the
                 eigenvalue parameter along without a user-supplied guess
"""

from __future__ import annotations

import functools
import math
from functools import cached_property
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from pinn.errors import ConfigError
from pinn.numerics.jets import Jet
from pinn.numerics.nets import RegionNets
from pinn.numerics.quadrature import gauss_legendre
from pinn.problems.base import Pointwise, Problem, check_count, owners_by_state, state_estimates
from pinn.problems.wells.envelope import DEGREE, envelope_jet, fit_envelope
from pinn.status import on_own_levels, skipped_levels

DEFAULT_WEIGHTS = {
    "residual": 1.0,
    "normalization": 1.0,
    "orthogonality": 1.0,
    "rayleigh": 1.0,
    "eigen_tracking": 1.0,
}
STAGE_TERMS = {
    "warmup": ("rayleigh", "eigen_tracking", "normalization", "orthogonality"),
    "solve": ("residual", "normalization", "orthogonality"),
}


def schrodinger_residual(psi: Jet, V: torch.Tensor, E: torch.Tensor | float) -> torch.Tensor:
    """-psi'' + (V - E) psi."""
    return -psi.d2 + (V - E) * psi.value


class EigenModel(nn.Module):
    """Per-state region networks plus the eigenvalues, E = energy_scale * raw, as one parameter.
    `loss_unit` is the problem's E_s that divides the loss terms (a tensor, so that models of
    several parameter sets can be trained together, pinn.training.batched)."""

    def __init__(self, nets: Sequence[RegionNets], energies: Sequence[float], energy_scale: float,
                 decay_rates: np.ndarray, envelopes: np.ndarray, trainable_energy: bool = True):
        super().__init__()
        self.states = nn.ModuleList(nets)
        self.register_buffer("decay_rates", torch.as_tensor(decay_rates, dtype=torch.float64))
        # Chebyshev coefficients of each state's smooth-potential envelope exponent (recomputed from the problem)
        self.register_buffer("envelopes", torch.as_tensor(envelopes, dtype=torch.float64), persistent=False)
        self.forbidden = (np.asarray(decay_rates) > 0).tolist()  # host-side copy: no device sync per call
        self.register_buffer("energy_scale", torch.tensor(float(energy_scale), dtype=torch.float64))
        self.register_buffer("loss_unit", torch.tensor(float(energy_scale), dtype=torch.float64), persistent=False)
        raw = torch.tensor([float(e) for e in energies], dtype=torch.float64) / energy_scale
        self.energy_raw = nn.Parameter(raw, requires_grad=trainable_energy)

    @property
    def energies(self) -> torch.Tensor:
        return self.energy_raw * self.energy_scale


class SchrodingerProblem(Problem):
    """Shared machinery; a subclass sets the domain, the jumps of V and V itself."""

    symmetric: bool = True
    stage_terms: Mapping[str, tuple[str, ...]] = STAGE_TERMS
    stages = tuple(STAGE_TERMS)
    default_tolerance = 1e-8
    report = "wells"
    training_only = frozenset({"weights"})

    @cached_property
    def estimator(self):
        """The a-posteriori error estimate of trained states (pinn.problems.wells.estimate)."""
        from pinn.problems.wells.estimate import ResidualEstimator

        return ResidualEstimator(self)

    def estimate(self, model: EigenModel) -> dict[str, float]:
        return {f"E{j}": float(e) for j, e in enumerate(self.estimator(model).relative_error)}

    def misplaced_states(self, model: EigenModel) -> list[int]:
        """States whose Rayleigh quotient sits above the midpoint to the next Galerkin level."""
        estimate = self.estimator(model)
        return [j for j, _, _ in skipped_levels(estimate.rayleigh, estimate.galerkin_levels)]

    def states_placed(self, model: EigenModel) -> bool:
        """Every Rayleigh quotient nearer its own Galerkin level than any other of its parity where
        that is built in (pinn.status.on_own_levels)."""
        levels, _ = self.estimator.galerkin_solution
        return on_own_levels(self.estimator(model).rayleigh, levels, stride=2 if self.symmetric else 1)

    def restart_state(self, model: EigenModel, state: int) -> tuple[nn.Module, Any]:
        """E to the Galerkin level of `state` and the rows of its refit (pinn.problems.wells.restart)."""
        from pinn.problems.wells.restart import restart_state

        return restart_state(self, model, state)

    def solve_reference(self):
        """Exact eigenpairs where the potential has them, else a converged spectral solve for a smooth
        V, and finite differences always, for n_states and EXTRA_STATES more (pinn.problems.wells.evaluate)."""
        from pinn.problems.wells.evaluate import EXTRA_STATES, schrodinger_reference

        return schrodinger_reference(self, self.n_states + EXTRA_STATES)

    def evaluate(self, model, reference, criteria):
        from pinn.problems.wells.evaluate import evaluate_schrodinger

        return evaluate_schrodinger(self, model, criteria, reference)

    def __init__(self, n_states: int = 1, weights: Mapping[str, float] | None = None):
        self.n_states = check_count("n_states", n_states, high=12, what="how many of the lowest states")
        self.weights = dict(DEFAULT_WEIGHTS)
        for key, value in (weights or {}).items():
            if key not in DEFAULT_WEIGHTS:
                raise ConfigError(f"problem.weights.{key} is not a loss term; choose from {sorted(DEFAULT_WEIGHTS)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"problem.weights.{key}={value!r} must be a finite number >= 0")
            self.weights[key] = float(value)

    # ----- what a subclass declares -------------------------------------------------------
    @property
    def domain(self) -> tuple[float, float]:
        raise NotImplementedError

    @property
    def breakpoints(self) -> tuple[float, ...]:
        """Interior points where V jumps."""
        return ()

    def potential(self, x):
        """V(x) for a numpy array or a torch tensor."""
        raise NotImplementedError

    def reference_spec(self) -> dict[str, Any]:
        """Names an exact solution known to the reference package, or {} for none."""
        return {}

    def fixed_energies(self) -> Sequence[float] | None:
        """Eigenvalues to hold fixed instead of training them (the seed paper's mode)."""
        return None

    # ----- geometry -------------------------------------------------------------------------
    @property
    def length(self) -> float:
        a, b = self.domain
        return b - a

    @property
    def center(self) -> float:
        a, b = self.domain
        return 0.5 * (a + b)

    @cached_property
    def cuts(self) -> list[float]:
        """Region boundaries in the solver coordinate t (t = |x - c| when symmetric, else x)."""
        a, b = self.domain
        if self.symmetric:
            inner = sorted({round(abs(p - self.center), 15) for p in self.breakpoints} - {0.0})
            return [0.0] + [p for p in inner if p < b - self.center] + [b - self.center]
        return [a] + sorted(p for p in set(self.breakpoints) if a < p < b) + [b]

    @cached_property
    def regions(self) -> list[tuple[float, float]]:
        cuts = self.cuts
        return list(zip(cuts[:-1], cuts[1:]))

    @cached_property
    def energy_scale(self) -> float:
        """E_s, the unit of the residual rows and of the eigenvalue parameter: the energy of the
        states themselves (the highest level above the bottom of V, or its size), not the largest
        V, which sits where the states have decayed. As the unit, the largest V buried the
        residual: harmonic omega = 6 on [-5, 5], E_s = 900 for E = 6 left the eigenvalue at 1.7e-4,
        E_s = 6 at 3e-11; finite_barrier V0 = 771.1, half_width = 2.298, L = 4.138, E_s = 771 for
        E = 2.8 ended unconverged at 3e-8 after two refinement rounds (131 s), E_s = 10 at 1.2e-12
        in 22 s, this E_s = 2.8 at 7.7e-11 in 8.8 s."""
        x = np.linspace(*self.domain, 2001)
        V = self.potential(x)
        kinetic = (math.pi * self.n_states / self.length) ** 2
        top = float(self.level_estimates()[-1])
        return max(kinetic, top - float(np.min(V)), abs(top))

    def parity(self, state: int) -> int | None:
        return state % 2 if self.symmetric else None

    def initial_energies(self) -> list[float]:
        """Box levels shifted by the lowest V: only a start, the warm-up stage moves it."""
        v_min = float(np.min(self.potential(np.linspace(*self.domain, 2001))))
        return [v_min + ((n + 1) * math.pi / self.length) ** 2 for n in range(self.n_states)]

    # ----- model and trial function -------------------------------------------------------
    def _net_bounds(self) -> list[tuple[float, float]]:
        bounds = []
        for k, (lo, hi) in enumerate(self.regions):
            bounds.append((lo**2, hi**2) if self.symmetric and k == 0 else (lo, hi))
        return bounds

    def build_model(self, width: int, depth: int, activation: str) -> EigenModel:
        nets = [RegionNets(self._net_bounds(), width, depth, activation) for _ in range(self.n_states)]
        fixed = self.fixed_energies()
        energies = fixed if fixed is not None else self.initial_energies()
        return EigenModel(nets, energies, self.energy_scale, self.decay_rates(self.level_estimates()),
                          self.envelope_fits, trainable_energy=fixed is None)

    def level_estimates(self, modes: int = 64) -> np.ndarray:
        """Rough levels from a Galerkin projection on box sines sqrt(2/l) sin(m pi (x - a) / l).

        Used only to shape the WKB envelopes of the trial functions (the trained eigenvalues start
        from box levels and are found by the warm-up); a few percent accuracy is plenty here."""
        from pinn.problems.wells.estimate import sine_galerkin

        levels, _, _ = sine_galerkin(self.potential, *self.domain, *self.quadrature(max(2 * modes, 96)), modes)
        return levels[: self.n_states]

    def decay_rates(self, energies: Sequence[float]) -> np.ndarray:
        """kappa = sqrt(max(mean V - E, 0)) per (state, region): the WKB decay rate of psi in a
        classically forbidden region, built into the trial function so the network only has to
        represent a slowly varying factor (a bare network needs many e-folds across the region)."""
        rates = np.zeros((len(energies), len(self.regions)))
        for k, (lo, hi) in enumerate(self.regions):
            t = np.linspace(lo, hi, 257)[1:-1]
            V_mean = float(np.mean(self._V(t)))
            rates[:, k] = np.sqrt(np.maximum(V_mean - np.asarray(energies, float), 0.0))
        return rates

    @cached_property
    def envelope_fits(self) -> np.ndarray:
        """Per state, the rows of its smooth-potential envelope exponent (pinn.problems.wells.envelope;
        zeros: none); only a one-region V has them."""
        levels = self.level_estimates()
        if len(self.regions) > 1:
            return np.zeros((len(levels), 3, DEGREE + 1))
        lo, hi = self.regions[0]
        return np.stack([fit_envelope(self._V, float(level), lo, hi, even=self.symmetric) for level in levels])

    @cached_property
    def smooth_envelope(self) -> bool:
        """Whether any state carries the envelope (asked on every trial-function evaluation)."""
        return bool(np.any(self.envelope_fits))

    def _envelope(self, model: EigenModel, state: int, region: int, t: Jet) -> Jet | float:
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

    def psi(self, model: EigenModel, state: int, region: int, t: torch.Tensor, order: int = 2) -> Jet:
        """Trial wavefunction and its first `order` derivatives in t on one region (pinn.numerics.jets).

        The first region is free (up to parity and walls). Every later region starts from the value
        p0 and slope p1 of its left neighbour at the cut t_k, with s = t - t_k, width w and the
        envelope ratio e(s) = env(t) / env(t_k), e1 = env'(t_k) / env(t_k):

            psi = p0 e (1 - e1 s) + p1 s e + (s/w)^2 e N(t),

        each term times a wall factor ((1 - (s/w)^2), (1 - s/w), (1 - s/w)) in the last region.
        So psi and psi' are continuous by construction and psi'' is free to jump with V.
        """
        lo, hi = self.regions[region]
        last = region == len(self.regions) - 1
        x = Jet.variable(t, order)
        amplitude = 1.0 / math.sqrt(self.length)
        if region == 0:
            central = self.symmetric
            value = model.states[state].jet(0, x * x if central else x) * self._envelope(model, state, 0, x)
            if central and self.parity(state) == 1:
                value = value * (x / hi)
            if not central:
                value = value * ((x - lo) / (hi - lo))
            if last:
                value = value * ((hi * hi - x * x) / (hi * hi) if central else (hi - x) / (hi - lo))
            return value * amplitude
        cut = t.new_full((1,), lo)
        left = self.psi(model, state, region - 1, cut, order=1)
        env_cut = self._envelope(model, state, region, Jet.variable(cut, order=1))
        e0, e1 = (env_cut.value, env_cut.d1 / env_cut.value) if isinstance(env_cut, Jet) else (1.0, 0.0)
        envelope = self._envelope(model, state, region, x)
        e = envelope / e0 if isinstance(envelope, Jet) else Jet.constant(torch.ones_like(t), order)
        s, w = x - lo, hi - lo
        shape_value = e * (1 - s * e1)
        shape_slope = s * e
        free = (s * s) * e * model.states[state].jet(region, x) * (amplitude / (w * w))
        if last:
            shape_value = shape_value * (1 - (s * s) / (w * w))
            shape_slope = shape_slope * (1 - s / w)
            free = free * (1 - s / w)
        return shape_value * left.value + shape_slope * left.d1 + free

    def _V(self, t):
        """V at solver coordinates t (numpy or torch)."""
        return self.potential(t + self.center if self.symmetric else t)

    # ----- collocation and losses -----------------------------------------------------------
    def collocation(self, n_points: int, device, dtype, generator: torch.Generator | None = None) -> dict[str, Any]:
        """Gauss-Legendre nodes and weights in each region (the losses are quadratures).

        With a generator, each region is split at a random interior point and each part gets
        n_points/2 nodes: still an accurate quadrature, but the nodes move from draw to draw, so
        the network cannot hide a spike between fixed points. Several states without symmetry get
        twice the nodes: the domain is not folded in half, and at 128 nodes over [-5, 5] the first
        excited state of x^2 + 0.3 x stalled at 1.5e-5 (8e-8 with 256).
        """
        if not self.symmetric and self.n_states > 1:
            n_points *= 2
        regions = []
        for lo, hi in self.regions:
            if generator is None:
                pieces, per_piece = [(lo, hi)], n_points
            else:
                split = lo + (hi - lo) * (0.3 + 0.4 * float(torch.rand((), generator=generator, dtype=torch.float64)))
                pieces, per_piece = [(lo, split), (split, hi)], max(2, n_points // 2)
            nodes, weights = gauss_legendre(per_piece)
            t = np.concatenate([0.5 * (b - a) * nodes + 0.5 * (b + a) for a, b in pieces])
            w = np.concatenate([0.5 * (b - a) * weights for a, b in pieces])
            tt = torch.as_tensor(t, device=device, dtype=dtype)
            regions.append({"t": tt, "w": torch.as_tensor(w, device=device, dtype=dtype), "V": self._V(tt)})
        return {"regions": regions}

    def loss_terms(self, model: EigenModel, batch: Mapping[str, Any], stage: str,
                   part: int | None = None) -> dict[str, torch.Tensor]:
        """Residual vectors (their squares summed form the term) and the scalar Rayleigh term;
        with `part`, only the rows of that state (see `parts`)."""
        if stage not in self.stage_terms:
            raise ConfigError(f"trainer phase stage {stage!r} is unknown; use one of {sorted(self.stage_terms)}")
        wanted = self.stage_terms[stage]
        E_s = model.loss_unit
        mult = 2.0 if self.symmetric else 1.0
        energies = model.energies
        parts: dict[str, list[torch.Tensor]] = {name: [] for name in wanted}
        lower: dict[int, tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]] = {}
        regions = batch["regions"]
        order = 1 if "rayleigh" in wanted else 0  # psi and psi' below; the residual rows take psi'' themselves
        for j in range(self.n_states if part is None else part + 1):
            if part is not None and j != part:
                if j in self.partners(part):
                    with torch.no_grad():
                        fields = [self.psi(model, j, r, reg["t"], order) for r, reg in enumerate(regions)]
                        norm = mult * sum((reg["w"] * f.value**2).sum() for reg, f in zip(regions, fields))
                    lower[j] = ([f.value for f in fields], [f.d1 for f in fields], norm)
                continue
            fields = [self.psi(model, j, r, reg["t"], order) for r, reg in enumerate(regions)]
            norm = mult * sum((reg["w"] * f.value**2).sum() for reg, f in zip(regions, fields))
            parts["normalization"].append((norm - 1.0).reshape(1))
            if "residual" in wanted:
                scale = math.sqrt(self.weights["residual"] * mult / self.length) / E_s
                for r, reg in enumerate(regions):
                    parts["residual"].append(Pointwise(functools.partial(self._residual_rows, model, j, r, scale, stage),
                                                       reg["t"], reg["w"], reg["V"]))
            if "rayleigh" in wanted:
                values, slopes = [f.value for f in fields], [f.d1 for f in fields]
                for i in self.partners(j):
                    values_i, slopes_i, norm_i = lower[i]
                    c = mult * sum((reg["w"] * a * v).sum() for reg, a, v in zip(regions, values_i, values)) / norm_i
                    values = [v - c * a for v, a in zip(values, values_i)]
                    slopes = [d - c * b for d, b in zip(slopes, slopes_i)]
                energy = mult * sum((reg["w"] * (d**2 + self.potential_of(model, reg["V"], stage) * v**2)).sum()
                                    for reg, v, d in zip(regions, values, slopes))
                quotient = energy / (mult * sum((reg["w"] * v**2).sum() for reg, v in zip(regions, values)))
                parts["rayleigh"].append(quotient / E_s)
                parts["eigen_tracking"].append(((energies[j] - quotient.detach()) / E_s).reshape(1))
            for i in self.partners(j):
                values_i, _, norm_i = lower[i]
                overlap = mult * sum((reg["w"] * a * f.value).sum() for reg, a, f in zip(regions, values_i, fields))
                parts["orthogonality"].append((overlap / torch.sqrt(norm_i * norm)).reshape(1))
            lower[j] = ([f.value.detach() for f in fields], [f.d1 if f.d1 is None else f.d1.detach() for f in fields],
                        norm.detach())
        terms = {}
        for name, pieces in parts.items():
            if name == "rayleigh":
                terms[name] = self.weights[name] * sum(pieces)
            elif name == "residual":
                terms[name] = Pointwise.join(pieces)
            else:
                vector = torch.cat(pieces) if pieces else energies.new_zeros(0)
                terms[name] = math.sqrt(self.weights[name]) * vector
        return terms

    def _residual_rows(self, model: EigenModel, state: int, region: int, scale: float, stage: str,
                       t: torch.Tensor, w: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        """scale sqrt(w) (-psi'' + (V - E) psi) at the nodes t of one region."""
        f = self.psi(model, state, region, t)
        return scale * w.sqrt() * schrodinger_residual(f, self.potential_of(model, V, stage), model.energies[state])

    def potential_of(self, model: EigenModel, V: torch.Tensor, stage: str) -> torch.Tensor:
        """V at the nodes as the training of `stage` sees it, given the problem's own V there (a
        problem whose potential carries a trainable unknown scales it here)."""
        return V

    def partners(self, j: int) -> list[int]:
        """The lower states that state j must be orthogonal to (those of its parity)."""
        return [i for i in range(j) if self.parity(i) == self.parity(j)]

    def parts(self, model: EigenModel) -> dict[str, torch.Tensor] | None:
        """One part per state: state j's rows see the lower states only as fixed data."""
        return owners_by_state(model)

    def part_estimates(self, model: EigenModel) -> list[str] | None:
        return state_estimates(model)

    def observables(self, model: EigenModel) -> dict[str, torch.Tensor]:
        return {f"E{j}": model.energies[j].detach() for j in range(self.n_states)}

    # ----- evaluation on the full domain ------------------------------------------------------
    def _locate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Solver coordinate t, region index and reflection sign of each x."""
        if self.symmetric:
            t = (x - self.center).abs()
            sign = torch.where(x < self.center, -1.0, 1.0).to(x.dtype)
        else:
            t, sign = x, torch.ones_like(x)
        inner_cuts = torch.as_tensor(self.cuts[1:-1], dtype=x.dtype, device=x.device)
        region = torch.bucketize(t, inner_cuts, right=True)
        return t, region, sign

    def wavefunctions(self, model: EigenModel, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """psi_n(x) and psi_n'(x) on the full domain, each of shape (n_states, len(x))."""
        t, region, sign = self._locate(x)
        psi = x.new_zeros(self.n_states, len(x))
        dpsi = x.new_zeros(self.n_states, len(x))
        with torch.no_grad():
            for j in range(self.n_states):
                odd = self.parity(j) == 1
                for r in range(len(self.regions)):
                    mask = region == r
                    if not mask.any():
                        continue
                    f = self.psi(model, j, r, t[mask], order=1)
                    s = sign[mask]
                    psi[j, mask] = f.value * s if odd else f.value
                    dpsi[j, mask] = f.d1 if odd else f.d1 * s
        return psi, dpsi

    def residuals(self, model: EigenModel, x: torch.Tensor) -> torch.Tensor:
        """-psi'' + (V - E) psi at x, shape (n_states, len(x)), with the sign of psi(x) as returned
        by `wavefunctions` (so (H - R) psi = residual + (E - R) psi)."""
        t, region, sign = self._locate(x)
        out = x.new_zeros(self.n_states, len(x))
        with torch.no_grad():
            for j in range(self.n_states):
                odd = self.parity(j) == 1
                for r in range(len(self.regions)):
                    mask = region == r
                    if mask.any():
                        f = self.psi(model, j, r, t[mask])
                        value = schrodinger_residual(f, self._V(t[mask]), model.energies[j])
                        out[j, mask] = value * sign[mask] if odd else value
        return out

    def quadrature(self, n_points: int) -> tuple[np.ndarray, np.ndarray]:
        """Composite Gauss-Legendre nodes and weights on the full domain, split at every jump."""
        a, b = self.domain
        cuts = [a] + sorted(p for p in set(self.breakpoints) if a < p < b) + [b]
        nodes, weights = gauss_legendre(n_points)
        xs, ws = [], []
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            xs.append(0.5 * (hi - lo) * nodes + 0.5 * (hi + lo))
            ws.append(0.5 * (hi - lo) * weights)
        return np.concatenate(xs), np.concatenate(ws)
