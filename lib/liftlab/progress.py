"""Sample-size progress, told honestly: against a planned size only when the plan planned one.

A test has a *planned size* when its plan says what it was planned for:

- ``design.n_per_variant`` (a size fixed by the team), or
- an explicit ``analysis.mde`` and a ``baseline`` on every primary metric: the size is
  :func:`liftlab.design.design_plan` for that MDE (the plan's ``baseline_sd`` or, where a mean
  or ratio metric gives none, the control arm's observed variance).

Without either, liftlab does not invent one (the default MDE is not a plan): it says that
no size was planned and shows the smallest relative effect the sample collected so far can
detect (:attr:`Progress.detectable_effect`; power and α from the plan, the primary metric's
observed control mean and variance, the correction across arms and primary metrics).

Sequential plans: a group-sequential plan's planned size is its maximum (the fixed-horizon
size times the design's inflation factor). An always-valid plan (mSPRT, asymptotic confidence
sequence) has no maximum: it may run until it rejects, so progress shows the units so far,
the units by which it reaches the plan's power at the planned MDE with daily looks
(``always_valid_n``, :func:`liftlab.design.design_plan`) and, for reference, the
fixed-horizon size for the same MDE (``reference_n``).

Days to go: at the observed daily traffic of the smallest variant (units per day over the
days with traffic), and at the planned traffic (``design.daily_units`` × the smallest planned
share) when the plan gives it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from liftlab.errors import LiftlabError

if TYPE_CHECKING:
    from liftlab.aggregate import UnitStats
    from liftlab.plan import Plan


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a test stands against its plan.

    Attributes:
        smallest: units in the smallest variant so far.
        planned_n: units per variant the plan planned for, or ``None`` (see the module doc).
        basis: what ``planned_n`` comes from, in words (``None`` without one).
        always_valid: the plan is always-valid sequential (no maximum size).
        reference_n: an always-valid plan's fixed-horizon size for the planned MDE, for
            reference (``None`` otherwise).
        always_valid_n: an always-valid plan's units per variant by which it rejects with
            the plan's power at the planned MDE, looking daily (``None`` otherwise).
        detectable_effect: the smallest relative effect on the first primary metric that the
            units so far detect with the plan's power (``None`` when it cannot be computed).
        daily_observed: units per day in the smallest variant, over the days with traffic.
        daily_planned: ``design.daily_units`` × the smallest planned share.
    """

    smallest: int
    planned_n: int | None
    basis: str | None
    always_valid: bool
    reference_n: int | None
    detectable_effect: float | None
    daily_observed: float | None
    daily_planned: float | None
    always_valid_n: int | None = None

    @property
    def reached(self) -> bool:
        return self.planned_n is not None and self.smallest >= self.planned_n

    @property
    def to_go(self) -> int | None:
        """Units per variant still to collect (``None`` without a planned size)."""
        if self.planned_n is None:
            return None
        return max(self.planned_n - self.smallest, 0)

    def days_to_go(self, daily: float | None) -> int | None:
        """Whole days until the planned size at ``daily`` units per day per variant."""
        to_go = self.to_go
        if to_go is None or daily is None or not daily > 0:
            return None
        return math.ceil(to_go / daily)

    def days_text(self) -> str | None:
        """``about 6 more days at the observed 1,990 units a day per variant (9 at the
        planned 1,333)``, or ``None`` without a planned size or traffic."""
        obs = self.days_to_go(self.daily_observed)
        plan = self.days_to_go(self.daily_planned)
        if obs is None and plan is None:
            return None
        parts = []
        if obs is not None:
            parts.append(
                f"about {obs:,} more day{'s' if obs != 1 else ''} at the observed "
                f"{self.daily_observed:,.0f} units a day per variant"
            )
        if plan is not None and (obs is None or plan != obs):
            lead = "" if obs is None else "; "
            parts.append(
                f"{lead}{'about ' if obs is None else ''}{plan:,} at the planned "
                f"{self.daily_planned:,.0f} a day"
            )
        return "".join(parts)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["to_go"] = self.to_go
        out["days_to_go_observed"] = self.days_to_go(self.daily_observed)
        out["days_to_go_planned"] = self.days_to_go(self.daily_planned)
        return out


def counted(plan: Plan) -> str:
    """What a plan's sample counts: ``units``, or ``clusters`` for an ad-platform export
    (its rows, or its ads when an arm groups several; :mod:`liftlab.exports`)."""
    return "clusters" if plan.data.on_aggregates else "units"


