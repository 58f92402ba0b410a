"""The verdict: a recommendation and its reason, read from the comparisons' headlines.

:func:`decide` reads each comparison's :class:`~liftlab.headline.Headline` (its status) and
the sample-size :class:`~liftlab.progress.Progress`, nothing else, so the verdict quotes the
same numbers as the scorecard, the index and the command line. The rules, in order:

1. ``investigate``: a sample-ratio mismatch; no effect can be trusted.
2. ``ship``: a treatment is ``better`` on at least one primary metric, ``worse`` on none,
   fails no guardrail and leaves none unproven; among several, the best by the first primary
   metric's headline effect.
3. ``do_not_ship``: every treatment is worse on a primary metric or fails a guardrail; or
   the planned sample size (only when the plan planned one, see :mod:`liftlab.progress`) is
   reached with no win, on a plan that is not always-valid sequential.
4. ``keep_running``: otherwise (not enough evidence yet; or a winner with a guardrail not
   yet shown within its margin). The reason says how far the test is from its planned size
   and how many more days that takes at the observed (and the planned) traffic; with no
   planned size, the effect the sample so far can detect.

With ``randomization: none`` (the platform's delivery chose who saw each arm, e.g. an
ad-platform export) rule 1 does not apply, and the same rules give an *observational*
verdict: the reason begins "Observed, not randomised:" and a caveat says that the arms'
audiences, placements and timing differ, so a difference is an association, not an effect.

The reason mentions guardrails only when the plan has some. With more than one treatment it
names the runner-up, and it warns (``caveats``) of any secondary metric on which the winner
is significantly worse, or the worst of all arms while the runner-up is better; a kind may
add its own caveats (the creative tournament's cost per acquisition and conversion per click).

On an ad-platform export, whose statistics count clusters (ads or ad-day rows) rather than
users, a caveat names every arm with fewer than :data:`FEW_CLUSTERS` clusters on a primary
metric: its intervals use a t reference with few degrees of freedom (see
:mod:`liftlab.stats.frequentist`), so they are wide and rest on a handful of values.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, ClassVar

from liftlab import format as fmt
from liftlab.headline import Headline

if TYPE_CHECKING:
    from liftlab.analysis import Comparison, MetricResult
    from liftlab.plan import Plan
    from liftlab.progress import Progress
    from liftlab.stats.srm import SRMResult

RECOMMENDATIONS = ("ship", "do_not_ship", "keep_running", "investigate")
FEW_CLUSTERS = 10
"""Below this many clusters in an arm of an export, the verdict carries a caveat. With the
normal reference a 95% interval covered 90% of the time at 5 clusters per arm and 92% at
10 (94.5% at 30); the t reference restores 95%, at the price of wide intervals."""


@dataclass(frozen=True)
class Decision:
    """The recommendation (one of :data:`RECOMMENDATIONS`), its reason and what it names.

    ``variant`` is the treatment shipped (or the one that lost or wins pending a guardrail);
    ``runner_up`` the next-best treatment of a many-arm test; ``caveats`` are sentences a
    reader should weigh before acting (a winner worse on a secondary metric).
    """

    recommendation: str
    reason: str
    variant: str | None = None
    runner_up: str | None = None
    caveats: tuple[str, ...] = field(default_factory=tuple)

    json_fields: ClassVar = ("recommendation", "variant", "reason", "runner_up", "caveats")


def display_of(plan: Plan, metric_name: str) -> fmt.Display:
    """The :class:`~liftlab.format.Display` of a plan's metric."""
    m = next(x for x in plan.metrics if x.name == metric_name)
    chosen = m.format or fmt.default_format(m.type)
    return fmt.Display(
        label=m.label or fmt.label_of(m.name),
        format=chosen,
        decimals=m.decimals,
        currency=plan.currency if chosen == "currency" else None,
    )


