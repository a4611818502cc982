"""Two-dimensional Schrödinger problems, -(psi_xx + psi_yy) + V psi = E psi on a rectangle with
psi = 0 on its boundary, the k lowest states.

Trial function per state: psi = B(x, y) G(x, y) N(x, y) / sqrt(area), with B the product of the
four wall distances (scaled to 1 in the middle), so the walls are exact, G a Gaussian envelope
exp(-c r^2) where the potential confines (c = omega / 2 for the isotropic oscillator: its
asymptotic decay; none for the box), and N an MLP of (x, y). The second derivatives come from two
Taylor-jet passes, one along x and one along y.

Loss terms are those of the 1D problems (pinn.problems.wells.eigenproblem): a variational warm-up
(Rayleigh quotients, each state held orthogonal to the detached lower ones by a penalty, the
eigenvalue parameters tracking them from box levels; the energy scale E_s comes from a rough
Galerkin estimate in 36 box sines, and the states are put in order of their Rayleigh quotients
before the solve phase), then Levenberg-Marquardt on the residual, normalization, orthogonality
and consistency. Both L-BFGS and LM treat each state as its own problem (`parts`): state j sees the
lower states as fixed data. Degenerate levels need nothing special: any orthonormal basis of the
level is a solution, and the evaluation compares the spanned subspace (principal angles), not the
states.

Consistency: (E_j - R_j) / E_s with R_j the state's Rayleigh quotient on the warm-up's fine rule.
The LM nodes are few (24 per axis against a few hundred weights), and without this row LM can
drive the residual down at the nodes while the eigenvalue drifts off the level, the network
bending between the nodes (omega = 0.3 on redrawn nodes: E = 5.4 for 0.60; on fixed nodes on a
GPU: an excited state at 2.51 for 4). Between the nodes R_j sees what the residual does not."""

from __future__ import annotations

import functools
import math
from functools import cached_property
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from pinn.errors import ConfigError
from pinn.numerics.jets import Jet
from pinn.numerics.nets import MLP
from pinn.numerics.quadrature import gauss_legendre
from pinn.problems.base import Deferred, Pointwise, Problem, check_count, check_length, check_number, check_ratio, owners_by_state, state_estimates
from pinn.problems.registry import register
from pinn.reference.plane import box_levels
from pinn.status import on_own_levels, skipped_levels

# In the warm-up a state may lower its Rayleigh quotient by (E_j - E_0) / E_s <= 1 by collapsing
# onto a lower state; an orthogonality residual weighted 10 (100 in the loss) makes that a loss.
WARMUP_ORTHOGONALITY = 10.0
STAGE_TERMS = {
    "warmup": ("rayleigh", "eigen_tracking", "normalization", "orthogonality"),
    "solve": ("residual", "normalization", "orthogonality", "consistency"),
}
# the rule of the consistency rows: the warm-up's 48 nodes per axis
FINE_POINTS = 192


class PlaneModel(nn.Module):
    def __init__(self, n_states: int, width: int, depth: int, activation: str, energies, energy_scale: float):
        super().__init__()
        self.states = nn.ModuleList(MLP(2, 1, width, depth, activation) for _ in range(n_states))
        self.register_buffer("energy_scale", torch.tensor(float(energy_scale), dtype=torch.float64))
        self.energy_raw = nn.Parameter(torch.tensor([float(e) for e in energies], dtype=torch.float64) / energy_scale)

    @property
    def energies(self) -> torch.Tensor:
        return self.energy_raw * self.energy_scale


