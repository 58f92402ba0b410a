"""Sequential monitoring (plans with ``analysis.method: sequential``): always-valid p-values
and confidence sequences (mSPRT or asymptotic), or a group-sequential test over the planned
looks, on the cumulative sums at the end of each day (:mod:`liftlab.monitor`,
:mod:`liftlab.stats.sequential`). Its p-value is the one the plan decides by."""

from __future__ import annotations

import datetime as dt

from liftlab.methods.base import MetricInput, Need, Scope
from liftlab.monitor import SequentialView, always_valid_view, group_sequential_view
from liftlab.plan import Metric, Plan
from liftlab.stats.moments import Moments

name = "sequential"
order = 20
needs: Need = "daily"
scope: Scope = "comparison"


def applies(plan: Plan, metric: Metric) -> bool:
    return plan.analysis.method == "sequential"


def run(inp: MetricInput) -> dict[str, SequentialView]:
    return {v: _one(inp, v) for v in inp.treatments}


def looks(inp: MetricInput, variant: str) -> tuple[list[dt.date], list[tuple[Moments, Moments]]]:
    """The days and the cumulative (control, treatment) moments at the end of each.

    Only the two arms compared are added up (a tournament of hundreds of creatives would
    otherwise add every arm for every comparison).
    """
    assert inp.daily is not None
    control, treatment = inp.daily[inp.control], inp.daily[variant]
    days, out = [], []
    c_run = t_run = Moments(0, 0.0, 0.0)
    for k, day in enumerate(inp.days):
        c_run, t_run = c_run + control[k], t_run + treatment[k]
        days.append(day)
        out.append((c_run, t_run))
    return days, out


def _one(inp: MetricInput, variant: str) -> SequentialView:
    a = inp.plan.analysis
    spec = a.sequential
    days, cumulative = looks(inp, variant)
    n_planned = spec.planned_n or inp.planned_n
    if spec.kind == "group-sequential":
        if n_planned is None:
            raise ValueError("group-sequential needs analysis.sequential.planned_n")
        return group_sequential_view(
            days,
            cumulative,
            inp.test,
            alpha=a.alpha,
            planned_n=n_planned,
            planned_looks=spec.looks,
            spending=spec.spending,
        )
    tau = spec.tau
    if tau is None and spec.kind == "msprt":
        control_mean = inp.effects[variant].control_mean
        tau = a.mde * abs(control_mean) if a.mde_type == "relative" else a.mde
        if not tau > 0:
            raise ValueError("the mSPRT needs analysis.sequential.tau (control mean is zero)")
    if spec.kind == "asymptotic-cs" and n_planned is None:
        raise ValueError("asymptotic-cs needs analysis.sequential.planned_n")
    return always_valid_view(
        days, cumulative, inp.test, alpha=a.alpha, kind=spec.kind, tau=tau, planned_n=n_planned
    )