def evidence(plan: Plan, metric: str, h: Headline) -> str:
    """``+0.79 pp [+0.12 pp, +1.22 pp] (95% always-valid interval; always-valid p
    (adjusted) 0.009)``: the headline in one phrase."""
    d = display_of(plan, metric)
    prob = ""
    if h.probability_kind != "boundary":
        prob = f"; {h.probability_label} {h.probability_text()}"
    return f"{h.effect_text(d)} ({h.interval_label}{prob})"


def _h(c: Comparison) -> Headline:
    assert c.headline is not None
    return c.headline


OBSERVATIONAL_PREFIX = "Observed, not randomised: "
OBSERVATIONAL_CAVEAT = (
    "The arms were not randomised (randomization: none): the platform's delivery chose who "
    "saw each one, so their audiences, placements and timing differ and a difference is an "
    "association, not the effect of the arm. Confirm a winner with a randomised test."
)


def decide(plan: Plan, srm: SRMResult, metrics: list[MetricResult], progress: Progress) -> Decision:
    """The recommendation and its reason (rules in the module docstring)."""
    decision = _decide(plan, srm, metrics, progress)
    few = few_clusters_caveat(plan, metrics, named=(decision.variant, decision.runner_up))
    if few is not None:
        decision = replace(decision, caveats=(*decision.caveats, few))
    if plan.randomization != "none":
        return decision
    return replace(
        decision,
        reason=OBSERVATIONAL_PREFIX + decision.reason,
        caveats=(OBSERVATIONAL_CAVEAT, *decision.caveats),
    )


def few_clusters_caveat(
    plan: Plan, metrics: list[MetricResult], named: tuple[str | None, ...] = ()
) -> str | None:
    """The caveat on an export's arms with fewer than :data:`FEW_CLUSTERS` clusters on a
    primary metric (the fewest over the primary metrics), or ``None``.

    It names at most five arms: first those the verdict names (``named``: the pick and the
    runner-up) and the control, which every report lists, then the arms with the fewest
    clusters; the others are counted ("595 more"), so a many-arm report does not quote arms
    it does not show."""
    if not plan.data.on_aggregates:
        return None
    primary = [m for m in metrics if m.metric.role == "primary" and m.status != "error"]
    counts = {
        v: min(m.variants[v].n for m in primary if v in m.variants)
        for v in plan.variants
        if any(v in m.variants for m in primary)
    }
    few = {v: n for v, n in counts.items() if n < FEW_CLUSTERS}
    if not few:
        return None
    first = [v for v in (*named, plan.control_name) if v in few]
    order = list(dict.fromkeys([*first, *sorted(few, key=lambda v: few[v])]))
    shown = [f"{v} ({few[v]})" for v in order[:5]]
    if len(few) > 5:
        shown.append(f"{len(few) - 5} more")
    verb = "has" if len(few) == 1 else "have"
    return (
        f"Few clusters: {', '.join(shown)} {verb} fewer than {FEW_CLUSTERS} clusters (the "
        "ads or ad-days that are the independent units behind an interval). Their intervals "
        "and p-values use a t distribution with few degrees of freedom, so they are wide and "
        "rest on a handful of values: one unusual ad or day can move them. Treat differences "
        "involving these arms as tentative, and let them gather more days before acting."
    )


def _decide(
    plan: Plan, srm: SRMResult, metrics: list[MetricResult], progress: Progress
) -> Decision:
    if srm.mismatch and plan.randomization != "none":
        return _mismatch(srm)
    primary = [m for m in metrics if m.metric.role == "primary" and m.status != "error"]
    broken = [m.metric.name for m in metrics if m.metric.role == "primary" and m.status == "error"]
    guard = [m for m in metrics if m.metric.role == "guardrail" and m.status != "error"]
    if not primary:
        return Decision(
            "keep_running",
            f"The primary metric{'s' if len(broken) > 1 else ''} {', '.join(broken)} could "
            "not be analysed; see the metric for the reason.",
        )
    candidates, pending, losers = _sorted_treatments(plan, primary, guard)
    first = primary[0]
    if candidates:
        return _ship(plan, metrics, first, guard, [v for v, _ in candidates])
    if pending:
        v, unproven = pending[0]
        names = ", ".join(_label(plan, n) for n in unproven)
        return Decision(
            "keep_running",
            f"{v} wins on the primary metric, but guardrail {names} is not yet shown to be "
            f"within its non-inferiority margin. {_progress_sentence(plan, progress)}",
            v,
        )
    if losers and len(losers) == len(plan.treatments):
        return _all_lose(plan, first, *losers[0])
    return _no_winner(plan, progress)


