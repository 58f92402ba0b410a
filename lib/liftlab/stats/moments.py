"""Sufficient statistics: the contract between the data engine and the statistics.

One :class:`Moments` holds, for one group of units (a variant, a segment, a day), the count
``n`` and the sums needed by every analysis in liftlab:

- ``sum_y``, ``sum_y2`` for the metric value ``y`` (or a ratio's numerator),
- ``sum_x``, ``sum_x2`` for the second variable ``x`` (a ratio's denominator or a CUPED
  covariate), and ``sum_xy`` for their cross-product.

Moments add (``a + b``), so groups re-aggregate exactly. Variances use the unbiased ``n - 1``
denominator, as scipy's ``ddof=1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Moments:
    """Count and sums of ``y``, ``x``, their squares and cross-product for one group."""

    n: int
    sum_y: float
    sum_y2: float
    sum_x: float = 0.0
    sum_x2: float = 0.0
    sum_xy: float = 0.0

    def __add__(self, other: Moments) -> Moments:
        return Moments(
            self.n + other.n,
            self.sum_y + other.sum_y,
            self.sum_y2 + other.sum_y2,
            self.sum_x + other.sum_x,
            self.sum_x2 + other.sum_x2,
            self.sum_xy + other.sum_xy,
        )

    @classmethod
    def from_arrays(cls, y, x=None) -> Moments:  # type: ignore[no-untyped-def]
        """Moments of unit-level arrays (for tests and resampling; the engine computes sums)."""
        import numpy as np

        y = np.asarray(y, dtype=float)
        if x is None:
            return cls(int(y.size), float(y.sum()), float((y * y).sum()))
        x = np.asarray(x, dtype=float)
        return cls(
            int(y.size),
            float(y.sum()),
            float((y * y).sum()),
            float(x.sum()),
            float((x * x).sum()),
            float((x * y).sum()),
        )

    # ----- y ---------------------------------------------------------------------------------
    @property
    def mean_y(self) -> float:
        return self.sum_y / self.n if self.n else math.nan

    @property
    def var_y(self) -> float:
        """Sample variance of ``y`` (``n - 1`` denominator)."""
        return _centered(self.sum_y2, self.sum_y, self.sum_y, self.n, variance=True)

    # ----- x ---------------------------------------------------------------------------------
    @property
    def mean_x(self) -> float:
        return self.sum_x / self.n if self.n else math.nan

    @property
    def var_x(self) -> float:
        """Sample variance of ``x`` (``n - 1`` denominator)."""
        return _centered(self.sum_x2, self.sum_x, self.sum_x, self.n, variance=True)

    @property
    def cov_xy(self) -> float:
        """Sample covariance of ``x`` and ``y`` (``n - 1`` denominator)."""
        return _centered(self.sum_xy, self.sum_x, self.sum_y, self.n)

    # ----- centred sums (n - 1 times the sample (co)variances) --------------------------------
    @property
    def ss_y(self) -> float:
        return self.var_y * (self.n - 1)

    @property
    def ss_x(self) -> float:
        return self.var_x * (self.n - 1)

    @property
    def sp_xy(self) -> float:
        return self.cov_xy * (self.n - 1)


def _centered(
    sum_ab: float, sum_a: float, sum_b: float, n: int, *, variance: bool = False
) -> float:
    """(Σab − ΣaΣb/n) / (n − 1); a variance is clipped at 0 where rounding made it negative."""
    if n < 2:
        return math.nan
    value = (sum_ab - sum_a * sum_b / n) / (n - 1)
    return max(value, 0.0) if variance else value
