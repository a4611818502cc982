"""Physical constants and unit factors, once, with their units in their names. Plain numbers: the
references import them too, without importing any PINN code."""

# N_A k_B, exact in SI; the units of Cantera and of the CH4 mechanism (kmol)
GAS_CONSTANT_J_PER_KMOL_K = 6.02214076e26 * 1.380649e-23
# the value of FlamePINN-1D's Case 1 setup, used by flame_fpp and its reference (CODATA's
# 8.314462618 would move s_L by -1.3e-5)
GAS_CONSTANT_J_PER_MOL_K_FLAMEPINN = 8.3145
J_PER_KMOL_PER_J_PER_MOL = 1000.0