def _mismatch(srm: SRMResult) -> Decision:
    shares = ", ".join(f"{k} {fmt.percent(v)}" for k, v in srm.observed_shares.items())
    planned = ", ".join(f"{k} {fmt.percent(v)}" for k, v in srm.expected_weights.items())
    return Decision(
        "investigate",
        f"Sample ratio mismatch (χ² {fmt.p_clause(srm.p_value)}): observed {shares} against "
        f"planned {planned}. Assignment or logging is broken; no effect can be trusted.",
    )


def _sorted_treatments(
    plan: Plan, primary: list[MetricResult], guard: list[MetricResult]
) -> tuple[
    list[tuple[str, list[str]]], list[tuple[str, list[str]]], list[tuple[str, list[str], list[str]]]
]:
    """The treatments that win without harm (candidates), that win with a guardrail not yet
    shown within its margin (pending, with those guardrails), and that lose on a primary
    metric or fail a guardrail (losers, with those metrics), in plan order."""

    def statuses(ms: list[MetricResult], v: str, status: str) -> list[str]:
        return [m.metric.name for m in ms if _h(m.comparison(v)).status == status]

    candidates: list[tuple[str, list[str]]] = []
    pending: list[tuple[str, list[str]]] = []
    losers: list[tuple[str, list[str], list[str]]] = []
    for v in plan.treatments:
        wins, losses = statuses(primary, v, "better"), statuses(primary, v, "worse")
        fails = statuses(guard, v, "guardrail_failed")
        unproven = statuses(guard, v, "guardrail_unproven")
        if wins and not losses and not fails:
            (pending if unproven else candidates).append((v, unproven))
        elif losses or fails:
            losers.append((v, losses, fails))
    return candidates, pending, losers


def _all_lose(
    plan: Plan, first: MetricResult, v: str, losses: list[str], fails: list[str]
) -> Decision:
    """Every treatment is worse or fails a guardrail: the first one, and why."""
    harm: list[str] = []
    if losses:
        harm.append(f"worse on {', '.join(_label(plan, n) for n in losses)}")
    if fails:
        harm.append(f"fails guardrail {', '.join(_label(plan, n) for n in fails)}")
    c = first.comparison(v)
    return Decision(
        "do_not_ship",
        f"{v} is significantly {' and '.join(harm)} "
        f"({_label(plan, first.metric.name)}: {evidence(plan, first.metric.name, _h(c))}); "
        f"keep {plan.control_name}.",
        v,
    )


def _no_winner(plan: Plan, progress: Progress) -> Decision:
    """Nothing decided yet: stop at the planned size (unless always-valid), else go on."""
    what = _nothing_yet(plan)
    if progress.reached and not progress.always_valid:
        return Decision(
            "do_not_ship",
            f"The planned sample size is reached ({progress.smallest:,} of "
            f"{progress.planned_n:,} units per variant) and {what}: any true effect is likely "
            f"smaller than the planned MDE; keep {plan.control_name}.",
        )
    return Decision("keep_running", f"So far {what}. {_progress_sentence(plan, progress)}")


