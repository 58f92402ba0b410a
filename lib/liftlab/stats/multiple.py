"""Multiple-testing corrections of a family of p-values.

The family in liftlab is every primary metric × every treatment variant (each compared with
control). Names and definitions (all return adjusted p-values, capped at 1, comparable with
α; they equal ``statsmodels.stats.multitest.multipletests`` with the method in brackets):

- ``none``: the raw p-values.
- ``bonferroni`` (``bonferroni``): ``min(1, m·p)``; controls the family-wise error rate (FWER).
- ``holm`` (``holm``, the **default**): Holm's step-down, ``max_{j≤i} min(1, (m−j+1)·p_(j))``;
  FWER, uniformly more powerful than Bonferroni (Holm, 1979).
- ``hochberg`` (``simes-hochberg``): Hochberg's step-up, ``min_{j≥i} (m−j+1)·p_(j)``; FWER
  under independence or positive dependence (Hochberg, 1988).
- ``bh`` (``fdr_bh``): Benjamini–Hochberg step-up, ``min_{j≥i} m·p_(j)/j``; controls the
  false discovery rate (FDR) under independence or positive dependence (1995). The sensible
  choice for large creative tournaments.
- ``by`` (``fdr_by``): Benjamini–Yekutieli, BH times ``c(m) = Σ 1/k``; FDR under any
  dependence (2001).

NaN p-values (comparisons that could not be computed) are left out of the family and stay NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

CORRECTIONS = ("none", "bonferroni", "holm", "hochberg", "bh", "by")


def adjust_pvalues(pvalues: Sequence[float], method: str = "holm") -> list[float]:
    """Adjusted p-values, in the input order, for correction ``method`` (see module doc)."""
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction '{method}'; use one of {', '.join(CORRECTIONS)}")
    p_all = np.asarray(pvalues, dtype=float)
    out = np.full(p_all.shape, math.nan)
    ok = ~np.isnan(p_all)
    p = p_all[ok]
    m = p.size
    if m == 0:
        return out.tolist()
    if method == "none":
        adj = p.copy()
    elif method == "bonferroni":
        adj = np.minimum(1.0, m * p)
    else:
        order = np.argsort(p, kind="stable")
        ps = p[order]
        rank = np.arange(1, m + 1)
        if method == "holm":
            adj_sorted = np.maximum.accumulate(np.minimum(1.0, (m - rank + 1) * ps))
        elif method == "hochberg":
            adj_sorted = np.minimum.accumulate(((m - rank + 1) * ps)[::-1])[::-1]
        else:
            factor = 1.0 if method == "bh" else float(np.sum(1.0 / rank))
            adj_sorted = np.minimum.accumulate((factor * m * ps / rank)[::-1])[::-1]
        adj = np.empty(m)
        adj[order] = np.minimum(1.0, adj_sorted)
    out[ok] = adj
    return out.tolist()
