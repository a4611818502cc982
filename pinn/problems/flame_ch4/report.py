"""The reports of the CH4/air flames: T, u (and V) and the major species against Cantera's (with the
observations of an inverse run), the temperature error and the residual against the collocation
coordinate, the losses and the error of the eigenvalue (s_L, Lambda) against step. The free flame
is shown around its flame zone, the counterflow flame across the whole gap."""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Mapping

import numpy as np
from matplotlib.figure import Figure

from pinn.io.figures import field_error_figure, field_history_figures, fields_figure
from pinn.io.summary import field_summary
from pinn.problems.registry import Report, register_report

SPECIES_PANELS = (("Y_CH4", "Y CH4"), ("Y_O2", "Y O2"), ("Y_CO2", "Y CO2"), ("Y_H2O", "Y H2O"))
FREE_PANELS = (("T", "T (K)"), ("u", "u (m/s)"), *SPECIES_PANELS)
COUNTERFLOW_PANELS = (*FREE_PANELS, ("V", "spread rate V = v / r (1/s)"))


def free_figures(metrics: Mapping[str, Any], history: Mapping[str, np.ndarray],
                 solution: Mapping[str, np.ndarray]) -> dict[str, Callable[[], Figure]]:
    return {"fields": partial(fields_figure, solution, FREE_PANELS, metrics),
            "error": partial(field_error_figure, solution, "theta", "theta = (T - T_in) / (T_b - T_in)"),
            **field_history_figures(metrics, history)}


def counterflow_figures(metrics: Mapping[str, Any], history: Mapping[str, np.ndarray],
                        solution: Mapping[str, np.ndarray]) -> dict[str, Callable[[], Figure]]:
    return {"fields": partial(fields_figure, solution, COUNTERFLOW_PANELS, metrics, window=False),
            "error": partial(field_error_figure, solution, "s", "mapped coordinate s"),
            **field_history_figures(metrics, history)}


FREE = register_report(Report("flame_ch4", free_figures, field_summary))
COUNTERFLOW = register_report(Report("flame_counterflow", counterflow_figures, field_summary))
