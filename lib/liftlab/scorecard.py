"""The scorecard: every metric × treatment in one table, by its headline.

One row per metric and treatment, primary metrics first, then guardrails, then secondary:
the metric's label and role, the control and treatment values in the metric's units, the
change with the headline interval, the headline probability and the status (better / worse /
flat / guardrail passed / guardrail failed / not enough data). It reads the headlines and
nothing else (:mod:`liftlab.headline`), so it agrees with the verdict, the metric tables, the
portfolio index and the command line. :func:`scorecard_rows` gives the cells as text (for any
surface); :func:`scorecard_html` the report's table; :func:`contents_html` the report's
contents list that follows it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from liftlab import format as fmt
from liftlab import glossary
from liftlab.decision import display_of
from liftlab.headline import Headline

if TYPE_CHECKING:
    from liftlab.analysis import MetricResult, Results

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


def arm_texts(results: Results, m: MetricResult) -> dict[str, str]:
    """Each arm's observed value of metric ``m``, in its units, with shared decimals (from the
    headlines, so every surface prints the same)."""
    values: dict[str, float | None] = {}
    for c in m.comparisons:
        if c.headline is None:
            continue
        values.setdefault(c.control, c.headline.control_value)
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


def scorecard_html(results: Results) -> str:
    """The scorecard as an HTML table (text escaped), with a line on what the columns mean."""
    rows = scorecard_rows(results)
    if not rows:
        return ""
    change, prob = _header(rows)
    head = (
        "<tr><th>metric</th><th>role</th><th>treatment</th>"
        f"<th>control value</th><th>treatment value</th><th>{change}</th>"
        f"<th>{prob}</th><th>{glossary.term('status')}</th></tr>"
    )
    body = []
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.metric] = counts.get(r.metric, 0) + 1
    seen: set[str] = set()
    for r in rows:
        colour, background = STATUS_COLOURS.get(r.headline.status, ("#444", "#f0f0f0"))
        role = glossary.term("guardrail") if r.role == "guardrail" else ROLE_TEXT[r.role]
        # a metric's label and role once, spanning its treatments' rows
        lead = ""
        if r.metric not in seen:
            seen.add(r.metric)
            span = f' rowspan="{counts[r.metric]}"' if counts[r.metric] > 1 else ""
            link = f'<a href="#{metric_anchor(r.metric)}">{html.escape(r.label)}</a>'
            lead = f'<td class="ll-left"{span}>{link}</td><td class="ll-left"{span}>{role}</td>'
        body.append(
            f'<tr data-metric="{html.escape(r.metric)}">{lead}'
            f'<td class="ll-left">{html.escape(r.variant)}</td>'
            f"<td>{html.escape(r.control)}</td><td>{html.escape(r.treatment)}</td>"
            f'<td class="ll-change" style="white-space: nowrap;">{html.escape(r.change)}</td>'
            f"<td>{html.escape(r.probability)}</td>"
            f'<td class="ll-left"><span class="ll-status" style="color: {colour}; background: '
            f'{background};">{html.escape(r.status)}</span></td>'
            "</tr>"
        )
    note = _note(results, rows)
    return (
        '<div class="liftlab-scorecard"><h2 id="scorecard">Scorecard</h2>'
        '<table class="ll-scorecard">'
        f"<thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"
        f'<p class="ll-note">{note}</p></div>'
    )


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
