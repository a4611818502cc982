"""The report of a flame_fpp run: T, u, Y_F and omega against the reference (with the observations
of an inverse run), the temperature error and the residual in the phase plane, the losses and the
error of s_L against step."""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Mapping

import numpy as np
from matplotlib.figure import Figure

from pinn.io.figures import field_error_figure, field_history_figures, fields_figure
from pinn.io.summary import field_summary
from pinn.problems.registry import Report, register_report

PANELS = (("T", "T (K)"), ("u", "u (m/s)"), ("Y_F", "fuel mass fraction Y_F"),
          ("omega", "reaction rate omega (kg/m^3/s)"))


def figures(metrics: Mapping[str, Any], history: Mapping[str, np.ndarray],
            solution: Mapping[str, np.ndarray]) -> dict[str, Callable[[], Figure]]:
    return {"fields": partial(fields_figure, solution, PANELS, metrics),
            "error": partial(field_error_figure, solution, "theta", "theta = (T - T_in) / (T_max - T_in)"),
            **field_history_figures(metrics, history)}


REPORT = register_report(Report("flame_fpp", figures, field_summary))
