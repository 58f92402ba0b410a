"""Sample-ratio mismatch (SRM): do the observed unit counts fit the planned weights?

Pearson's χ² goodness-of-fit test, ``Σ (O_i − N·w_i)² / (N·w_i)`` with ``k − 1`` degrees of
freedom (equal to ``scipy.stats.chisquare``). A mismatch is flagged when ``p < srm_alpha``
(0.001 by default: the check runs on every test, so it must rarely cry wolf; a real SRM on
thousands of units gives far smaller p-values). An SRM means the assignment or logging is
broken and effect estimates cannot be trusted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from liftlab.startup import lazy_module

sc = lazy_module("scipy.special")  # loaded on first use


@dataclass(frozen=True, slots=True)
class SRMResult:
    """Observed counts, expected weights, the χ² statistic and p-value, and the verdict."""

    counts: dict[str, int]
    expected_weights: dict[str, float]
    statistic: float
    df: int
    p_value: float
    alpha: float

    json_fields: ClassVar = (
        "p_value",
        "statistic",
        "df",
        "counts",
        "expected_weights",
        "mismatch",
        "alpha",
    )

    @property
    def mismatch(self) -> bool:
        return bool(self.p_value < self.alpha)

    @property
    def observed_shares(self) -> dict[str, float]:
        total = sum(self.counts.values())
        return {k: (v / total if total else math.nan) for k, v in self.counts.items()}


def srm_test(
    counts: Mapping[str, int], weights: Mapping[str, float], *, alpha: float = 0.001
) -> SRMResult:
    """Pearson χ² test of ``counts`` against planned ``weights`` (normalised to sum to 1)."""
    names = list(weights)
    total_w = sum(weights.values())
    w = {k: weights[k] / total_w for k in names}
    obs = {k: int(counts.get(k, 0)) for k in names}
    n = sum(obs.values())
    if n == 0:
        return SRMResult(obs, w, math.nan, len(names) - 1, math.nan, alpha)
    stat = sum((obs[k] - n * w[k]) ** 2 / (n * w[k]) for k in names)
    df = len(names) - 1
    p = float(sc.chdtrc(df, stat))  # the chi-square survival function, as scipy.stats.chi2.sf
    return SRMResult(obs, w, float(stat), df, p, alpha)
