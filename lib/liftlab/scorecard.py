"""The scorecard: every metric × treatment in one table, by its headline.

One row per metric and treatment, primary metrics first, then guardrails, then secondary:
the metric's label and role, the control and treatment values in the metric's units, the
change with the headline interval, the headline probability and the status (better / worse /
flat / guardrail passed / guardrail failed / not enough data). It reads the headlines and
nothing else (:mod:`liftlab.headline`), so it agrees with the verdict, the metric tables, the
portfolio index and the command line. :func:`scorecard_rows` gives the cells as text (for any
surface); :func:`scorecard_html` the report's table; :func:`contents_html` the report's
contents list that follows it.

Which arms a per-arm surface of the report lists when there are many is decided here, once
(:func:`listed_arms`, rule in its docstring): the scorecard, the metric, diagnostics,
sensitivity and bootstrap tables, the sample-ratio table and every per-arm chart
(:mod:`liftlab.charts`) list the same arms, in the same order, and sum the rest in one row.
The command line and ``results.json`` keep every arm.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from liftlab import format as fmt
from liftlab import glossary
from liftlab.decision import display_of
from liftlab.headline import STATUS_TEXT, STATUSES, Headline, verdict_word

if TYPE_CHECKING:
    from liftlab.analysis import MetricResult, Results
    from liftlab.plan import Plan

ROLE_ORDER = ("primary", "guardrail", "secondary")
ROLE_TEXT = {"primary": "primary", "guardrail": "guardrail", "secondary": "secondary"}
STATUS_COLOURS = {
    # status: (text colour, background)
    "better": ("#1a7f37", "#e9f6ec"),
    "guardrail_passed": ("#1a7f37", "#e9f6ec"),
    "worse": ("#b42318", "#fdecea"),
    "guardrail_failed": ("#b42318", "#fdecea"),
    "guardrail_unproven": ("#9a6700", "#fff8e1"),
    "flat": ("#444", "#f0f0f0"),
    "not_enough_data": ("#9a6700", "#fff8e1"),
}


@dataclass(frozen=True)
class Row:
    """One scorecard row as text, with the headline it shows."""

    metric: str
    label: str
    role: str
    variant: str
    control: str
    treatment: str
    change: str
    probability: str
    status: str
    headline: Headline


def ordered(results: Results) -> list[MetricResult]:
    """Metrics in reading order: primary, guardrail, secondary (plan order within)."""
    return sorted(results.metrics, key=lambda m: ROLE_ORDER.index(m.metric.role))


# ---- which arms a per-arm surface lists ---------------------------------------------------------
DEFAULT_SHOW = 15  # treatments listed when the plan does not say (creative.show)
ARM_NOUNS = {
    "ad": ("ad", "ads"),
    "campaign": ("campaign", "campaigns"),
    "ad_set": ("ad set", "ad sets"),
}


@dataclass(frozen=True)
class Listing:
    """The arms the report's per-arm surfaces list, and those they sum in one row.

    Attributes:
        control: the control arm, listed first on every surface.
        treatments: the treatments listed, in the order every surface lists them.
        rest: the treatments not listed (plan order), summed in one row; empty when every
            treatment is listed.
        limit: how many treatments a surface lists at most (:func:`show_limit`).
        noun, nouns: what an arm is, in words (``ad``/``ads``, ``variant``/``variants``).
    """

    control: str
    treatments: tuple[str, ...]
    rest: tuple[str, ...] = ()
    limit: int = DEFAULT_SHOW
    noun: str = "variant"
    nouns: str = "variants"

    @property
    def arms(self) -> tuple[str, ...]:
        """The control, then the listed treatments."""
        return (self.control, *self.treatments)

    @property
    def complete(self) -> bool:
        """Whether every arm is listed (no row for the rest)."""
        return not self.rest

    def __contains__(self, name: object) -> bool:
        return name == self.control or name in self.treatments

    def more(self) -> str:
        """``+ 585 more ads`` (the rest row's label)."""
        n = len(self.rest)
        return f"+ {fmt.count(n)} more {self.noun if n == 1 else self.nouns}"

    def rest_text(self, statuses: Iterable[str] = ()) -> str:
        """The rest row in words: ``+ 585 more ads: 3 better, 1 worse, 581 flat; see
        results.json`` (``statuses``: the rest's headline statuses on one metric)."""
        counts = status_counts(statuses)
        return f"{self.more()}{': ' + counts if counts else ''}; see results.json"

    def rest_statuses(self, m: MetricResult) -> list[str]:
        """The headline status of each unlisted treatment on metric ``m``."""
        rest = set(self.rest)
        return [
            c.headline.status if c.headline is not None else "not_enough_data"
            for c in m.comparisons
            if c.variant in rest
        ]

    def only(self, m: MetricResult) -> MetricResult:
        """Metric ``m`` with the listed arms only, in the listing's order (what a chart draws)."""
        if self.complete:
            return m
        by_name = {c.variant: c for c in m.comparisons}
        return dataclasses.replace(
            m,
            variants={v: m.variants[v] for v in self.arms if v in m.variants},
            comparisons=[by_name[v] for v in self.treatments if v in by_name],
        )


def status_counts(statuses: Iterable[str]) -> str:
    """``3 better, 1 worse, 581 flat``: headline statuses counted, in :data:`STATUSES` order."""
    counts = Counter(statuses)
    known = [f"{fmt.count(counts[s])} {STATUS_TEXT[s]}" for s in STATUSES if counts[s]]
    other = [f"{fmt.count(n)} {s}" for s, n in counts.items() if s not in STATUS_TEXT]
    return ", ".join(known + other)


def show_limit(plan: Plan) -> int:
    """How many treatments a per-arm surface lists: the plan's ``creative.show`` when it
    sets one, else :data:`DEFAULT_SHOW`."""
    return plan.creative.show if plan.creative is not None else DEFAULT_SHOW


def arm_nouns(plan: Plan) -> tuple[str, str]:
    """What an arm is called: the export's arm column (``ad``, ``campaign``, ``ad set``),
    ``creative`` in a creative test, else ``variant`` (singular, plural)."""
    if plan.data.on_aggregates:
        return ARM_NOUNS.get(plan.data.columns.get("arm", ""), ("arm", "arms"))
    if plan.kind == "creative":
        return ("creative", "creatives")
    return ("variant", "variants")


def listed_arms(results: Results, limit: int | None = None) -> Listing:
    """The arms every per-arm surface of the report lists, and the rest it sums in one row.

    With at most ``limit`` treatments (default :func:`show_limit`: ``creative.show``, else
    15) every arm is listed, in the plan's order. With more (an ad-platform export of 600
    ads), the control is listed first, then up to ``limit`` treatments chosen in this order:

    1. the arms the verdict names: its variant and the runner-up (always, even beyond
       ``limit``), so every number the verdict quotes has its row;
    2. the treatments significantly better than control on a primary metric (headline
       status ``better``), best first by the first primary metric's headline effect: the
       candidates the decision weighed;
    3. up to a third of ``limit`` for the clear losers, worst first: treatments worse on a
       primary metric or failing a guardrail (the arms to stop, and the other tail a
       statistician checks against the winner's: with hundreds of arms some are
       "significant" by luck on either side);
    4. the remaining places to the leaders: the best by the first primary metric's
       headline effect (in its good direction), significant or not.

    Listed treatments appear best first by that headline effect, a leaderboard, so every
    surface shows the same arms in the same order. The rest are counted by status in one
    row ("+ 585 more ads: 3 better, 1 worse, 581 flat; see results.json"); the command
    line, the CSV and ``results.json`` keep every arm.
    """
    plan = results.plan
    n = show_limit(plan) if limit is None else limit
    treatments = list(plan.treatments)

    def listing(shown: Iterable[str], rest: Iterable[str] = ()) -> Listing:
        return Listing(plan.control_name, tuple(shown), tuple(rest), n, *arm_nouns(plan))

    if len(treatments) <= n:
        return listing(treatments)
    rank = _ranking(results, treatments)
    d = results.decision
    named = [v for v in dict.fromkeys((d.variant, d.runner_up)) if v in set(treatments)]
    good, bad = _decided(results)
    picked = list(named)

    def take(names: Iterable[str], upto: int) -> None:
        for v in names:
            if len(picked) >= upto:
                return
            if v not in picked:
                picked.append(v)

    losers = [v for v in reversed(rank) if v in bad and v not in picked][: n // 3]
    take((v for v in rank if v in good), n - len(losers))
    take(losers, n)
    take(rank, n)
    chosen = set(picked)
    return listing((v for v in rank if v in chosen), (v for v in treatments if v not in chosen))


def _ranking(results: Results, treatments: list[str]) -> list[str]:
    """Treatments best first by the first primary metric's headline effect (in its good
    direction); those without one last, in plan order. On mixed effect scales (a relative
    lift undefined for some), by the treatment's observed value."""
    lead = next((m for m in ordered(results) if m.metric.role == "primary" and m.comparisons), None)
    if lead is None:
        return list(treatments)
    sign = 1 if lead.metric.direction == "increase" else -1
    heads = {c.variant: c.headline for c in lead.comparisons if c.headline is not None}
    mixed = len({h.effect_type for h in heads.values()}) > 1

    def key(v: str) -> float:
        h = heads.get(v)
        x = math.nan if h is None else (h.treatment_value if mixed else h.effect)
        return -sign * x if fmt.ok(x) else math.inf

    return sorted(treatments, key=key)


def _decided(results: Results) -> tuple[set[str], set[str]]:
    """The treatments better on some primary metric, and those worse on one or failing a
    guardrail (by their headline status)."""
    good: set[str] = set()
    bad: set[str] = set()
    for m in results.metrics:
        for c in m.comparisons:
            status = c.headline.status if c.headline is not None else None
            primary = m.metric.role == "primary"
            if primary and status == "better":
                good.add(c.variant)
            elif (primary and status == "worse") or status == "guardrail_failed":
                bad.add(c.variant)
    return good, bad


def arm_texts(
    results: Results, m: MetricResult, arms: Iterable[str] | None = None
) -> dict[str, str]:
    """Each arm's observed value of metric ``m``, in its units, with shared decimals (from the
    headlines, so every surface prints the same).

    ``arms``: only these (the arms a report lists, :func:`listed_arms`), whose values then
    share the decimals that tell them apart, not the many it takes to tell 600 apart.
    """
    keep = None if arms is None else set(arms)
    values: dict[str, float | None] = {}
    for c in m.comparisons:
        if c.headline is None:
            continue
        if keep is None or c.control in keep:
            values.setdefault(c.control, c.headline.control_value)
        if keep is None or c.variant in keep:
            values[c.variant] = c.headline.treatment_value
    return fmt.values(display_of(results.plan, m.metric.name), values)


def scorecard_rows(results: Results) -> list[Row]:
    """Every metric × treatment, in reading order."""
    rows = []
    for m in ordered(results):
        display = display_of(results.plan, m.metric.name)
        arms = arm_texts(results, m)
        for c in m.comparisons:
            h = c.headline
            if h is None:
                continue
            rows.append(
                Row(
                    metric=m.metric.name,
                    label=display.label,
                    role=m.metric.role,
                    variant=c.variant,
                    control=arms.get(c.control, fmt.DASH),
                    treatment=arms.get(c.variant, fmt.DASH),
                    change=h.effect_text(display),
                    probability=h.probability_text(),
                    status=h.status_text,
                    headline=h,
                )
            )
    return rows


def metric_anchor(name: str) -> str:
    """The HTML id of a metric's section."""
    return f"metric-{name}"


def _header(rows: list[Row]) -> tuple[str, str]:
    """The change and probability column headers, with glossary links."""
    first = rows[0].headline
    kind = glossary.term(glossary.INTERVAL_TERMS.get(first.interval_kind, "confidence-interval"))
    change = f"change [{first.level:.0%} {kind}]"
    kinds = {r.headline.probability_kind for r in rows}
    if kinds == {"chance_to_beat_control"}:
        prob = glossary.term("chance-to-beat-control")
    elif kinds <= {"always_valid_p_adjusted", "always_valid_p"}:
        prob = glossary.term("always-valid-p")
        if "always_valid_p_adjusted" in kinds:
            prob += " (adjusted for primary metrics)"
    elif kinds <= {"p_adjusted", "p_value"}:
        prob = glossary.term("p-value", "p")
        if "p_adjusted" in kinds:
            prob += f" ({glossary.term('adjusted-p', 'adjusted')} for primary metrics)"
    else:
        prob = "probability"
    return change, prob


def scorecard_html(results: Results, listing: Listing | None = None) -> str:
    """The scorecard as an HTML table (text escaped), with a line on what the columns mean.

    It lists the arms of ``listing`` (default :func:`listed_arms`), each metric's unlisted
    treatments counted by status in one row. The treatment the verdict picks carries the
    verdict's word (``SHIP``, or ``LEADS`` for an observational comparison:
    :func:`liftlab.headline.verdict_word`), the runner-up says so.
    """
    listing = listing or listed_arms(results)
    every = scorecard_rows(results)
    if not every:
        return ""
    rows = _listed_rows(results, listing, every)
    rests = {
        m.metric.name: listing.rest_text(listing.rest_statuses(m))
        for m in results.metrics
        if not listing.complete and any(c.variant in listing.rest for c in m.comparisons)
    }
    change, prob = _header(rows or every)
    head = (
        "<tr><th>metric</th><th>role</th><th>treatment</th>"
        f"<th>control value</th><th>treatment value</th><th>{change}</th>"
        f"<th>{prob}</th><th>{glossary.term('status')}</th></tr>"
    )
    body = _body_rows(results, rows, rests)
    note = _note(results, rows or every)
    return (
        '<div class="liftlab-scorecard"><h2 id="scorecard">Scorecard</h2>'
        '<table class="ll-scorecard">'
        f"<thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"
        f'<p class="ll-note">{note}</p></div>'
    )


def _listed_rows(results: Results, listing: Listing, every: list[Row]) -> list[Row]:
    """The rows of the listed treatments, metric by metric (:func:`ordered`) and in the
    listing's order within a metric, with the arms' values as :func:`arm_texts` shows them."""
    place = {v: k for k, v in enumerate(listing.treatments)}
    rows = sorted((r for r in every if r.variant in place), key=lambda r: place[r.variant])
    rows = [r for m in ordered(results) for r in rows if r.metric == m.metric.name]
    arms = {m.metric.name: arm_texts(results, m, listing.arms) for m in results.metrics}
    return [
        dataclasses.replace(
            r,
            control=arms[r.metric].get(results.plan.control_name, r.control),
            treatment=arms[r.metric].get(r.variant, r.treatment),
        )
        for r in rows
    ]


def _body_rows(results: Results, rows: list[Row], rests: dict[str, str]) -> list[str]:
    """The table's rows (HTML): each listed comparison, a metric's label and role spanning
    its rows, and after a metric's rows the one counting its unlisted treatments (``rests``,
    by metric); last, the metrics none of whose listed arms has a headline."""
    rests = dict(rests)
    counts: dict[str, int] = dict(Counter(r.metric for r in rows))
    for metric in rests:
        counts[metric] = counts.get(metric, 0) + 1
    tags = _tags(results)
    lead = _metric_leads(results, counts)
    body = []
    for k, r in enumerate(rows):
        body.append(_comparison_row(r, lead(r.metric), tags.get(r.variant)))
        last = k + 1 == len(rows) or rows[k + 1].metric != r.metric
        if last and r.metric in rests:
            body.append(_rest_row(r.metric, rests.pop(r.metric), ""))
    for metric, text in rests.items():  # a metric none of whose listed arms has a headline
        body.append(_rest_row(metric, text, lead(metric)))
    return body


def _metric_leads(results: Results, counts: dict[str, int]) -> Callable[[str], str]:
    """A function giving a metric's label and role cells (HTML) the first time it is asked
    for that metric, spanning the metric's ``counts`` rows, and nothing after."""
    seen: set[str] = set()
    labels = {m.metric.name: display_of(results.plan, m.metric.name).label for m in results.metrics}
    roles = {m.metric.name: m.metric.role for m in results.metrics}

    def lead(metric: str) -> str:
        """A metric's label and role once, spanning its rows."""
        if metric in seen:
            return ""
        seen.add(metric)
        span = f' rowspan="{counts[metric]}"' if counts[metric] > 1 else ""
        role = (
            glossary.term("guardrail") if roles[metric] == "guardrail" else ROLE_TEXT[roles[metric]]
        )
        link = f'<a href="#{metric_anchor(metric)}">{html.escape(labels[metric])}</a>'
        return f'<td class="ll-left"{span}>{link}</td><td class="ll-left"{span}>{role}</td>'

    return lead


def _comparison_row(r: Row, lead: str, tag: str | None) -> str:
    """One comparison's row (HTML) after its ``lead`` cells: the treatment with its
    ``tag``, the two values, the change, the probability and the status in its colours."""
    colour, background = STATUS_COLOURS.get(r.headline.status, ("#444", "#f0f0f0"))
    return (
        f'<tr data-metric="{html.escape(r.metric)}">{lead}'
        f'<td class="ll-left">{_arm_cell(r.variant, tag)}</td>'
        f"<td>{html.escape(r.control)}</td><td>{html.escape(r.treatment)}</td>"
        f'<td class="ll-change" style="white-space: nowrap;">{html.escape(r.change)}</td>'
        f"<td>{html.escape(r.probability)}</td>"
        f'<td class="ll-left"><span class="ll-status" style="color: {colour}; background: '
        f'{background};">{html.escape(r.status)}</span></td>'
        "</tr>"
    )


def _arm_cell(name: str, tag: str | None) -> str:
    """A treatment's name, with its tag on the same line (HTML)."""
    if not tag:
        return html.escape(name)
    return f'<span style="white-space: nowrap;">{html.escape(name)}{tag}</span>'


def _rest_row(metric: str, text: str, lead: str) -> str:
    """The row that counts a metric's unlisted treatments by status."""
    return (
        f'<tr class="ll-rest" data-rest="{html.escape(metric)}">{lead}'
        f'<td class="ll-left" colspan="6" style="color: #555; font-style: italic;">'
        f"{html.escape(text)}</td></tr>"
    )


VERDICT_TAG_COLOURS = {"SHIP": "#1a7f37", "LEADS": "#1f5fa8"}  # the verdict box's accents


def _tags(results: Results) -> dict[str, str]:
    """The verdict's word after the treatment it picks, and "runner-up" after the next best
    (HTML), when the verdict picks one."""
    d = results.decision
    if d.recommendation != "ship" or not d.variant:
        return {}
    word = verdict_word(d.recommendation, results.plan.randomization)
    style = (
        "margin-left: 6px; padding: 0 5px; border-radius: 3px; font-size: 0.8em; "
        "font-weight: 700; letter-spacing: 0.04em;"
    )
    tags = {
        d.variant: f' <span class="ll-tag ll-verdict-tag" style="{style} color: #fff; '
        f'background: {VERDICT_TAG_COLOURS.get(word, "#1a7f37")};">{html.escape(word)}</span>'
    }
    if d.runner_up:
        tags[d.runner_up] = (
            f' <span class="ll-tag" style="{style} color: #555; background: #ececec;">'
            "runner-up</span>"
        )
    return tags


def _note(results: Results, rows: list[Row]) -> str:
    a = results.plan.analysis
    first = rows[0].headline
    what = {
        "frequentist": "Primary metrics decide; their p-values are adjusted for the number of "
        "primary comparisons. Intervals are not adjusted.",
        "sequential": "The test may be checked every day: intervals and p-values are "
        "always-valid, so stopping when one excludes 0 keeps false positives at α.",
        "bayesian": "A variant wins when its chance to beat control reaches "
        f"{a.bayesian.ship_threshold:.0%} on a primary metric.",
    }[a.method]
    scale = (
        f"Changes are {glossary.term('lift', 'relative lifts')}"
        if first.effect_type == "relative"
        else "Changes are differences in the metric's units "
        f"(rates in {glossary.term('percentage-points')})"
    )
    return f"{scale}; values are observed means. {what}"


def contents_html(results: Results, sections: list[tuple[str, str]]) -> str:
    """The contents list: the scorecard, then ``sections`` (``(anchor, title)``), with each
    metric under "Metrics"."""
    metrics = "".join(
        f'<li><a href="#{metric_anchor(m.metric.name)}">'
        f"{html.escape(display_of(results.plan, m.metric.name).label)}</a></li>"
        for m in ordered(results)
    )
    items = ['<li><a href="#scorecard">Scorecard</a></li>']
    for anchor, title in sections:
        sub = f"<ul>{metrics}</ul>" if anchor == "metrics" else ""
        items.append(f'<li><a href="#{anchor}">{html.escape(title)}</a>{sub}</li>')
    return (
        '<nav class="liftlab-contents"><div class="ll-contents-title">Contents</div>'
        f"<ul>{''.join(items)}</ul></nav>"
    )