def _ship(
    plan: Plan,
    metrics: list[MetricResult],
    first: MetricResult,
    guard: list[MetricResult],
    winners: list[str],
) -> Decision:
    sign = 1 if first.metric.direction == "increase" else -1
    ranked = sorted(plan.treatments, key=lambda v: -sign * _effect(first.comparison(v)))
    best = max(winners, key=lambda v: sign * _effect(first.comparison(v)))
    name = first.metric.name
    h = _h(first.comparison(best))
    parts = [
        f"{best} beats {plan.control_name} on {_label(plan, name)}: {evidence(plan, name, h)}."
    ]
    others = [m for m in metrics if m.metric.role == "primary" and m is not first]
    if others:
        parts.append("No other primary metric is worse.")
    if guard:
        passed = ", ".join(_label(plan, m.metric.name) for m in guard)
        parts.append(f"Guardrail{'s' if len(guard) > 1 else ''} passed: {passed}.")
    runner_up = next((v for v in ranked if v != best), None)
    if runner_up is not None:
        rh = _h(first.comparison(runner_up))
        parts.append(f"Runner-up: {runner_up}, {evidence(plan, name, rh)}.")
    caveats = _caveats(plan, metrics, best, runner_up)
    return Decision("ship", " ".join(parts), best, runner_up, tuple(caveats))


def _caveats(
    plan: Plan, metrics: list[MetricResult], best: str, runner_up: str | None
) -> list[str]:
    """Secondary metrics on which the winner is significantly worse than control, or the
    worst of all arms while the runner-up is better."""
    out = []
    for m in metrics:
        if m.metric.role != "secondary" or m.status == "error" or not m.comparisons:
            continue
        name = m.metric.name
        h = _h(m.comparison(best))
        if h.status == "worse":
            out.append(
                f"{best} is significantly worse than {plan.control_name} on "
                f"{_label(plan, name)}: {evidence(plan, name, h)}."
            )
            continue
        if runner_up is None or len(m.variants) < 3:
            continue
        sign = 1 if m.metric.direction == "increase" else -1
        means = {v: s.mean for v, s in m.variants.items() if fmt.ok(s.mean)}
        if best not in means or runner_up not in means:
            continue
        worst = min(means, key=lambda v: sign * means[v])
        if worst == best and sign * (means[runner_up] - means[best]) > 0:
            shown = fmt.values(display_of(plan, name), means)
            out.append(
                f"{best} has the {'lowest' if sign > 0 else 'highest'} {_label(plan, name)} of "
                f"all {len(means)} arms ({shown[best]}; runner-up {runner_up}: "
                f"{shown[runner_up]})."
            )
    return out


def _effect(c: Comparison) -> float:
    h = _h(c)
    return h.effect if fmt.ok(h.effect) else float("-inf")


def _label(plan: Plan, metric_name: str) -> str:
    return display_of(plan, metric_name).label


def _nothing_yet(plan: Plan) -> str:
    a = plan.analysis
    return {
        "frequentist": "no primary metric moved significantly",
        "bayesian": "no treatment reached the chance-to-beat-control threshold of "
        f"{a.bayesian.ship_threshold:.0%} on a primary metric",
        "sequential": "no always-valid test has rejected",
    }[a.method]


def _progress_sentence(plan: Plan, p: Progress) -> str:
    """What it takes to finish: days to the planned size, or, with no planned size (or an
    always-valid plan, which has no end), what the sample so far can detect."""
    units = "clusters" if plan.data.on_aggregates else "units"  # an export's rows or ads
    detect = (
        f"with {p.smallest:,} {units} per variant the test can detect a lift of about "
        f"{fmt.percent(p.detectable_effect)} on {_label(plan, plan.primary_metrics[0].name)}"
        if p.detectable_effect is not None and plan.primary_metrics
        else f"{p.smallest:,} {units} per variant so far"
    )
    if p.always_valid:
        return f"The always-valid test may stop whenever it rejects; {detect}."
    if p.planned_n is None:
        return f"No sample size was planned; {detect}."
    days = p.days_text()
    return f"{p.to_go:,} more units per variant to go" + (f": {days}." if days else ".")