class PlaneProblem(Problem):
    stages = tuple(STAGE_TERMS)
    default_tolerance = 1e-4
    report = "plane"

    def solve_reference(self):
        from pinn.problems.plane.evaluate import plane_reference

        return plane_reference(self)

    def evaluate(self, model, reference, criteria):
        from pinn.problems.plane.evaluate import evaluate_plane

        return evaluate_plane(self, model, criteria, reference)
    envelope_rate: float = 0.0

    def __init__(self, n_states: int):
        self.n_states = check_count("n_states", n_states, high=12, what="how many of the lowest states")

    bounds: tuple[tuple[float, float], tuple[float, float]]

    def potential(self, x, y):
        raise NotImplementedError

    def exact_levels(self) -> np.ndarray | None:
        return None

    # ----- geometry and scales ----------------------------------------------------------------------
    @property
    def area(self) -> float:
        (x0, x1), (y0, y1) = self.bounds
        return (x1 - x0) * (y1 - y0)

    def initial_energies(self) -> list[float]:
        """Box levels shifted by the lowest V: only a start, the warm-up moves it."""
        (x0, x1), (y0, y1) = self.bounds
        xs, ys = np.meshgrid(np.linspace(x0, x1, 101), np.linspace(y0, y1, 101))
        v_min = float(np.min(self.potential(xs, ys)))
        return list(v_min + box_levels(x1 - x0, y1 - y0, self.n_states))

    @cached_property
    def _galerkin_levels(self) -> np.ndarray:
        """The lowest levels in the basis of box sines sin(m pi u) sin(n pi v), m, n <= 6, with V by
        a 48 x 48 Gauss rule: only the energy scale of the losses (a rough estimate is enough)."""
        (x0, x1), (y0, y1) = self.bounds
        modes = 6
        nodes, weights = gauss_legendre(48)
        u, wu = 0.5 * (nodes + 1.0), 0.5 * weights
        X, Y = np.meshgrid(x0 + (x1 - x0) * u, y0 + (y1 - y0) * u)
        m = np.arange(1, modes + 1)
        S = np.sqrt(2.0) * np.sin(np.outer(m, u) * np.pi)  # orthonormal on [0, 1]
        Vq = self.potential(X, Y) * np.outer(wu, wu)  # [iy, ix]
        # <m n | V | m' n'> = sum_iy,ix S[n, iy] S[m, ix] V S[n', iy] S[m', ix]
        Vmat = np.einsum("ai,bj,ij,ci,dj->abcd", S, S, Vq, S, S).reshape(modes * modes, modes * modes)
        kinetic = np.add.outer((m * np.pi / (y1 - y0)) ** 2, (m * np.pi / (x1 - x0)) ** 2).ravel()
        H = Vmat + np.diag(kinetic)
        return np.linalg.eigvalsh(0.5 * (H + H.T))[: self.n_states]

    @property
    def energy_scale(self) -> float:
        return max(float(np.max(np.abs(self._galerkin_levels))), 1e-12)

    # ----- trial function ----------------------------------------------------------------------------
    def build_model(self, width: int, depth: int, activation: str) -> PlaneModel:
        return PlaneModel(self.n_states, width, depth, activation, self.initial_energies(), self.energy_scale)

    def _directional(self, model: PlaneModel, state: int, X: Jet, Y: Jet) -> Jet:
        """psi along one direction: X and Y are jets, one of them the variable."""
        (x0, x1), (y0, y1) = self.bounds
        cx, cy, hx, hy = 0.5 * (x0 + x1), 0.5 * (y0 + y1), 0.5 * (x1 - x0), 0.5 * (y1 - y0)
        u, v = (X - cx) / hx, (Y - cy) / hy
        walls = (1 - u * u) * (1 - v * v)
        inputs = Jet(torch.stack([u.value, v.value], -1), torch.stack([u.d1, v.d1], -1), torch.stack([u.d2, v.d2], -1))
        value = walls * model.states[state].jet(inputs).squeeze(-1)
        if self.envelope_rate > 0:
            r2 = (X - cx) * (X - cx) + (Y - cy) * (Y - cy)
            value = value * (r2 * -self.envelope_rate).exp()
        return value * (1.0 / math.sqrt(self.area))

    def psi(self, model: PlaneModel, state: int, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """psi, psi_x, psi_y and the Laplacian at the points (x, y)."""
        along_x = self._directional(model, state, Jet.variable(x), Jet.constant(y))
        along_y = self._directional(model, state, Jet.constant(x), Jet.variable(y))
        return along_x.value, along_x.d1, along_y.d1, along_x.d2 + along_y.d2

    # ----- training interface -------------------------------------------------------------------------
    def _axis_pieces(self, lo: float, hi: float) -> list[tuple[float, float, float]]:
        """(start, end, share of the nodes) along one axis. With a Gaussian envelope exp(-c r^2)
        the states are negligible beyond r = sqrt(18.4 / c) (envelope 1e-8): three quarters of
        the nodes go inside that core, an eighth to each tail (a narrow oscillator on a wide box
        would otherwise fall between the nodes)."""
        if self.envelope_rate <= 0:
            return [(lo, hi, 1.0)]
        centre, reach = 0.5 * (lo + hi), math.sqrt(18.4 / self.envelope_rate)
        if reach >= 0.8 * (0.5 * (hi - lo)):
            return [(lo, hi, 1.0)]
        return [(lo, centre - reach, 0.125), (centre - reach, centre + reach, 0.75), (centre + reach, hi, 0.125)]

    def _residual_rows(self, model: PlaneModel, state: int, E_s: float, x: torch.Tensor, y: torch.Tensor,
                       w: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        """sqrt(w) (-lap psi + (V - E) psi) / (E_s sqrt(1 / area)) at the nodes (x, y)."""
        psi, _, _, lap = self.psi(model, state, x, y)
        return w.sqrt() * (-lap + (V - model.energies[state]) * psi) / (E_s * math.sqrt(1.0 / self.area))

    def collocation(self, n_points: int, device, dtype, generator: torch.Generator | None = None) -> dict[str, Any]:
        """Tensor-product composite Gauss-Legendre rule with n_points / 4 nodes per axis (see
        `_axis_pieces`); with a generator the widest piece of each axis is cut at a random point."""
        per_axis = max(4, n_points // 4)
        axes = []
        for lo, hi in self.bounds:
            pieces = []
            for a, b, share in self._axis_pieces(lo, hi):
                count = max(4, round(share * per_axis))
                if generator is not None and share >= 0.5:
                    cut = a + (b - a) * (0.3 + 0.4 * float(torch.rand((), generator=generator, dtype=torch.float64)))
                    pieces += [(a, cut, max(2, count // 2)), (cut, b, max(2, count // 2))]
                else:
                    pieces.append((a, b, count))
            rules = [(gauss_legendre(n), a, b) for a, b, n in pieces]
            axes.append((np.concatenate([0.5 * (b - a) * x + 0.5 * (b + a) for (x, _), a, b in rules]),
                         np.concatenate([0.5 * (b - a) * w for (_, w), a, b in rules])))
        (xs, wx), (ys, wy) = axes
        X, Y = np.meshgrid(xs, ys)
        W = np.outer(wy, wx)
        as_tensor = lambda a: torch.as_tensor(a.ravel(), device=device, dtype=dtype)  # noqa: E731
        return {"x": as_tensor(X), "y": as_tensor(Y), "w": as_tensor(W), "V": as_tensor(self.potential(X, Y))}

    def loss_terms(self, model: PlaneModel, batch: Mapping[str, Any], stage: str,
                   part: int | None = None) -> dict[str, torch.Tensor]:
        """The terms of every state, or with `part` those of state `part` alone (see `parts`)."""
        if stage not in STAGE_TERMS:
            raise ConfigError(f"trainer phase stage {stage!r} is unknown; use one of {sorted(STAGE_TERMS)}")
        wanted = STAGE_TERMS[stage]
        x, y, w, V = batch["x"], batch["y"], batch["w"], batch["V"]
        E_s = float(self.energy_scale)
        energies = model.energies
        parts: dict[str, list[torch.Tensor]] = {name: [] for name in wanted}
        lower: list[tuple[torch.Tensor, torch.Tensor]] = []
        for j in range(self.n_states if part is None else part + 1):
            if part is not None and j != part:
                with torch.no_grad():
                    psi = self.psi(model, j, x, y)[0]
                lower.append((psi, (w * psi**2).sum()))
                continue
            psi, px, py, lap = self.psi(model, j, x, y)
            norm = (w * psi**2).sum()
            parts["normalization"].append((norm - 1.0).reshape(1))
            if "residual" in wanted:
                parts["residual"].append(Pointwise(functools.partial(self._residual_rows, model, j, E_s), x, y, w, V))
            if "consistency" in wanted:
                parts["consistency"].append(Deferred(
                    lambda j=j: ((energies[j] - self._fine_quotient(model, j, x)) / E_s).reshape(1)))
            if "rayleigh" in wanted:
                quotient = (w * (px**2 + py**2 + V * psi**2)).sum() / norm
                parts["rayleigh"].append(quotient / E_s)
                parts["eigen_tracking"].append(((energies[j] - quotient.detach()) / E_s).reshape(1))
            weight = WARMUP_ORTHOGONALITY if "rayleigh" in wanted else 1.0
            for psi_i, norm_i in lower:
                overlap = (w * psi_i * psi).sum() / torch.sqrt(norm_i * norm)
                parts["orthogonality"].append((weight * overlap).reshape(1))
            lower.append((psi.detach(), norm.detach()))
        terms = {}
        for name, pieces in parts.items():
            if name == "rayleigh":
                terms[name] = sum(pieces)
            elif name == "residual":
                terms[name] = Pointwise.join(pieces)
            elif name == "consistency":
                terms[name] = pieces[0] if len(pieces) == 1 else Deferred(lambda p=pieces: torch.cat([d() for d in p]))
            else:
                terms[name] = torch.cat(pieces) if pieces else energies.new_zeros(0)
        return terms

    def _fine_quotient(self, model: PlaneModel, state: int, like: torch.Tensor) -> torch.Tensor:
        """The Rayleigh quotient of `state` on the fine rule (cached per device and dtype)."""
        key = (like.device, like.dtype)
        if key not in self._fine_rules:
            self._fine_rules[key] = self.collocation(FINE_POINTS, like.device, like.dtype)
        x, y, w, V = (self._fine_rules[key][k] for k in ("x", "y", "w", "V"))
        psi, px, py, _ = self.psi(model, state, x, y)
        return (w * (px**2 + py**2 + V * psi**2)).sum() / (w * psi**2).sum()

    @cached_property
    def _fine_rules(self) -> dict:
        return {}

    @cached_property
    def estimator(self):
        """The a-posteriori error estimate of trained states (pinn.problems.plane.estimate)."""
        from pinn.problems.plane.estimate import PlaneEstimator

        return PlaneEstimator(self)

    def estimate(self, model: PlaneModel) -> dict[str, float]:
        return {f"E{j}": float(e) for j, e in enumerate(self.estimator(model).relative_error)}

    def misplaced_states(self, model: PlaneModel) -> list[int]:
        """States whose Rayleigh quotient sits above the midpoint to the next Galerkin level."""
        estimate = self.estimator(model)
        return [j for j, _, _ in skipped_levels(estimate.rayleigh, estimate.galerkin_levels)]

    def states_placed(self, model: PlaneModel) -> bool:
        """Every Rayleigh quotient nearer its own Galerkin level than any other (pinn.status.on_own_levels)."""
        return on_own_levels(self.estimator(model).rayleigh, self.estimator.galerkin[0])

    def restart_state(self, model: PlaneModel, state: int) -> tuple[nn.Module, Any]:
        """E to the Galerkin level of `state`; the rows sqrt(w) (psi - g) and the same of its
        gradient (over sqrt(E_s)) on the warm-up's rule, g the Galerkin eigenfunction signed to
        agree with psi. Values alone left the fitted state's Rayleigh quotient 10% above g's."""
        levels = self.estimator.galerkin[0]
        param = model.energy_raw
        with torch.no_grad():
            param[state] = float(levels[state]) / model.energy_scale
        batch = self.collocation(FINE_POINTS, param.device, param.dtype)
        x, y, w = batch["x"], batch["y"], batch["w"]
        target = torch.stack([torch.as_tensor(f, device=param.device, dtype=param.dtype) for f in
                              self.estimator.galerkin_function(state, x.cpu().double().numpy(), y.cpu().double().numpy())], -1)
        with torch.no_grad():
            if float((w * self.psi(model, state, x, y)[0] * target[:, 0]).sum()) < 0:
                target = -target
        return model.states[state], lambda: Pointwise(functools.partial(self._fit_rows, model, state), x, y, w, target)

    def _fit_rows(self, model: PlaneModel, state: int, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor,
                  target: torch.Tensor) -> torch.Tensor:
        """sqrt(w) (psi - g, (psi_x - g_x) / sqrt(E_s), (psi_y - g_y) / sqrt(E_s)) at the nodes (x, y)."""
        psi, px, py, _ = self.psi(model, state, x, y)
        unit = math.sqrt(float(self.energy_scale))
        return w.sqrt()[:, None] * (torch.stack([psi, px / unit, py / unit], -1)
                                    - target * target.new_tensor([1.0, 1 / unit, 1 / unit]))

    def parts(self, model: PlaneModel) -> dict[str, torch.Tensor] | None:
        """One part per state: state j's rows see the lower states only as fixed data."""
        return owners_by_state(model)

    def part_estimates(self, model: PlaneModel) -> list[str] | None:
        return state_estimates(model)

    def start_stage(self, model: PlaneModel, stage: str) -> None:
        """Before a solve phase, order the states by their Rayleigh quotients (a state trained on
        the complement of the others may have found a lower level than they did). Not before the
        warm-up: the untrained networks are all near p-states (an MLP with zero biases is odd at
        the centre), and the one with the lowest quotient, made the ground state, tends to stall
        in a too-narrow Gaussian (E about 2.0067 for harmonic2d, against 2.00002 from its own
        start)."""
        if stage == "warmup":
            return
        batch = self.collocation(128, model.energy_raw.device, model.energy_raw.dtype)
        x, y, w, V = batch["x"], batch["y"], batch["w"], batch["V"]
        with torch.no_grad():
            quotients = []
            for j in range(self.n_states):
                psi, px, py, _ = self.psi(model, j, x, y)
                quotients.append(float((w * (px**2 + py**2 + V * psi**2)).sum() / (w * psi**2).sum()))
            order = [int(k) for k in np.argsort(quotients, kind="stable")]
            if order != list(range(self.n_states)):
                model.states = nn.ModuleList([model.states[k] for k in order])
                model.energy_raw.copy_(model.energy_raw[order].clone())

    def observables(self, model: PlaneModel) -> dict[str, torch.Tensor]:
        return {f"E{j}": model.energies[j].detach() for j in range(self.n_states)}


@register("box2d")
class Box2D(PlaneProblem):
    """V = 0 on [0, Lx] x [0, Ly]: E = pi^2 (m^2 / Lx^2 + n^2 / Ly^2), degenerate when Lx = Ly."""

    def __init__(self, Lx: float = 1.0, Ly: float = 1.0, n_states: int = 1):
        super().__init__(n_states)
        self.Lx = check_length("Lx", Lx, longest=1e4, what="width of the box")
        self.Ly = check_length("Ly", Ly, longest=1e4, what="height of the box")
        short, long = sorted([("Lx", self.Lx), ("Ly", self.Ly)], key=lambda kv: kv[1])
        check_ratio(*short, *long, 1e3)
        self.bounds = ((0.0, self.Lx), (0.0, self.Ly))

    def potential(self, x, y):
        return 0.0 * x + 0.0 * y

    def exact_levels(self) -> np.ndarray:
        return box_levels(self.Lx, self.Ly, self.n_states)


@register("harmonic2d")
class Harmonic2D(PlaneProblem):
    """V = omega^2 (x^2 + y^2) on [-L, L]^2; on the whole plane E = 2 omega (n_x + n_y + 1), level
    k being (k + 1)-fold degenerate."""

    def __init__(self, omega: float = 1.0, L: float = 5.0, n_states: int = 1):
        super().__init__(n_states)
        self.omega = check_number("omega", omega, low=0.0, high=1e3, what="oscillator frequency")
        self.L = check_length("L", L, longest=1e3, what="half-width of the square [-L, L]^2")
        self.bounds = ((-self.L, self.L), (-self.L, self.L))
        self.envelope_rate = 0.5 * self.omega

    def potential(self, x, y):
        return self.omega**2 * (x * x + y * y)
