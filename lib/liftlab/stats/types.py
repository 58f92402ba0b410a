"""Names that the statistics share with the plan and the command line.

This module imports nothing heavy: ``liftlab --help`` reads :data:`MetricType` for the choices
of ``liftlab design --type`` without loading NumPy or SciPy.
"""

from __future__ import annotations

from typing import Literal

MetricType = Literal["proportion", "mean", "ratio"]
"""A metric's statistical type: a share of units (``proportion``), a per-unit average
(``mean``) or a ratio of two per-unit sums (``ratio``, by the delta method)."""
