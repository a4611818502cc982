"""pinn: physics-informed neural networks for eigenproblems, checked against independent references.

    from pinn import solve
    result = solve("finite_well", V0=30, n_states=2)
    result.eigenvalues, result.reference_eigenvalues, result.relative_errors
"""

__version__ = "0.1.0"
__all__ = ["Result", "load", "solve"]


def __getattr__(name: str):
    """The API is imported on first use, so `import pinn` stays light."""
    if name in __all__:
        from pinn import api

        return getattr(api, name)
    raise AttributeError(f"module 'pinn' has no attribute {name!r}")
