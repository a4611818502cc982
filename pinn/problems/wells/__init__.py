"""One-dimensional Schrödinger problems: the step wells (exact references) and smooth potentials."""

from pinn.problems.wells import smooth, steps  # noqa: F401  (importing registers the problems)
