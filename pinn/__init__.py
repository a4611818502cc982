"""pinn: physics-informed neural networks for eigenproblems, checked against independent references."""

__version__ = "0.1.0"