def plan_states_size(plan: Plan) -> str | None:
    """What the plan planned its size for, in words, or ``None`` when it planned none."""
    if plan.design is not None and plan.design.n_per_variant is not None:
        return "the plan's design.n_per_variant"
    a = plan.analysis
    primary = plan.primary_metrics
    if "mde" in a.model_fields_set and primary and all(m.baseline is not None for m in primary):
        what = f"{a.mde:.0%} relative" if a.mde_type == "relative" else f"{a.mde:g} absolute"
        return f"the plan's baseline and MDE ({what}, power {a.power:.0%})"
    return None


def progress_of(plan: Plan, stats: UnitStats) -> Progress:
    """The :class:`Progress` of ``plan`` on the statistics collected so far."""
    counts = [int(stats.counts.get(v, 0)) for v in plan.variants]
    smallest = min(counts) if counts else 0
    a = plan.analysis
    always_valid = a.method == "sequential" and a.sequential.kind != "group-sequential"
    basis = plan_states_size(plan)
    sized = designed_n(plan, stats) if basis is not None else None
    if plan.design is not None and plan.design.n_per_variant is not None:
        sized = plan.design.n_per_variant
    planned = None if always_valid else sized
    reference = always_n = None
    if always_valid and sized is not None:
        if plan.design is not None and plan.design.n_per_variant is not None:
            reference = sized  # the team's own size, shown for reference
        else:
            always_n = sized
            reference = designed_n(plan.with_(method="frequentist"), stats)
    if planned is not None and a.method == "sequential" and basis and "design." not in basis:
        basis += f", with the group-sequential inflation for {a.sequential.looks} looks"
    return Progress(
        smallest=smallest,
        planned_n=planned,
        basis=None if planned is None else basis,
        always_valid=always_valid,
        reference_n=reference,
        always_valid_n=always_n,
        detectable_effect=detectable_effect(plan, stats, smallest),
        daily_observed=_daily_observed(plan, stats),
        daily_planned=(
            plan.design.daily_units * min(plan.weights.values())
            if plan.design is not None and plan.design.daily_units
            else None
        ),
    )


def designed_n(plan: Plan, stats: UnitStats) -> int | None:
    """The design's units per variant (group-sequential: its maximum), or ``None``.

    :func:`liftlab.design.design_plan` with the plan's baselines or, where a metric gives
    none, the control arm's observed mean and variance. It also tunes sequential monitors
    (a group-sequential test's information fractions, an asymptotic confidence sequence);
    whether it counts as a *planned* size is :func:`plan_states_size`'s question.
    """
    from liftlab.design import design_plan

    history = {
        m.name: stats.moments[m.name][plan.control_name]
        for m in plan.metrics
        if m.name in stats.moments
    }
    seq = plan.analysis.sequential
    sequential = (
        {"kind": seq.spending, "looks": seq.looks}
        if plan.analysis.method == "sequential" and seq.kind == "group-sequential"
        else None
    )
    try:
        return int(design_plan(plan, history=history, sequential=sequential).n_per_variant)
    except (LiftlabError, ValueError, ArithmeticError, KeyError):
        return None


def detectable_effect(plan: Plan, stats: UnitStats, n_per_variant: int) -> float | None:
    """The relative effect on the first primary metric that ``n_per_variant`` units per
    variant detect with the plan's power (observed control mean and variance; ``None`` when
    it cannot be computed)."""
    from liftlab.stats.power import mde

    primary = plan.primary_metrics
    if not primary or n_per_variant < 2:
        return None
    metric = primary[0]
    a = plan.analysis
    try:
        c = stats.moments[metric.name][plan.control_name]
        names = [plan.control_name, *plan.treatments]
        weights = plan.weights  # built on each access: once, not once per arm
        if metric.type == "ratio":
            baseline = c.sum_y / c.sum_x
            extra: dict[str, Any] = {"moments": c}
        else:
            baseline = c.mean_y
            extra = {} if metric.type == "proportion" else {"sd": math.sqrt(c.var_y)}
        value = mde(
            metric_type=metric.type,
            baseline=baseline,
            n_per_variant=n_per_variant,
            alpha=a.alpha,
            power=a.power,
            arms=len(names),
            weights=[weights[n] for n in names],
            correction=a.correction,
            comparisons=len(primary) * len(plan.treatments),
            mde_type="relative",
            **extra,
        )
    except (KeyError, ValueError, ArithmeticError, ZeroDivisionError):
        return None
    return float(value) if math.isfinite(value) else None


def _daily_observed(plan: Plan, stats: UnitStats) -> float | None:
    days = len(stats.days)
    if days < 1 or not stats.daily_counts:
        return None
    per_variant = [sum(stats.daily_counts.get(v, [])) / days for v in plan.variants]
    return min(per_variant) if per_variant else None
