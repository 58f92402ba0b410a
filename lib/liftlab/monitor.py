"""The sequential view of a comparison: its effect at every daily look, monitored validly.

The engine returns per-variant × day sufficient statistics (see :mod:`liftlab.aggregate`);
their running sums are the cumulative data at the end of each day. At each look the same test
as the fixed-horizon analysis (Welch, delta method or CUPED, :mod:`liftlab.stats.frequentist`)
gives the effect moments ``(Δ̂_n, V_n)``, which :mod:`liftlab.stats.sequential` turns into:

- ``msprt`` / ``asymptotic-cs``: an always-valid p-value (never increasing) and confidence
  sequence at every daily look; the analyst may stop on any day.
- ``group-sequential``: the looks are the first days on which the cumulative units reach each
  planned information fraction ``k/looks`` of ``planned_n`` per arm (fraction =
  ``(n_c + n_t) / (2 · planned_n)``); each is compared with its Lan–DeMets boundary,
  recomputed for the information actually observed at the looks taken so far. The interval
  shown at a look is the repeated confidence interval ``Δ̂ ± c_k · se`` with that look's
  boundary ``c_k`` (Jennison & Turnbull, 2000, ch. 9): all of them cover the effect at once
  with probability at least ``1 − α``.
- The estimate, its standard error and the fixed-horizon test at each look use the metric's
  own test (Welch t; delta-method z for ratios; CUPED with θ re-estimated from the data so
  far); the sequential methods take its variance as known (normal approximation).
- ``fixed-horizon`` (:func:`fixed_horizon_view`, for plans that are not sequential): that
  same test at every daily look with its *pointwise* interval and p-value, to show how the
  effect settles (or fades: a novelty effect) over the days. It is a picture, not a stopping
  rule: see the function's docstring. :func:`fixed_horizon_views` gives every treatment's
  view of a metric at once, the numbers of :func:`fixed_horizon_view` to the last bit, from
  numpy arrays: an export of a thousand ads has thirteen thousand looks per metric.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from liftlab.stats.frequentist import Effect, MomentArrays, abs_effects
from liftlab.stats.moments import Moments
from liftlab.stats.sequential import always_valid_arrays, boundaries

EffectFn = Callable[[Moments, Moments], Effect]


@dataclass(frozen=True, slots=True)
class Look:
    """One daily look: cumulative units, effect and interval, and the sequential verdict.

    For always-valid methods ``p_value`` is the always-valid p-value and ``ci`` the confidence
    sequence; for group-sequential looks ``z`` is compared with ``boundary``. In a
    :class:`CumulativeView` (``fixed-horizon``) ``p_value`` and ``ci`` are the fixed-horizon
    test's own, pointwise, and ``rejected`` stays ``False``: no look decides anything.
    """

    day: dt.date
    n_control: int
    n_treatment: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float | None = None
    z: float | None = None
    boundary: float | None = None
    information_fraction: float | None = None
    rejected: bool = False

    json_fields: ClassVar = (
        "day",
        "n_control",
        "n_treatment",
        "estimate",
        "se",
        "ci",
        "p_value",
        "z",
        "boundary",
        "information_fraction",
        "rejected",
    )

    @property
    def ci(self) -> tuple[float, float]:
        """``(ci_low, ci_high)``."""
        return (self.ci_low, self.ci_high)


@dataclass(frozen=True, slots=True)
class SequentialView:
    """A comparison monitored over its daily looks."""

    kind: str
    alpha: float
    looks: tuple[Look, ...]
    p_value: float | None
    ci: tuple[float, float]
    rejected: bool
    first_rejection: dt.date | None
    tau: float | None = None
    planned_n: int | None = None
    spending: str | None = None
    status: str = "continue"
    note: str | None = None

    json_fields: ClassVar = (
        "kind",
        "status",
        "p_value",
        "ci",
        "rejected",
        "first_rejection",
        "tau",
        "planned_n",
        "spending",
        "note",
        "looks",
    )


@dataclass(frozen=True, slots=True)
class CumulativeView:
    """A comparison's fixed-horizon test repeated on the cumulative data of each day.

    ``looks[k]`` holds the estimate, standard error, pointwise ``1 − alpha`` interval and
    p-value of the metric's own test on all units exposed up to and including ``looks[k].day``.
    See :func:`fixed_horizon_view`.
    """

    kind: str
    alpha: float
    looks: tuple[Look, ...]


def _effects(
    days: Sequence[dt.date],
    looks: Sequence[tuple[Moments, Moments]],
    test: EffectFn,
) -> tuple[np.ndarray, np.ndarray, list[Effect]]:
    effects = [test(c, t) for c, t in looks]
    est = np.array([e.abs_effect for e in effects], dtype=float)
    var = np.array([e.abs_se**2 for e in effects], dtype=float)
    return est, var, effects


def always_valid_view(
    days: Sequence[dt.date],
    looks: Sequence[tuple[Moments, Moments]],
    test: EffectFn,
    *,
    alpha: float,
    kind: str = "msprt",
    tau: float | None = None,
    planned_n: int | None = None,
) -> SequentialView:
    """Always-valid p-values and confidence sequences at every look (``msprt`` or
    ``asymptotic-cs``; ``planned_n`` is per arm for the latter's tuning)."""
    est, var, _ = _effects(days, looks, test)
    n_total = np.array([c.n + t.n for c, t in looks], dtype=float)
    res = always_valid_arrays(
        est,
        var,
        alpha=alpha,
        method=kind,  # type: ignore[arg-type]
        tau=tau,
        n_total=n_total,
        planned_n=2 * planned_n if planned_n else None,
    )
    rows = tuple(
        Look(
            day=d,
            n_control=c.n,
            n_treatment=t.n,
            estimate=float(est[k]),
            se=float(math.sqrt(var[k])) if var[k] >= 0 else math.nan,
            ci_low=float(res.ci_low[k]),
            ci_high=float(res.ci_high[k]),
            p_value=float(res.p_value[k]),
            rejected=bool(res.rejected[k]),
        )
        for k, (d, (c, t)) in enumerate(zip(days, looks, strict=True))
    )
    first = next((r.day for r in rows if r.rejected), None)
    last = rows[-1]
    note = None
    if last.ci_low > last.ci_high:
        note = "the confidence sequences of the looks do not overlap: the effect changed over time"
    return SequentialView(
        kind=kind,
        alpha=alpha,
        looks=rows,
        p_value=last.p_value,
        ci=(last.ci_low, last.ci_high),
        rejected=first is not None,
        first_rejection=first,
        tau=tau if kind == "msprt" else None,
        planned_n=planned_n,
        status="reject" if first is not None else "continue",
        note=note,
    )


def group_sequential_view(
    days: Sequence[dt.date],
    looks: Sequence[tuple[Moments, Moments]],
    test: EffectFn,
    *,
    alpha: float,
    planned_n: int,
    planned_looks: int,
    spending: str = "obrien-fleming",
) -> SequentialView:
    """Lan–DeMets group-sequential test at the planned looks reached so far."""
    info = [(c.n + t.n) / (2 * planned_n) for c, t in looks]
    chosen = _planned_looks(info, planned_looks)
    if not chosen:  # the first planned look is not reached yet: show the data so far
        return _before_first_look(
            days, looks, test, info, alpha, planned_n, planned_looks, spending
        )
    fractions = [min(info[i], 1.0) for i in chosen]
    bounds = boundaries(fractions, alpha, spending)  # type: ignore[arg-type]
    sel_days = [days[i] for i in chosen]
    sel_looks = [looks[i] for i in chosen]
    est, var, _ = _effects(sel_days, sel_looks, test)
    rows_list = []
    stopped = None
    for k, (d, (c, t)) in enumerate(zip(sel_days, sel_looks, strict=True)):
        se = float(math.sqrt(var[k]))
        z = float(est[k] / se) if se > 0 else math.nan
        crossed = bool(abs(z) >= bounds[k]) if math.isfinite(z) else False
        if crossed and stopped is None:
            stopped = d
        rows_list.append(
            Look(
                d,
                c.n,
                t.n,
                float(est[k]),
                se,
                float(est[k] - bounds[k] * se),
                float(est[k] + bounds[k] * se),
                z=z,
                boundary=float(bounds[k]),
                information_fraction=info[chosen[k]],
                rejected=crossed,
            )
        )
    rows = tuple(rows_list)
    done = len(chosen) == planned_looks
    status = "reject" if stopped else ("fail-to-reject" if done else "continue")
    last = rows[-1]
    return SequentialView(
        kind="group-sequential",
        alpha=alpha,
        looks=rows,
        p_value=None,
        ci=(last.ci_low, last.ci_high),
        rejected=stopped is not None,
        first_rejection=stopped,
        planned_n=planned_n,
        spending=spending,
        status=status,
    )


def _planned_looks(info: Sequence[float], planned_looks: int) -> list[int]:
    """The index of the first day reaching each planned information fraction ``k/K``, for
    the planned looks reached so far (a day reaching two counts once)."""
    chosen: list[int] = []
    for k in range(1, planned_looks + 1):
        target = k / planned_looks
        day = next((i for i, f in enumerate(info) if f >= target - 1e-12), None)
        if day is None:
            break
        if day not in chosen:
            chosen.append(day)
    return chosen


def _before_first_look(
    days: Sequence[dt.date],
    looks: Sequence[tuple[Moments, Moments]],
    test: EffectFn,
    info: Sequence[float],
    alpha: float,
    planned_n: int,
    planned_looks: int,
    spending: str,
) -> SequentialView:
    """The data so far, without boundaries, before the first planned look."""
    est, var, _ = _effects(days, looks, test)
    rows = tuple(
        Look(
            d,
            c.n,
            t.n,
            float(est[k]),
            float(math.sqrt(var[k])),
            math.nan,
            math.nan,
            information_fraction=info[k],
        )
        for k, (d, (c, t)) in enumerate(zip(days, looks, strict=True))
    )
    return SequentialView(
        kind="group-sequential",
        alpha=alpha,
        looks=rows,
        p_value=None,
        ci=(math.nan, math.nan),
        rejected=False,
        first_rejection=None,
        planned_n=planned_n,
        spending=spending,
        status="continue",
        note=f"the first planned look (at {1 / planned_looks:.0%} of {planned_n:,} units "
        "per arm) is not reached yet",
    )


def fixed_horizon_view(
    days: Sequence[dt.date],
    looks: Sequence[tuple[Moments, Moments]],
    test: EffectFn,
    *,
    alpha: float,
) -> CumulativeView:
    """The fixed-horizon test at every daily look, with its *pointwise* interval (kind
    ``fixed-horizon``).

    ``looks`` are the cumulative ``(control, treatment)`` moments at the end of each of
    ``days``; ``test`` is the metric's own test (Welch t, delta-method z, CUPED), at level
    ``alpha``. Each look is exactly the fixed-horizon analysis had the test ended that day, so
    the last look (all the data) equals the final analysis.

    The intervals and p-values are pointwise: each covers the effect with probability
    ``1 − alpha`` on its own day only. They are **not valid for stopping**: checking them every
    day and stopping the first time the interval leaves 0 ("peeking") gives false positives
    far more often than ``alpha``. Only an always-valid view (:func:`always_valid_view`) or a
    planned group-sequential design (:func:`group_sequential_view`) may be acted on before the
    planned end. This view shows how the effect evolves: an interval that narrows and settles,
    or an effect that shrinks over the days (a novelty effect).
    """
    _, _, effects = _effects(days, looks, test)
    for e in effects:
        if not math.isclose(e.alpha, alpha):
            raise ValueError(f"the test runs at alpha = {e.alpha:g}, not {alpha:g}")
    rows = tuple(
        Look(
            day=d,
            n_control=c.n,
            n_treatment=t.n,
            estimate=e.abs_effect,
            se=e.abs_se,
            ci_low=e.abs_ci[0],
            ci_high=e.abs_ci[1],
            p_value=e.p_value,
        )
        for d, (c, t), e in zip(days, looks, effects, strict=True)
    )
    return CumulativeView(kind="fixed-horizon", alpha=alpha, looks=rows)


def fixed_horizon_views(
    days: Sequence[dt.date],
    control: Sequence[Moments],
    treatments: Mapping[str, Sequence[Moments]],
    method: str,
    *,
    alpha: float,
) -> dict[str, CumulativeView]:
    """:func:`fixed_horizon_view` of every treatment against one control, at once.

    ``control`` and each of ``treatments`` are the *daily* (not cumulative) moments of
    ``days``; their running sums are the looks. ``method`` names the metric's test as
    :func:`liftlab.stats.frequentist.abs_effects` does (``welch-t``, ``cuped-welch-t``,
    ``delta-z``, ``delta-t``). The estimates, standard errors, pointwise intervals and
    p-values equal those of the scalar tests look by look.
    """
    names = list(treatments)
    if not names:
        return {}
    ctrl = MomentArrays.of([control]).cumsum()
    treat = MomentArrays.of([treatments[v] for v in names]).cumsum()
    eff = abs_effects(method, ctrl, treat, alpha=alpha)
    n_c = ctrl.n[0].tolist()
    columns = [a.tolist() for a in (treat.n, eff.estimate, eff.se, eff.ci_low, eff.ci_high)]
    p_values = eff.p_value.tolist()
    views = {}
    for i, v in enumerate(names):
        n_t, est, se, low, high = (col[i] for col in columns)
        p = p_values[i]
        looks = tuple(
            Look(d, n_c[k], n_t[k], est[k], se[k], low[k], high[k], p_value=p[k])
            for k, d in enumerate(days)
        )
        views[v] = CumulativeView(kind="fixed-horizon", alpha=alpha, looks=looks)
    return views
