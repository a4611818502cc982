"""Two-dimensional Schrödinger problems on a rectangle: the box and the isotropic oscillator."""

from pinn.problems.plane import problem  # noqa: F401  (importing registers the problems)
