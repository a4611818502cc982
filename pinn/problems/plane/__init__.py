"""Two-dimensional Schrödinger problems on a rectangle: the box and the isotropic oscillator."""

from pinn.problems.plane import problem, report  # noqa: F401  (importing registers problems and report)

__all__ = ["problem", "report"]
