"""Real gas properties for the CH4/air flames: a mechanism read through Cantera
(`mechanism.py`) and its thermodynamics, transport and kinetics evaluated in torch
(`properties.py`), so that the PINN and Cantera's reference solve the same equations."""

from pinn.chemistry.mechanism import DEFAULT_MECHANISM, Mechanism, load_mechanism, require_cantera
from pinn.chemistry.properties import GasProperties, burnt_state

__all__ = ["DEFAULT_MECHANISM", "GasProperties", "burnt_state", "Mechanism", "load_mechanism", "require_cantera"]
