"""Real gas properties for the CH4/air flames: a mechanism read through Cantera
(`mechanism.py`, numpy only, shared with the Cantera references), its thermodynamics, transport
and kinetics in torch (`properties.py`) and the flame equations written with them
(`flame_equations.py`), so that the PINN and Cantera solve the same equations. Import the
submodules; this package imports nothing, so the references never load torch."""
