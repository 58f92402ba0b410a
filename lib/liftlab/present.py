"""Reading matter for a :class:`~liftlab.analysis.Results`: Markdown, HTML and tables.

The analysis notebook (``notebooks/analyze.ipynb``) is a sequence of calls into this module,
in the order a reader wants them: the title and hypothesis (:func:`title_markdown`), the
verdict with the sample-size progress (:func:`verdict_html`), the health checks
(:func:`srm_markdown`, then :func:`liftlab.charts.traffic_chart`), one section per metric,
primary first, then guardrails, then secondary (:func:`ordered_metrics`,
:func:`metric_views`: heading, status, table and every chart and table the plan's method
asks for), and the conventions behind every number (:func:`conventions_markdown`).

Plan text (hypothesis, owner, variant and metric names, descriptions, file names) is written
by people and is escaped before it goes into Markdown or HTML (:func:`md_text`).

Every per-arm table and chart lists the arms of :func:`liftlab.scorecard.listed_arms` (all of
them up to ``creative.show``, else 15; past that, the ones that decide and the leaders) and
counts the rest in one row, so a report of 600 ads reads, and weighs, like one of 15.
"""

from __future__ import annotations

import html
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from liftlab import format as fmt
from liftlab import glossary
from liftlab.decision import display_of
from liftlab.headline import STATUS_TEXT, verdict_word
from liftlab.progress import counted
from liftlab.scorecard import (
    STATUS_COLOURS,
    Listing,
    arm_texts,
    contents_html,
    listed_arms,
    metric_anchor,
    scorecard_html,
    status_counts,
)

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

    from liftlab.analysis import Comparison, MetricResult, Results, SensitivityRow
    from liftlab.plan import Metric

ROLE_ORDER = ("primary", "guardrail", "secondary")
CORRECTION_NAMES = {
    "none": "no correction",
    "bonferroni": "Bonferroni",
    "holm": "Holm",
    "hochberg": "Hochberg",
    "bh": "Benjamini–Hochberg",
    "by": "Benjamini–Yekutieli",
}
RECOMMENDATIONS = {
    # recommendation: (label, accent colour, background colour); the words are
    # liftlab.headline.verdict_word's, which every surface prints
    "ship": ("SHIP", "#1a7f37", "#e9f6ec"),
    "do_not_ship": ("DO NOT SHIP", "#b42318", "#fdecea"),
    "keep_running": ("KEEP RUNNING", "#9a6700", "#fff8e1"),
    "investigate": ("⚠ INVESTIGATE", "#b42318", "#fdecea"),
}
# an observational leader (randomization: none) is not a green light to ship: blue, not green
OBSERVATIONAL_COLOURS = ("#1f5fa8", "#eaf2fb")
INVESTIGATE_WARNING = (
    "Do not act on any effect in this report: the data are not what the plan assigned. "
    "Find and fix the cause, then re-run the test."
)
ROLE_NOTES = {
    "primary": "decision metric",
    "guardrail": "guardrail: must not get significantly worse",
    "secondary": "secondary: reported for context",
}
SEQUENTIAL_NAMES = {
    "msprt": "always-valid mSPRT",
    "asymptotic-cs": "asymptotic confidence sequence",
    "group-sequential": "group-sequential test",
}
SEQUENTIAL_STATUS = {
    "continue": "not rejected yet",
    "fail-to-reject": "not rejected at the final look",
    "reject": "rejected",
}
SPENDING_NAMES = {"obrien-fleming": "O'Brien–Fleming-type", "pocock": "Pocock-type"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")
DASH = "—"


# ---- text helpers ------------------------------------------------------------------------------
def md_text(text: object) -> str:
    """Plan text made safe for Markdown: HTML-escaped, Markdown punctuation backslashed.

    Whitespace (including newlines from YAML block scalars) collapses to single spaces, so
    the text cannot start a heading, a list or a table row of its own.
    """
    flat = " ".join(str(text).split())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(flat, quote=False))


def _ok(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


_SIGNED_ZERO = re.compile(r"[-+](0[.,]?0*)(%?)")


def _signed(text: str) -> str:
    """A signed number as formatted, without a sign when it rounds to zero (no ``-0.00``)."""
    return text[1:] if _SIGNED_ZERO.fullmatch(text) else text


def _pct(x: float | None, digits: int = 1, sign: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return DASH
    return _signed(f"{x:+.{digits}%}") if sign else f"{x:.{digits}%}"


def _num(x: float | None, sign: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return DASH
    return _signed(f"{x:+,.4g}") if sign else f"{x:,.4g}"


def _pp(x: float | None) -> str:
    """A difference of two proportions, in percentage points."""
    if x is None or not math.isfinite(x):
        return DASH
    return _signed(f"{100 * x:+.2f}")


def _small_pct(x: float | None) -> str:
    """A small non-negative share (an expected loss relative to control)."""
    if x is None or not math.isfinite(x):
        return DASH
    if 0 <= x < 0.0001:
        return "< 0.01%"
    return f"{x:.2%}" if x < 0.1 else f"{x:.1%}"


def p_text(p: float | None) -> str:
    """A p-value for reading (:func:`liftlab.format.p_value`: ``0.009`` or ``< 0.001``)."""
    return fmt.p_value(p)


def _level(alpha: float) -> str:
    return f"{1 - alpha:.0%}"


def _abs_fmt(metric: Metric, *values: float | None):  # type: ignore[no-untyped-def]
    """Formatter of an absolute difference: percentage points for proportions; otherwise
    fixed decimals giving four significant digits to the largest of ``values``, so an
    estimate and its interval line up (``+0.1313 [-0.1494, +0.4525]``)."""
    if metric.type == "proportion":
        return _pp
    finite = [abs(v) for v in values if v is not None and math.isfinite(v) and v != 0]
    if not finite:
        return lambda x: _num(x, sign=True)
    decimals = min(max(3 - math.floor(math.log10(max(finite))), 0), 10)

    def fmt(x: float | None) -> str:
        return DASH if x is None or not math.isfinite(x) else _signed(f"{x:+,.{decimals}f}")

    return fmt


def _abs_unit(metric: Metric) -> str:
    return " pp" if metric.type == "proportion" else ""


def _variant_label(name: str, control: str | None) -> str:
    return name + ("\u00a0(control)" if name == control and name != "control" else "")


# ---- ordering ----------------------------------------------------------------------------------
def ordered_metrics(results: Results) -> list[MetricResult]:
    """Metrics in reading order: primary, then guardrail, then secondary (plan order within)."""
    return sorted(results.metrics, key=lambda m: ROLE_ORDER.index(m.metric.role))


def _method_label(results: Results) -> str:
    a = results.plan.analysis
    if a.method == "bayesian":
        return "Bayesian analysis"
    if a.method == "sequential":
        return f"sequential analysis ({SEQUENTIAL_NAMES.get(a.sequential.kind, a.sequential.kind)})"
    return "frequentist analysis"


# ---- title -------------------------------------------------------------------------------------
MAX_VARIANT_ROWS = 8  # more variants than this are listed in one line, not a table


def title_markdown(results: Results, index_href: str | None = None) -> str:
    """The report's title (the plan's name), hypothesis, variants and where the data came from;
    with ``index_href``, a link back to the portfolio index first."""
    plan = results.plan
    facts = [f"{plan.kind.replace('_', ' ')} test", _method_label(results)]
    if plan.owner:
        facts.append(f"owner: {md_text(plan.owner)}")
    if plan.data.on_aggregates:
        facts.append(f"{results.total_units:,} {counted(plan)} (independent units of the variance)")
    else:
        facts.append(f"{results.total_units:,} units ({md_text(plan.unit)})")
    facts.append(f"data: {md_text(results.data_label)}")
    facts.append(f"analysed: {md_text(results.generated_at)}")
    back = (
        [f'<a class="ll-back" href="{html.escape(index_href)}">← All experiments</a>', ""]
        if index_href
        else []
    )
    lines = [
        *back,
        f"# {md_text(plan.name)}",
        "",
        "*" + " · ".join(facts) + "*",
        "",
        f"> **Hypothesis.** {md_text(plan.hypothesis)}",
        "",
    ]
    if len(plan.variants) > MAX_VARIANT_ROWS:  # a line, so that the verdict stays near the top
        return "\n".join([*lines, _variants_line(results), ""]) + "\n"
    with_price = any(v.price is not None for v in plan.variants.values())
    planned = plan.randomization != "none"  # platform delivery planned no shares
    header = [
        "variant",
        *(["planned share"] if planned else []),
        *(["price"] if with_price else []),
        "description",
    ]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    weights = plan.weights
    for name, v in plan.variants.items():
        label = md_text(_variant_label(name, plan.control_name))
        cells = [label, *([_pct(weights[name])] if planned else [])]
        if with_price:
            cells.append(fmt.money(v.price, plan.currency) if v.price is not None else DASH)
        cells.append(md_text(v.description) if v.description else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


MAX_NAMED_CHARS = 480  # the variants line names every arm while they fit in about four lines


def _variants_line(results: Results) -> str:
    """The variants in one line: every name while they fit in :data:`MAX_NAMED_CHARS`; past
    that, how many there are and how the report lists them (:func:`listed_arms`)."""
    plan = results.plan
    names = [_variant_label(n, plan.control_name) for n in plan.variants]
    if sum(len(n) + 2 for n in names) <= MAX_NAMED_CHARS:
        return f"**{len(names)} variants**: {', '.join(md_text(n) for n in names)}."
    listing = listed_arms(results)
    others = len(names) - 1
    return (
        f"**{fmt.count(len(names))} variants** ({md_text(listing.nouns)}), "
        f"**{md_text(plan.control_name)}** the control. The report lists "
        f"{fmt.count(len(listing.treatments))} of the other {fmt.count(others)} (the rule is "
        "under Conventions) and counts the rest in one row; results.json holds every one."
    )


# ---- verdict -----------------------------------------------------------------------------------
def progress_text(results: Results) -> str:
    """The sample-size line of the verdict, honest about what was planned (see
    :mod:`liftlab.progress`): where the sample stands against the planned size, or that an
    always-valid test has no planned end, or that no size was planned. Days to go and what
    the sample can detect are in the verdict's reason when they matter (keep running)."""
    p = results.progress
    if p is None:
        return f"{results.total_units:,} units so far."
    keep = results.decision.recommendation == "keep_running"
    plan = results.plan
    first = plan.primary_metrics[0] if plan.primary_metrics else None
    detect = (
        f" With {p.smallest:,} {counted(plan)} per variant it can detect a lift of about "
        f"{fmt.percent(p.detectable_effect)} on "
        f"{display_of(plan, first.name).label} ({plan.analysis.power:.0%} power)."
        if p.detectable_effect is not None and first is not None and not keep
        else ""
    )
    if p.always_valid:
        reach = (
            f" Looking daily, it reaches {plan.analysis.power:.0%} power for the planned MDE by "
            f"about {p.always_valid_n:,} per variant."
            if p.always_valid_n
            else ""
        )
        ref = (
            f"{reach} A fixed-horizon test would need {p.reference_n:,} per variant for the "
            "planned MDE."
            if p.reference_n
            else reach
        )
        return (
            f"{p.smallest:,} {counted(plan)} per variant so far (smallest variant). An always-valid "
            f"test has no planned size: it may stop whenever it rejects.{ref}{detect}"
        )
    if p.planned_n is None:
        return (
            f"{p.smallest:,} {counted(plan)} per variant so far (smallest variant). No sample size "
            f"was planned: the plan gives no baseline and MDE, or design.n_per_variant.{detect}"
        )
    share = math.floor(100 * p.smallest / p.planned_n)  # never "100%" before it is reached
    state = "; planned size reached" if p.reached else ""
    return (
        f"{p.smallest:,} of {p.planned_n:,} planned units per variant "
        f"({share}%, smallest variant; planned for {p.basis}){state}."
    )


def _progress_html(results: Results, accent: str) -> str:
    p = results.progress
    bar = ""
    if p is not None and p.planned_n and not p.always_valid:
        width = min(p.smallest / p.planned_n, 1.0) * 100
        bar = (
            '<div style="height: 8px; background: #e4e4e4; border-radius: 4px; margin-top: 5px; '
            'max-width: 480px;">'
            f'<div style="height: 8px; width: {width:.1f}%; background: {accent}; '
            'border-radius: 4px;"></div></div>'
        )
    return (
        '<div style="margin-top: 10px; font-size: 0.95em; color: #333;">'
        f"<b>Sample size</b>: {html.escape(progress_text(results))}{bar}</div>"
    )


def verdict_html(results: Results) -> str:
    """The recommendation, its reason, its caveats and the sample-size progress, as a
    coloured box (HTML).

    ``ship`` is green, ``do_not_ship`` red, ``keep_running`` amber, ``investigate`` red with a
    warning not to act on any effect; the word is :func:`liftlab.headline.verdict_word`'s, so
    an observational winner (``randomization: none``) ``LEADS``, in blue. The reason quotes
    the headlines (:mod:`liftlab.decision`). Text is escaped.
    """
    d = results.decision
    label, accent, background = _verdict_look(results)
    headline = label + (f": {d.variant}" if d.variant and d.recommendation == "ship" else "")
    if results.plan.randomization == "none":
        headline += " (observed, not randomised)"
    warning = ""
    if d.recommendation == "investigate":
        warning = (
            f'<div style="margin-top: 8px; font-weight: 700; color: {accent};">'
            f"{html.escape(INVESTIGATE_WARNING)}</div>"
        )
    caveats = ""
    if d.caveats:
        act = "act on it" if results.plan.randomization == "none" else "ship"
        caveats = (
            f'<div style="margin-top: 8px;"><b>Before you {act}, weigh:</b>'
            f"{_bullets(d.caveats)}</div>"
        )
    return answer_box(
        d.recommendation,
        "Verdict",
        headline,
        html.escape(d.reason),
        accent=accent,
        background=background,
        after=f"{caveats}{warning}{_progress_html(results, accent)}",
    )


def answer_box(
    kind: str,
    kicker: str,
    headline: str,
    body_html: str,
    *,
    accent: str,
    background: str,
    after: str = "",
) -> str:
    """The box that opens a report with its answer: a small upper-case ``kicker``
    (``Verdict``), the ``headline`` large in the ``accent`` colour, then ``body_html`` and
    ``after`` (HTML, escaped by the caller), on a ``background`` with a thick left border in
    the accent. Classes ``liftlab-verdict liftlab-<kind>`` let a page keep it whole and a
    test find it. Kicker and headline are escaped here."""
    return (
        f'<div class="liftlab-verdict liftlab-{html.escape(kind)}" '
        f'style="border-left: 8px solid {accent}; background: {background}; color: #1b1b1b; '
        'padding: 14px 20px; margin: 8px 0 16px 0; border-radius: 4px;">'
        '<div style="font-size: 0.85em; letter-spacing: 0.08em; text-transform: uppercase; '
        f'color: #555;">{html.escape(kicker)}</div>'
        f'<div style="font-size: 1.9em; font-weight: 700; color: {accent}; margin: 2px 0 6px 0;">'
        f"{html.escape(headline)}</div>"
        f'<div style="font-size: 1.1em; line-height: 1.45;">{body_html}</div>'
        f"{after}</div>"
    )


def _verdict_look(results: Results) -> tuple[str, str, str]:
    """The verdict's label (its word, :func:`liftlab.headline.verdict_word`), accent and
    background colours."""
    d = results.decision
    word = verdict_word(d.recommendation, results.plan.randomization)
    _, accent, background = RECOMMENDATIONS.get(d.recommendation, ("", "#444", "#f4f4f4"))
    if d.recommendation == "ship" and results.plan.randomization == "none":
        accent, background = OBSERVATIONAL_COLOURS
    return ("⚠ " if d.recommendation == "investigate" else "") + word, accent, background


def verdict_markdown(results: Results) -> str:
    """The verdict as plain Markdown (for places that do not render HTML)."""
    d = results.decision
    label = _verdict_look(results)[0]
    variant = f": {md_text(d.variant)}" if d.variant and d.recommendation == "ship" else ""
    if results.plan.randomization == "none":
        variant += " (observed, not randomised)"
    lines = [f"## Verdict: {label}{variant}", "", f"> **{md_text(d.reason)}**"]
    lines += [f"> - {md_text(c)}" for c in d.caveats]
    if d.recommendation == "investigate":
        lines += ["", f"> ⚠ {INVESTIGATE_WARNING}"]
    lines += ["", f"Sample size: {md_text(progress_text(results))}"]
    return "\n".join(lines) + "\n"


# ---- scorecard, contents, section headings -------------------------------------------------------
SECTIONS = (
    ("health", "Health checks"),
    ("metrics", "Metrics"),
    ("kind", None),
    ("glossary", "Glossary"),
    ("conventions", "Conventions"),
)
KIND_TITLES = {
    "landing_page": "Landing page: funnel, segments, novelty",
    "pricing": "Pricing",
    "creative": "Creative tournament",
}


def overview_html(results: Results) -> str:
    """The scorecard (:mod:`liftlab.scorecard`) and the report's contents list."""
    sections = []
    for anchor, title in SECTIONS:
        if anchor == "kind":
            if not results.sections:
                continue
            title = KIND_TITLES.get(results.plan.kind, results.plan.kind)
        sections.append((anchor, str(title)))
    return scorecard_html(results) + contents_html(results, sections)


def section_heading(anchor: str, title: str | None = None) -> str:
    """A level-2 heading with an anchor the contents list links to (Markdown)."""
    if title is None:
        title = dict(SECTIONS).get(anchor) or anchor
    return f'<a id="{html.escape(anchor)}"></a>\n\n## {md_text(title)}\n'


# ---- sample-ratio check ------------------------------------------------------------------------
def srm_markdown(results: Results) -> str:
    """The sample-ratio health check: counts, observed and planned shares, and a warning."""
    srm = results.srm
    test = f"Pearson χ² = {srm.statistic:.3g}, df = {srm.df}, {fmt.p_clause(srm.p_value)}"
    lines = [section_heading("health"), "### Sample ratio", ""]
    plan = results.plan
    counted = {"impression": "impressions"}.get(plan.randomization, "units")
    if plan.data.on_aggregates and plan.randomization == "none":
        counted = "clusters"
    if plan.randomization == "none":
        lines += [
            "Not applicable: the arms were not randomised (`randomization: none`; the "
            "platform's delivery chose who saw each one), so there is no planned split to "
            f"check, and a {glossary.term('srm')} test would flag the delivery's own choices. "
            "Read every comparison below as observational: the arms' audiences, placements "
            "and timing differ.",
            "",
            f"| variant | {counted} | share |",
            "|---|---:|---:|",
        ]
        lines += _srm_rows(results, planned=False)
        return "\n".join(lines) + "\n"
    if plan.randomization == "impression":
        lines += [
            "The test split impressions at random (`randomization: impression`): the check "
            "compares the impressions of each arm with the planned weights.",
            "",
        ]
    if srm.mismatch:
        lines += [
            f"> ⚠ **{glossary.term('srm', 'Sample-ratio mismatch')}** ({test} < α = "
            f"{srm.alpha:g}). The traffic split "
            "differs from the plan: assignment or logging is broken, and none of the effects "
            "below can be trusted until the cause is found and fixed.",
        ]
    else:
        lines += [
            f"✓ The traffic split matches the plan ({test}; a "
            f"{glossary.term('srm')} is flagged when p < {srm.alpha:g}).",
        ]
    lines += [
        "",
        f"| variant | {counted} | observed share | planned share |",
        "|---|---:|---:|---:|",
    ]
    lines += _srm_rows(results, planned=True)
    return "\n".join(lines) + "\n"


def _srm_rows(results: Results, *, planned: bool) -> list[str]:
    """The sample-ratio table's rows: the listed arms (:func:`listed_arms`), then the rest
    summed in one row."""
    srm = results.srm
    listing = listed_arms(results)
    shares = srm.observed_shares
    names = [n for n in listing.arms if n in srm.expected_weights]
    rows = []
    for name in names:
        cells = [md_text(name), f"{srm.counts.get(name, 0):,}", _pct(shares.get(name, math.nan), 2)]
        if planned:
            cells.append(_pct(srm.expected_weights[name], 2))
        rows.append("| " + " | ".join(cells) + " |")
    rest = [n for n in listing.rest if n in srm.expected_weights]
    if rest:
        cells = [
            f"*{md_text(listing.more())} (together; each in results.json)*",
            f"{sum(srm.counts.get(n, 0) for n in rest):,}",
            _pct(sum(shares.get(n, 0.0) for n in rest), 2),
        ]
        if planned:
            cells.append(_pct(sum(srm.expected_weights[n] for n in rest), 2))
        rows.append("| " + " | ".join(cells) + " |")
    return rows


_QUALITY_ROWS = (
    ("exposures", "rows", "exposure rows", False),
    ("exposures", "units", "distinct units exposed", False),
    (
        "exposures",
        "duplicate_rows",
        "duplicate exposure rows (a unit's rows after its first)",
        False,
    ),
    ("exposures", "null_unit_rows", "exposure rows with no unit id (excluded)", True),
    ("exposures", "multi_variant_units", "units exposed to more than one variant (excluded)", True),
    (
        "exposures",
        "unknown_variant_units",
        "units with a variant the plan does not name (excluded)",
        True,
    ),
    ("exposures", "unknown_variant_rows", "exposure rows with such a variant", True),
    ("events", "rows", "event rows", False),
    (
        "events",
        "unexposed_unit_rows",
        "events of units never exposed or excluded (not counted)",
        True,
    ),
    ("events", "null_unit_rows", "event rows with no unit id (not counted)", True),
    ("events", "negative_value_rows", "negative values of summed events", True),
    ("export", "rows", "export rows", False),
    ("export", "clusters", "clusters (independent units of the variance)", False),
    ("export", "total_rows_skipped", "total rows of the export (skipped)", False),
    (
        "export",
        "zero_click_conversion_rows",
        "rows with conversions but no clicks (view-through; kept)",
        True,
    ),
    ("export", "negative_spend_rows", "rows with negative spend (kept)", True),
    ("export", "missing_spend_rows", "rows with no spend (counted as 0)", True),
)


def data_quality_markdown(results: Results) -> str:
    """Data-quality findings with their counts, and SRM per segment; warnings first."""
    q = dict(results.data_quality or {})
    notes = [str(n) for n in q.pop("notes", [])]  # what could not be checked
    seg = results.segment_srm
    if not q and not seg and not notes:
        return ""
    lines = ["### Data quality", ""]
    for note in notes:
        lines += [f"> ⚠ Not checked: {md_text(note)}.", ""]
    problems = []
    if q:
        rows = ["| finding | count |", "|---|---:|"]
        for table, key, label, bad in _QUALITY_ROWS:
            if (table == "export") != ("export" in q):
                continue
            value = int(q.get(table, {}).get(key, 0))
            flag = " ⚠" if bad and value else ""
            rows.append(f"| {label}{flag} | {value:,} |")
            if bad and value:
                problems.append(f"{value:,} {label}")
        if problems:
            lines += [f"> ⚠ **Data-quality findings**: {'; '.join(problems)}.", ""]
        elif "export" in q:
            lines += ["✓ No view-through conversions, negative or missing spend.", ""]
        else:
            lines += ["✓ No excluded units, unknown variants or orphan events.", ""]
        lines += [*rows, ""]
    if seg:
        flagged = [f"{c}={v}" for c, by in seg.items() for v, s in by.items() if s.mismatch]
        if flagged:
            lines += [f"> ⚠ **Sample-ratio mismatch within segments**: {', '.join(flagged)}.", ""]
        listing = listed_arms(results)  # the listed arms' columns, the rest summed in one
        names = list(listing.arms)
        heads = [md_text(n) for n in names] + ([md_text(listing.more())] if listing.rest else [])
        lines += [
            "| segment | " + " | ".join(heads) + " | SRM p |",
            "|---|" + "---:|" * (len(heads) + 1),
        ]
        for col, by in seg.items():
            for level, s in by.items():
                counts = [s.counts.get(n, 0) for n in names]
                if listing.rest:
                    counts.append(sum(s.counts.get(n, 0) for n in listing.rest))
                cells = " | ".join(f"{c:,}" for c in counts)
                mark = " ⚠" if s.mismatch else ""
                lines.append(
                    f"| {md_text(col)} = {md_text(level)} | {cells} | {p_text(s.p_value)}{mark} |"
                )
        lines.append("")
    return "\n".join(lines)


# ---- metrics -----------------------------------------------------------------------------------
def _is_bayes(metric_result: MetricResult) -> bool:
    comps = metric_result.comparisons
    return bool(comps) and all(c.bayes is not None for c in comps)


def _sequential_kind(metric_result: MetricResult) -> str | None:
    return next((c.sequential.kind for c in metric_result.comparisons if c.sequential), None)


def _side_text(side: object) -> str:
    """One side of a ratio: a column name, or ``count of click`` for an event aggregate."""
    event = getattr(side, "event", None)
    if event is None:
        return md_text(side)
    aggregate = getattr(side, "aggregate", "count")
    what = {"count": "count of", "sum": "sum of the values of", "any": "any"}.get(
        aggregate, md_text(aggregate)
    )
    return f"{what} {md_text(event)} events"


def metric_definition(metric: Metric) -> str:
    """What the metric measures per unit, in words (unit-table columns or event aggregates)."""
    m = metric
    days = f"{m.window_days:g} day{'' if m.window_days == 1 else 's'}"
    window = f" within {days} of exposure" if m.event or _has_events(m) else ""
    if m.type == "ratio":
        return f"Σ {_side_text(m.numerator)} / Σ {_side_text(m.denominator)} per variant{window}"
    if m.event is not None:
        event = md_text(m.event)
        if m.type == "proportion":
            return f"share of units with a {event} event{window}"
        if m.aggregate == "count":
            return f"mean number of {event} events per unit{window}"
        if m.aggregate == "any":
            return f"share of units with a {event} event{window}"
        return f"mean of the summed {event} values per unit{window}"
    if m.type == "proportion":
        return f"share of units whose {md_text(m.column)} is 1"
    return f"mean of {md_text(m.column)} per unit"


def _has_events(metric: Metric) -> bool:
    return any(getattr(s, "event", None) for s in (metric.numerator, metric.denominator))


def _covariate_text(metric: Metric) -> str:
    if metric.covariate == "pre_period":
        return f"the same metric over the {metric.pre_days:g} days before exposure"
    return md_text(metric.covariate)


def cap_name(metric: Metric, key: str, display: fmt.Display | None = None) -> str:
    """A cap's column in words (event metrics cap internal columns: the value and the
    pre-period covariate); the metric's label when its ``display`` is given."""
    if metric.event is not None or _has_events(metric):
        if key.endswith("_y"):
            return md_text(display.label if display is not None else metric.name)
        if key.endswith("_x"):
            return "pre-period" if metric.covariate == "pre_period" else md_text(metric.covariate)
    return md_text(key)


def _margin_text(metric: Metric) -> str:
    if metric.margin is None:
        return DASH
    if metric.margin_type == "relative":
        return f"{metric.margin:+.1%} of control"
    return _abs_fmt(metric, metric.margin)(metric.margin) + _abs_unit(metric)


def _decided_by(metric_result: MetricResult, results: Results) -> str:
    """How the metric's comparisons are decided, in plain words first (names in brackets)."""
    m = metric_result.metric
    a = results.plan.analysis
    clusters = any(c.effect.method == "delta-t" for c in metric_result.comparisons)
    ratio = "delta-method t-test over clusters" if clusters else "delta-method z-test"
    test = ratio if m.type == "ratio" else "Welch t-test"
    if m.covariate is not None:
        test = f"{test} with {glossary.term('cuped')} on {_covariate_text(m)}"
    bayes = next((c.bayes for c in metric_result.comparisons if c.bayes is not None), None)
    seq_kind = _sequential_kind(metric_result)
    n_family = len(results.plan.primary_metrics) * len(results.plan.treatments)
    correction = CORRECTION_NAMES.get(a.correction, md_text(a.correction))
    if n_family > 1:
        adjust = f"adjusted for {n_family} primary comparisons ({correction})"
    else:
        adjust = "no adjustment needed (one primary comparison)"
    if bayes is not None:
        thr = a.bayesian.ship_threshold
        model = "Beta-Binomial" if bayes.method == "beta-binomial" else "Gaussian"
        return (
            f"decided by the {glossary.term('chance-to-beat-control')}: better at ≥ {thr:.0%}, "
            f"worse at ≤ {1 - thr:.0%} ({model} model, prior {md_text(bayes.prior)})"
        )
    if seq_kind == "group-sequential":
        return (
            "decided at planned looks against a group-sequential boundary "
            f"({glossary.term('repeated-confidence-interval')}s; {test})"
        )
    if seq_kind is not None:
        p = glossary.term("always-valid-p")
        what = f"{p}, {adjust}" if m.role == "primary" else f"{p}, not adjusted"
        return (
            f"decided by an always-valid test that is safe to check daily ({what}; "
            f"{SEQUENTIAL_NAMES.get(seq_kind, seq_kind)} on the {test})"
        )
    if m.role == "primary":
        p = glossary.term("adjusted-p", "p-value") if n_family > 1 else glossary.term("p-value")
        return f"decided by a two-sided test: its {p}, {adjust} ({test})"
    return f"a two-sided test at α = {a.alpha:g}, {glossary.term('p-value', 'p')} not adjusted ({test})"


def metric_markdown(metric_result: MetricResult, results: Results) -> str:
    """A metric section's heading (its label, with an anchor the scorecard links to), what is
    measured, and how it is decided, in plain words."""
    m = metric_result.metric
    display = display_of(results.plan, m.name)
    label = display.label
    role = {
        "primary": "primary: decides the test",
        "guardrail": f"{glossary.term('guardrail')}: must not get worse",
        "secondary": "secondary: for context",
    }[m.role]
    details = [
        metric_definition(m),
        "higher is better" if m.direction == "increase" else "lower is better",
    ]
    if m.margin is not None:
        details.append(f"{glossary.term('non-inferiority')} {_margin_text(m)}")
    if metric_result.caps:
        caps = ", ".join(
            f"{cap_name(m, col, display)} at {fmt.value(display, v)}"
            for col, v in metric_result.caps.items()
        )
        details.append(f"{glossary.term('cap', 'capped')}: {caps}")
    lines = [
        f'<a id="{metric_anchor(m.name)}"></a>',
        "",
        f"### {md_text(label)}",
        "",
        f"**{role}** · *{' · '.join(details)}*",
        "",
        f"*{_decided_by(metric_result, results)}.*",
    ]
    if m.description:
        lines += ["", md_text(m.description)]
    if m.covariate is not None:
        lines += [
            "",
            "*Values are observed means; changes, intervals and p-values are CUPED-adjusted "
            "(narrower, same effect).*",
        ]
    return "\n".join(lines) + "\n"


def _bullets(items: Sequence[str]) -> str:
    """``items`` as a tight bulleted list (HTML), each escaped: the lists inside the verdict
    and the warning boxes."""
    return (
        '<ul style="margin: 4px 0 0 0;">'
        + "".join(f"<li>{html.escape(i)}</li>" for i in items)
        + "</ul>"
    )


# a box's accent (its title and left border) and its background, by status
BOX_COLOURS = {"flagged": ("#9a6700", "#fff8e1"), "error": ("#b42318", "#fdecea")}


def warning_box(
    status: Literal["flagged", "error"],
    title: str,
    text: str | None = None,
    *,
    items: Sequence[str] | None = None,
    css_class: str = "",
) -> str:
    """The report's warning box: ``⚠ title:`` in the status's accent, then ``text`` and a
    bulleted list of ``items``, on a tinted band with a left border; amber for ``flagged``,
    red for ``error`` (:data:`BOX_COLOURS`). Title, text and items are escaped here; the
    classes ``liftlab-status liftlab-<status>`` (and ``css_class``) let a page or a test find
    the box."""
    accent, background = BOX_COLOURS[status]
    classes = f"liftlab-status liftlab-{status}" + (f" {css_class}" if css_class else "")
    body = f" {html.escape(text)}" if text is not None else ""
    if items:
        body += _bullets(items)
    return (
        f'<div class="{classes}" style="border-left: 5px solid {accent}; '
        f"background: {background}; color: #1b1b1b; padding: 8px 14px; margin: 6px 0 10px 0; "
        f'border-radius: 3px;"><b style="color: {accent};">⚠ {html.escape(title)}:</b>'
        f"{body}</div>"
    )


def status_html(metric_result: MetricResult, listing: Listing | None = None) -> str:
    """A warning box when the metric is ``flagged`` or in ``error`` (empty string when ok).

    A flag names each comparison that could not be computed; with a ``listing`` of some of
    many arms, those of the listed arms, and the others counted by reason.
    """
    if metric_result.status == "ok":
        return ""
    reason = _flag_reason(metric_result, listing) or "no reason given"
    if metric_result.status == "error":
        return warning_box("error", "Not analysed", reason)
    return warning_box("flagged", "Flagged", reason)


def _flag_reason(metric_result: MetricResult, listing: Listing | None) -> str | None:
    """The metric's reason, its notes on unlisted arms counted (``2 more ads: fewer than two
    units in an arm``) rather than named."""
    comps = metric_result.comparisons
    if listing is None or listing.complete or metric_result.status != "flagged":
        return metric_result.reason
    if not any(c.effect.note and c.variant in listing.rest for c in comps):
        return metric_result.reason
    named = sorted(
        {f"{c.variant}: {c.effect.note}" for c in comps if c.effect.note and c.variant in listing}
    )
    rest = Counter(c.effect.note for c in comps if c.effect.note and c.variant in listing.rest)
    n = sum(rest.values())
    notes = ", ".join(f"{note} ({k:,})" if len(rest) > 1 else note for note, k in rest.items())
    noun = listing.nouns if n != 1 else listing.noun
    named.append(f"{n:,} more {noun}: {notes} (see results.json)")
    return "; ".join(named)


def _ni_cell(metric: Metric, c: Comparison) -> str:
    ni = c.non_inferiority
    if ni is None:
        return DASH
    fmt_ = _abs_fmt(metric, ni.bound, ni.margin_abs)
    unit = _abs_unit(metric)
    if not _ok(ni.bound):
        return f"✗ not computable (margin {fmt_(ni.margin_abs)}{unit})"
    side = "<" if metric.direction == "decrease" else ">"
    if not ni.passed:
        side = "≥" if metric.direction == "decrease" else "≤"
    mark = "✓" if ni.passed else "✗"
    text = f"{mark} {fmt_(ni.bound)}{unit} {side} {fmt_(ni.margin_abs)}{unit}"
    return text.replace(" ", "\u00a0")


def _headline_labels(metric_result: MetricResult) -> tuple[str, str]:
    """The metric table's change and probability column labels (from its headlines)."""
    h = next((c.headline for c in metric_result.comparisons if c.headline is not None), None)
    if h is None:
        return "change", "p"
    return f"change [{h.interval_label}]", h.probability_label


def metric_frame(metric_result: MetricResult, results: Results) -> pd.DataFrame:
    """The metric's table as display strings: one row per variant, control first.

    Columns: variant, units, observed value (in the metric's units), then the headline (see
    :mod:`liftlab.headline`): the change with its interval, the probability the method decides
    by, and the status. These are the numbers of the scorecard, the verdict, the index and the
    command line. Everything else is in :func:`diagnostics_frame`.
    """
    m = metric_result.metric
    comps = {c.variant: c for c in metric_result.comparisons}
    first = metric_result.comparisons[0] if metric_result.comparisons else None
    control = first.control if first else next(iter(metric_result.variants), None)
    change_label, prob_label = _headline_labels(metric_result)
    listing = listed_arms(results)
    arms = arm_texts(results, metric_result, listing.arms)
    value_label = (
        "observed rate" if display_of(results.plan, m.name).is_percent else "observed mean"
    )
    rows: list[dict[str, Any]] = []
    order = [control] + [v for v in listing.treatments if v != control]
    for name in order:
        if name is None or name not in metric_result.variants:
            continue
        s = metric_result.variants[name]
        c = comps.get(name)
        h = c.headline if c is not None else None
        shown = arms.get(name) or fmt.values(display_of(results.plan, m.name), {name: s.mean})[name]
        rows.append(
            {
                "variant": _variant_label(name, control),
                "units": f"{s.n:,}",
                value_label: shown,
                change_label: h.effect_text(display_of(results.plan, m.name)) if h else DASH,
                prob_label: h.probability_text() if h else DASH,
                "status": h.status_text if h else ("control" if name == control else DASH),
            }
        )
    rest = [v for v in listing.rest if v in metric_result.variants]
    if rest:
        rows.append(
            {
                "variant": f"{listing.more()} (each in results.json)",
                "units": f"{sum(metric_result.variants[v].n for v in rest):,}",
                value_label: DASH,
                change_label: DASH,
                prob_label: DASH,
                "status": status_counts(listing.rest_statuses(metric_result)),
            }
        )
    return pd.DataFrame(rows)


def _style(frame: pd.DataFrame, uuid: str, status: dict[str, str] | None = None) -> Styler:
    styler = frame.style.format(escape="html").hide(axis="index").set_uuid(uuid)
    styler = styler.set_properties(**{"text-align": "right", "padding": "4px 10px"})
    styler = styler.set_properties(subset=[frame.columns[0]], **{"text-align": "left"})
    wide = [col for col in frame.columns if str(col).startswith(("change", "fixed-horizon lift"))]
    if wide:
        styler = styler.set_properties(subset=wide, **{"white-space": "nowrap"})
    if status:
        colours = {text: STATUS_COLOURS.get(key, ("#444", ""))[0] for text, key in status.items()}

        def colour(value: object) -> str:
            c = colours.get(str(value))
            return f"color: {c}; font-weight: 600" if c and c != "#444" else ""

        styler = styler.map(colour, subset=["status"])
    ni = [col for col in frame.columns if str(col).startswith("non-inferior")]
    if ni:
        styler = styler.map(
            lambda v: (
                "color: #1a7f37"
                if str(v).startswith("✓")
                else "color: #b42318"
                if str(v).startswith("✗")
                else ""
            ),
            subset=ni,
        )
    return styler.set_table_styles(
        [
            {"selector": "th", "props": "text-align: right; padding: 4px 10px;"},
            {"selector": "th.col0", "props": "text-align: left;"},
            {"selector": "", "props": "border-collapse: collapse; margin: 6px 0 10px 0;"},
        ]
    )


def metric_table(metric_result: MetricResult, results: Results) -> Styler:
    """:func:`metric_frame` styled (values HTML-escaped; the status coloured by meaning)."""
    frame = metric_frame(metric_result, results)
    status = {STATUS_TEXT[k]: k for k in STATUS_TEXT}
    return _style(frame, f"liftlab-{metric_result.metric.name}", status)


def diagnostics_frame(metric_result: MetricResult, results: Results) -> pd.DataFrame | None:
    """The metric's other numbers, one row per treatment, each column named for what it is.

    - sequential plans: the fixed-horizon lift and p-value (valid only for one look at the
      end; the headline is always-valid);
    - frequentist plans: the absolute difference from the same test, and for primary metrics
      the p-value before adjustment;
    - Bayesian plans: the probability each arm is best of all and the expected loss of
      choosing it (or of shipping the treatment), as a share of the control value;
    - a guardrail margin: the one-sided non-inferiority bound against the margin;
    - a rank test: the Mann–Whitney p-value and P(T > C).

    ``None`` when there is nothing beyond the headline.
    """
    listing = listed_arms(results)
    rows = [
        {"variant": c.variant}
        | _method_cells(metric_result, results, c)
        | _test_cells(metric_result.metric, results, c)
        for c in listing.only(metric_result).comparisons
    ]
    control_row = _control_best_row(metric_result)
    if control_row is not None:
        rows.insert(0, control_row)
    if not rows or all(len(r) == 1 for r in rows):
        return None
    if any(c.variant in listing.rest for c in metric_result.comparisons):
        rows.append({"variant": f"{listing.more()} (each in results.json)"})
    return pd.DataFrame(rows).fillna(DASH)


def _control_mean(metric_result: MetricResult) -> float:
    control = metric_result.comparisons[0].control if metric_result.comparisons else None
    return metric_result.variants[control].mean if control in metric_result.variants else math.nan


def _method_cells(metric_result: MetricResult, results: Results, c: Comparison) -> dict[str, str]:
    """What the plan's method adds beside the headline: the fixed-horizon numbers of a
    sequential plan, the same test's difference of a frequentist one, or the chance of being
    best and the expected loss of a Bayesian one."""
    m = metric_result.metric
    display = display_of(results.plan, m.name)
    level = _level(results.plan.analysis.alpha)
    e = c.effect
    row: dict[str, str] = {}
    seq = _sequential_kind(metric_result)
    if seq is not None:
        row[f"fixed-horizon lift [{level} CI]"] = fmt.effect_text(
            display, e.rel_effect, e.rel_ci, "relative"
        )
        row["fixed-horizon p"] = p_text(e.p_value)
        look = c.sequential.looks[-1] if c.sequential and c.sequential.looks else None
        if seq == "group-sequential":
            row["z / boundary (last look)"] = (
                f"{look.z:+.2f} / ±{look.boundary:.2f}"
                if look is not None and _ok(look.z) and _ok(look.boundary)
                else DASH
            )
    elif not _is_bayes(metric_result):
        if c.headline is not None and c.headline.effect_type == "relative":
            row[f"difference [{level} CI], same test"] = fmt.effect_text(
                display, e.abs_effect, e.abs_ci, "absolute"
            )
        n_family = len(results.plan.primary_metrics) * len(results.plan.treatments)
        if m.role == "primary" and n_family > 1:
            row["p before adjustment"] = p_text(e.p_value)
    else:
        row |= _bayes_cells(metric_result, c)
    return row


def _bayes_cells(metric_result: MetricResult, c: Comparison) -> dict[str, str]:
    """The chance of being best of all arms and the expected loss of choosing the arm (more
    than two arms), or the expected loss of shipping it."""
    best = metric_result.best
    if best is not None:
        control_mean = _control_mean(metric_result)
        loss = best.expected_loss.get(c.variant, math.nan)
        return {
            "probability best (all arms)": fmt.mc_probability(best.prob_best.get(c.variant)),
            "expected loss if chosen (% of control)": _small_pct(
                loss / abs(control_mean) if control_mean else math.nan
            ),
        }
    if c.bayes is not None:
        return {
            "expected loss if shipped (% of control)": _small_pct(
                c.bayes.expected_loss_treatment_rel
            )
        }
    return {}


def _test_cells(m: Metric, results: Results, c: Comparison) -> dict[str, str]:
    """The non-inferiority bound against the margin and the rank test, where they ran."""
    level = _level(results.plan.analysis.alpha)
    row: dict[str, str] = {}
    if c.non_inferiority is not None:
        row[f"non-inferior: one-sided {level} bound vs margin ({_margin_text(m)})"] = _ni_cell(m, c)
    if c.rank is not None:
        row["Mann–Whitney p"] = p_text(c.rank.p_value)
        row["P(T > C)"] = fmt.probability(c.rank.prob_superiority)
    return row


def _control_best_row(metric_result: MetricResult) -> dict[str, str] | None:
    """Control's chance of being best and expected loss (Bayesian plans, more than two arms)."""
    best = metric_result.best if _is_bayes(metric_result) else None
    if best is None or not metric_result.comparisons:
        return None
    control = metric_result.comparisons[0].control
    control_mean = _control_mean(metric_result)
    loss = best.expected_loss.get(control, math.nan)
    return {
        "variant": _variant_label(control, control),
        "probability best (all arms)": fmt.mc_probability(best.prob_best.get(control)),
        "expected loss if chosen (% of control)": _small_pct(
            loss / abs(control_mean) if control_mean else math.nan
        ),
    }


def diagnostics_markdown(metric_result: MetricResult, results: Results) -> str:
    """The caption of :func:`diagnostics_frame`: why these numbers differ from the headline."""
    bayes = _is_bayes(metric_result)
    seq = _sequential_kind(metric_result)
    parts = []
    if seq is not None:
        parts.append(
            f"The {glossary.term('fixed-horizon')} lift and p are what a single test at today's "
            "sample would "
            "give: narrower than the always-valid headline, but valid only if the test had "
            "been read once, at a planned end. They do not decide."
        )
    elif bayes:
        parts.append(
            "Probability best compares every arm with all the others, not just with control; "
            "expected loss is what choosing the arm costs if it is in fact worse."
        )
    else:
        parts.append(
            "The difference is the same test on the metric's own scale; the p before "
            "adjustment ignores that several primary comparisons were tested."
            if metric_result.metric.role == "primary"
            else "The difference is the same test on the metric's own scale."
        )
    if any(c.rank is not None for c in metric_result.comparisons):
        parts.append(
            "The rank test asks whether a treatment unit tends to have a larger value, not "
            "whether the mean moved, so its p differs."
        )
    if any(c.non_inferiority is not None for c in metric_result.comparisons):
        parts.append(
            "The non-inferiority bound is a one-sided fixed-horizon test against the margin."
        )
    return "#### Diagnostics\n\n*" + " ".join(parts) + "*\n"


def diagnostics_table(metric_result: MetricResult, results: Results) -> Styler | None:
    frame = diagnostics_frame(metric_result, results)
    if frame is None:
        return None
    return _style(frame, f"liftlab-diag-{metric_result.metric.name}")


# ---- the method's extra views ------------------------------------------------------------------
def sequential_markdown(metric_result: MetricResult, listing: Listing | None = None) -> str:
    """A caption for the sequential chart: what the band means and when the test rejected
    (for the arms of ``listing``, :func:`liftlab.scorecard.listed_arms`; default all)."""
    shown = listing.only(metric_result) if listing is not None else metric_result
    views = [(c, c.sequential) for c in shown.comparisons if c.sequential is not None]
    if not views:
        return ""
    kind = views[0][1].kind
    level = _level(views[0][1].alpha)
    if kind == "group-sequential":
        spending = views[0][1].spending or ""
        text = (
            "*Group-sequential test: at each planned look the z statistic is compared with its "
            f"boundary ({SPENDING_NAMES.get(spending, spending)} spending); the test stops the "
            "first time |z| crosses it.*"
        )
    else:
        text = (
            f"*Always-valid inference: the band is a {level} confidence sequence, which covers "
            "the true effect on every day at once, so the test may be checked daily and stopped "
            "as soon as the band leaves 0.*"
        )
    states = []
    for c, v in views:
        if v.first_rejection is not None:
            states.append(f"{md_text(c.variant)}: rejected on {v.first_rejection.isoformat()}")
        else:
            states.append(f"{md_text(c.variant)}: {SEQUENTIAL_STATUS.get(v.status, v.status)}")
    if listing is not None and listing.rest:
        states.append(f"{md_text(listing.more())} in results.json")
    notes = sorted({md_text(v.note) for _, v in views if v.note})
    warning = "".join(f"\n\n> ⚠ {note}." for note in notes)
    return text + " " + "; ".join(states) + "." + warning + "\n"


def cumulative_markdown(metric_result: MetricResult) -> str:
    """A caption for the cumulative chart: what to look for, and why not to stop on it."""
    views = [c.cumulative for c in metric_result.comparisons if c.cumulative is not None]
    if not views:
        return ""
    level = _level(views[0].alpha)
    bayes = " (the fixed-horizon test's, not the posterior)" if _is_bayes(metric_result) else ""
    return (
        "*Cumulative difference by day: each point is the fixed-horizon test on all units "
        f"exposed up to that day, with its pointwise {level} confidence interval{bayes}; the "
        "last day is the result above. Look for a band that narrows and settles; an effect "
        "that shrinks over the days suggests a novelty effect. Do not stop the test the first "
        "day the band leaves 0: checked daily, these intervals give false positives far more "
        "often than the stated level (peeking).*\n"
    )


def posterior_markdown(metric_result: MetricResult) -> str:
    """A caption for the posterior chart (says when the curves are an approximation)."""
    comps = [c for c in metric_result.comparisons if c.bayes is not None]
    if not comps or comps[0].bayes is None:
        return ""
    b = comps[0].bayes
    level = _level(b.alpha)
    if b.method == "beta-binomial":
        draws = f" from {b.n_draws:,} draws" if b.n_draws else ""
        return (
            f"*The Beta-Binomial posterior of the {b.effect_scale} effect is drawn as a normal "
            f"approximation, centred on its posterior mean with the spread of its {level} "
            f"credible interval{draws}. The chance to beat control in the table is exact; the "
            "shaded area only approximates it.*\n"
        )
    return (
        f"*Normal posterior of the {b.effect_scale} effect ({md_text(b.prior)}); the shaded area "
        "is the chance to beat control.*\n"
    )


def bootstrap_markdown(metric_result: MetricResult, listing: Listing | None = None) -> str:
    """The bootstrap comparison of each treatment: estimate, interval and p-value (Markdown);
    the treatments of ``listing`` (default all), the rest counted in one line."""
    shown = listing.only(metric_result) if listing is not None else metric_result
    comps = [c for c in shown.comparisons if c.bootstrap is not None]
    if not comps:
        return ""
    m = metric_result.metric
    first = comps[0].bootstrap
    assert first is not None
    level = _level(first.alpha)
    method = {"bca": "BCa", "percentile": "percentile"}.get(first.method, first.method)
    relative = first.effect_type == "relative"
    scheme = "Poisson" if first.scheme == "poisson" else first.scheme
    raw = (
        " (capped as analysed, without the CUPED adjustment)"
        if m.covariate is not None
        else " (capped as analysed)"
        if metric_result.caps
        else ""
    )
    what = f"{'relative difference in' if relative else 'difference in'} {_plural(first.statistic)}"
    fmt = (
        (lambda x: _pct(x, sign=True))
        if relative
        else _abs_fmt(m, *(x for c in comps if c.bootstrap for x in c.bootstrap.ci))
    )
    unit = "" if relative else _abs_unit(m)
    lines = [
        f"#### Bootstrap: {md_text(m.name)}",
        "",
        f"*{method} interval from {first.n_resamples:,} {scheme} resamples (seed {first.seed}) "
        f"of the {what}, on the unit values{raw}.*",
        "",
        f"| variant | {what}{unit} | {level} {method} interval | p |",
        "|---|---:|---:|---:|",
    ]
    notes = []
    for c in comps:
        bs = c.bootstrap
        assert bs is not None
        lines.append(
            f"| {md_text(c.variant)} | {fmt(bs.effect)} | [{fmt(bs.ci[0])}, {fmt(bs.ci[1])}] | "
            f"{p_text(bs.p_value)} |"
        )
        if bs.note:
            notes.append(f"{md_text(c.variant)}: {md_text(bs.note)}")
    if listing is not None and any(c.variant in listing.rest for c in metric_result.comparisons):
        lines.append(f"| *{md_text(listing.more())} (each in results.json)* | | | |")
    if notes:
        lines += ["", "> ⚠ " + "; ".join(notes)]
    return "\n".join(lines) + "\n"


def _plural(statistic: str) -> str:
    """``mean`` → ``means``; a quantile statistic stays as it is."""
    return statistic + "s" if statistic in ("mean", "median") else statistic


def _caps_text(metric: Metric, caps: dict[str, float], display: fmt.Display | None = None) -> str:
    """``revenue per visitor ≤ $272.83, pre-period ≤ $256.99`` (in the metric's units when its
    ``display`` is given), or ``none``."""
    if not caps:
        return "none"

    def shown(v: float) -> str:
        return fmt.value(display, v) if display is not None else _num(v)

    return ", ".join(f"{cap_name(metric, col, display)} ≤ {shown(v)}" for col, v in caps.items())


def sensitivity_markdown(metric_result: MetricResult, results: Results | None = None) -> str:
    """How the effect moves under no cap, a p99 cap and a p99.9 cap (Markdown table).

    The caps are quantiles of the non-zero values unless the plan's cap says ``among: all``
    (:class:`liftlab.plan.Cap`). Levels that give a treatment the same caps (a quantile above
    every value caps nothing) collapse into one row; when every level is the same for every
    treatment the table is replaced by one line saying that capping changes nothing. The row
    whose caps are the plan's is marked "as analysed". The rows are fixed-horizon tests: they
    show whether a few extreme units drive the effect; they do not decide.
    """
    listing = listed_arms(results) if results is not None else None
    rows = [r for r in metric_result.sensitivity if listing is None or r.variant in listing]
    if listing is not None and not listing.complete:  # the listing's order, levels within
        place = {v: k for k, v in enumerate(listing.arms)}
        rows = sorted(rows, key=lambda r: place[r.variant])
    if not rows:
        return ""
    m = metric_result.metric
    display = display_of(results.plan, m.name) if results is not None else fmt.Display(m.name)
    groups = _same_effect_groups(rows)
    title = f"#### Cap sensitivity: {md_text(display.label)}"
    if all(len(labels) == len({r.label for r in rows}) for labels, _ in groups):
        return (
            f"{title}\n\n*Capping changes nothing here: no value lies above the pooled 99th "
            "percentile of the non-zero values by enough to move the effect, so the results "
            "with no cap, a p99 cap and a p99.9 cap are identical.*\n"
        )
    lines = [title, "", *_sensitivity_head(metric_result, rows[0].effect.alpha)]
    lines += [_sensitivity_line(metric_result, display, rows, g) for g in groups]
    if listing is not None and any(r.variant in listing.rest for r in metric_result.sensitivity):
        lines.append(f"| | | *{md_text(listing.more())} (each in results.json)* | | | |")
    return "\n".join(lines) + "\n"


def _same_effect_groups(rows: list[SensitivityRow]) -> list[tuple[list[str], SensitivityRow]]:
    """The rows of each treatment whose levels give the same effect, as (labels, first row)."""

    def same_effect(a: SensitivityRow, b: SensitivityRow) -> bool:
        ea, eb = a.effect, b.effect
        return math.isclose(ea.abs_effect, eb.abs_effect, rel_tol=1e-12, abs_tol=1e-15) and (
            math.isclose(ea.abs_se, eb.abs_se, rel_tol=1e-12, abs_tol=1e-15)
        )

    groups: list[tuple[list[str], SensitivityRow]] = []
    for r in rows:
        match = next(
            (g for g in groups if g[1].variant == r.variant and same_effect(g[1], r)), None
        )
        if match is not None:
            match[0].append(r.label)
        else:
            groups.append(([r.label], r))
    return groups


def _sensitivity_head(metric_result: MetricResult, alpha: float) -> list[str]:
    """The caption and the header of the cap-sensitivity table."""
    level = _level(alpha)
    return [
        "*Fixed-horizon tests of the same comparison with values capped at the pooled 99th "
        "and 99.9th percentiles of the non-zero values: an effect that holds only without a "
        "cap rests on a few extreme units. These rows do not decide; the headline above "
        "does (it uses the cap marked as analysed"
        + (", with CUPED" if metric_result.metric.covariate is not None else "")
        + (", tested by the always-valid method" if _sequential_kind(metric_result) else "")
        + "). Levels that cap nothing share a row.*",
        "",
        f"| cap | cap values | variant | lift [{level} CI] | difference [{level} CI] | p |",
        "|---|---|---|---:|---:|---:|",
    ]


def _sensitivity_line(
    metric_result: MetricResult,
    display: fmt.Display,
    rows: list[SensitivityRow],
    group: tuple[list[str], SensitivityRow],
) -> str:
    """One row of the cap-sensitivity table: the levels that share an effect, marked "as
    analysed" when one of them has the plan's caps."""
    labels, r = group
    used = metric_result.caps or {}

    def same(a: dict[str, float], b: dict[str, float]) -> bool:
        return set(a) == set(b) and all(math.isclose(a[k], b[k], rel_tol=1e-12) for k in a)

    e = r.effect
    label = " = ".join(md_text(x) for x in labels)
    if any(same(caps, used) for caps in _caps_of(rows, r.variant, labels)):
        label += " (as analysed)"
    lift = fmt.effect_text(display, e.rel_effect, e.rel_ci, "relative")
    diff = fmt.effect_text(display, e.abs_effect, e.abs_ci, "absolute")
    caps = _caps_text(metric_result.metric, r.caps, display)
    return f"| {label} | {caps} | {md_text(r.variant)} | {lift} | {diff} | {p_text(e.p_value)} |"


def _caps_of(rows: list[SensitivityRow], variant: str, labels: list[str]) -> list[dict[str, float]]:
    return [r.caps for r in rows if r.variant == variant and r.label in labels]


def metrics_section(results: Results) -> list[Any]:
    """The "Metrics" heading and every metric's views, in reading order (:func:`metric_views`)."""
    from IPython.display import Markdown

    views: list[Any] = [Markdown(section_heading("metrics"))]
    for m in ordered_metrics(results):
        views += metric_views(m, results)
    return views


def metric_views(metric_result: MetricResult, results: Results) -> list[Any]:
    """Everything a metric's section shows, in order, as objects IPython displays.

    The heading (:func:`metric_markdown`), a warning when the metric is flagged or could not
    be analysed (:func:`status_html`), the table (:func:`metric_table`), the forest plot, then
    the view of each method that ran (:data:`METHOD_VIEWS`): the cumulative effect by day
    (always-valid for sequential plans, pointwise otherwise, when the data have days), the
    posterior (Bayesian), the bootstrap distribution, the diagnostics and the cap-sensitivity
    table. Each lists the arms of :func:`liftlab.scorecard.listed_arms` and counts the rest.
    """
    from IPython.display import HTML, Markdown

    from liftlab import charts

    listing = listed_arms(results)
    views: list[Any] = [Markdown(metric_markdown(metric_result, results))]
    if metric_result.status != "ok":
        views.append(HTML(status_html(metric_result, listing)))
    if metric_result.variants:
        views.append(metric_table(metric_result, results))
    if not metric_result.comparisons:
        return views
    display = display_of(results.plan, metric_result.metric.name)
    views.append(charts.forest_plot(metric_result, display, listing))
    for view in METHOD_VIEWS:
        views += view(metric_result, results, listing)
    return views


# ---- the comparison methods' views -------------------------------------------------------------
# Each takes a metric's result, the results and the arms the report lists, and returns what
# to display for one method of liftlab.methods (nothing when the method did not run).
MethodView = Callable[["MetricResult", "Results", Listing], list[Any]]


def sequential_views(metric_result: MetricResult, results: Results, listing: Listing) -> list[Any]:
    """The sequential chart and its caption (sequential plans)."""
    from IPython.display import Markdown

    from liftlab import charts

    chart = charts.sequential_chart(metric_result, listing)
    if chart is None:
        return []
    return [chart, Markdown(sequential_markdown(metric_result, listing))]


def cumulative_views(metric_result: MetricResult, results: Results, listing: Listing) -> list[Any]:
    """The cumulative difference by day and its caption (plans that are not sequential)."""
    from IPython.display import Markdown

    from liftlab import charts

    chart = charts.cumulative_chart(metric_result, listing)
    if chart is None:
        return []
    return [chart, Markdown(cumulative_markdown(metric_result))]


def posterior_views(metric_result: MetricResult, results: Results, listing: Listing) -> list[Any]:
    """The posterior chart and its caption (Bayesian plans)."""
    from IPython.display import Markdown

    from liftlab import charts

    chart = charts.posterior_chart(metric_result, listing)
    if chart is None:
        return []
    return [chart, Markdown(posterior_markdown(metric_result))]


def bootstrap_views(metric_result: MetricResult, results: Results, listing: Listing) -> list[Any]:
    """The bootstrap comparison's text and its distribution (metrics with ``bootstrap``)."""
    from IPython.display import Markdown

    from liftlab import charts

    chart = charts.bootstrap_chart(metric_result, listing)
    if chart is None:
        return []
    return [Markdown(bootstrap_markdown(metric_result, listing)), chart]


def diagnostics_views(metric_result: MetricResult, results: Results, listing: Listing) -> list[Any]:
    """The diagnostics table and its caption: the numbers beside the headline, with the
    non-inferiority bound and the rank test when they ran."""
    from IPython.display import Markdown

    table = diagnostics_table(metric_result, results)
    if table is None:
        return []
    return [Markdown(diagnostics_markdown(metric_result, results)), table]


def sensitivity_views(metric_result: MetricResult, results: Results, listing: Listing) -> list[Any]:
    """The cap-sensitivity table (mean metrics)."""
    from IPython.display import Markdown

    if not metric_result.sensitivity:
        return []
    return [Markdown(sensitivity_markdown(metric_result, results))]


# The methods' views in the report's reading order.
METHOD_VIEWS: tuple[MethodView, ...] = (
    sequential_views,
    cumulative_views,
    posterior_views,
    bootstrap_views,
    diagnostics_views,
    sensitivity_views,
)


# ---- conventions -------------------------------------------------------------------------------
def _names(metrics: list[MetricResult]) -> str:
    return ", ".join(md_text(m.metric.name) for m in metrics)


def _bayes_items(results: Results) -> list[str]:
    a = results.plan.analysis
    spec = a.bayesian
    level = _level(a.alpha)
    models: dict[tuple[str, str, str], list[MetricResult]] = {}
    for m in results.metrics:
        b = next((c.bayes for c in m.comparisons if c.bayes is not None), None)
        if b is not None:
            models.setdefault((b.method, b.prior, b.effect_scale), []).append(m)
    parts = []
    for (method, prior, scale), ms in models.items():
        if method == "beta-binomial":
            parts.append(
                f"Beta-Binomial with prior {md_text(prior)} ({_names(ms)}): chance to beat "
                "control exact (Miller, 2015), expected loss exact; equal-tailed "
                f"{level} credible intervals of the difference and the lift from "
                f"{spec.draws:,} seeded draws (seed {spec.seed})"
            )
        else:
            parts.append(
                f"Gaussian model of the {scale} effect, prior {md_text(prior)} ({_names(ms)}): "
                "posterior N(μ, σ²) by the conjugate update on the test's estimate and standard "
                "error (Gelman et al., 2013, §2.5), chance to beat control Φ(μ/σ), "
                f"equal-tailed {level} credible interval"
            )
    items = []
    if parts:
        items.append(
            "**Bayesian analysis**: "
            + "; ".join(parts)
            + f". A comparison is decisive when its chance to beat control is ≥ "
            f"{spec.ship_threshold:.0%} (better) or ≤ {1 - spec.ship_threshold:.0%} (worse); "
            "the p-values and their correction are not used. Expected loss of shipping "
            "E[max(0, control − treatment)] (Stucchio, 2015), shown as a share of the control "
            "mean."
        )
    best = [m for m in results.metrics if m.best is not None and _is_bayes(m)]
    if best:
        arm = best[0].best
        assert arm is not None
        items.append(
            f"**Probability best** ({_names(best)}): {arm.draws:,} Monte Carlo draws from each "
            f"arm's posterior (seed {arm.seed}; Beta posteriors for proportions, normal ones "
            "with the arm's mean and standard error otherwise), P(arm is best) and the expected "
            "loss of choosing the arm, E[best − arm], as a share of the control mean."
        )
    return items


def _sequential_items(results: Results) -> list[str]:
    a = results.plan.analysis
    spec = a.sequential
    views = [
        (m, c.sequential)
        for m in results.metrics
        for c in m.comparisons[:1]
        if c.sequential is not None
    ]
    if not views:
        return [
            "**Sequential analysis**: the data have no daily looks (no `data.timestamp`), so "
            "the fixed-horizon figures are shown."
        ]
    level = _level(a.alpha)
    correction = CORRECTION_NAMES.get(a.correction, md_text(a.correction))
    n_family = len(results.plan.primary_metrics) * len(results.plan.treatments)
    family = f"{n_family} primary comparison{'s' if n_family != 1 else ''}"
    looks = len(views[0][1].looks) if views[0][1] is not None else 0
    if spec.kind == "group-sequential":
        planned = views[0][1].planned_n if views[0][1] is not None else spec.planned_n
        spending = SPENDING_NAMES.get(spec.spending, spec.spending)
        text = (
            f"**Sequential analysis**: a group-sequential test with {spec.looks} planned looks "
            f"equally spaced in information up to {planned or 0:,} units per arm and Lan–DeMets "
            f"{spending} alpha spending (α = {a.alpha:g}, two-sided); each look is the first "
            "day the cumulative units reach its information fraction, and the boundaries are "
            "recomputed for the information actually observed. The table's interval is the "
            "repeated confidence interval at the last look."
        )
        return [text]
    if spec.kind == "msprt":
        taus = ", ".join(
            f"{md_text(m.metric.name)} τ = {_num(v.tau)}" for m, v in views if v is not None
        )
        origin = (
            "from the plan"
            if spec.tau is not None
            else f"the plan's MDE ({a.mde:g} {a.mde_type}) in metric units at the control mean"
        )
        how = (
            "the mixture sequential probability ratio test (mSPRT; Johari, Koomen, Pekelis & "
            "Walsh, 2022) with a normal mixture of standard deviation τ, "
            f"{origin}: {taus}"
        )
    else:
        planned = views[0][1].planned_n if views[0][1] is not None else None
        how = (
            "the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy & "
            f"Ramdas (2024), tuned to be tightest at {planned or 0:,} units per arm"
        )
    return [
        f"**Sequential analysis**: {how}. At each of the {looks} daily looks the cumulative "
        "effect (the same test as the fixed-horizon analysis) gives an always-valid p-value "
        f"(never increasing) and a {level} confidence sequence (the running intersection of "
        "the looks' intervals), valid at any stopping time. The always-valid p-values of the "
        f"{family} are adjusted with {correction} (valid at any stopping time, since each "
        "is); guardrail and secondary metrics are not adjusted. The relative intervals in the "
        "tables are fixed-horizon, for reference."
    ]


def conventions_markdown(results: Results) -> str:
    """A footnote stating every convention behind the numbers, and where they came from.

    Only what this run used is stated: the method's conventions, and non-inferiority,
    bootstrap, rank-test and capping conventions where some metric used them.
    """
    items = [
        *_test_conventions(results),
        *_relative_effect_conventions(results),
        *_method_conventions(results),
        *_cumulative_conventions(results),
        *_non_inferiority_conventions(results),
        *_bootstrap_conventions(results),
        *_rank_test_conventions(results),
        *_cap_conventions(results),
        *_planned_size_conventions(results),
        *_decision_conventions(results),
        *_design_conventions(results),
        *_listing_conventions(results),
    ]
    return section_heading("conventions") + "\n" + "\n".join(f"- {i}" for i in items) + "\n"


def _test_conventions(results: Results) -> list[str]:
    """The fixed-horizon test of each metric type the plan has (Welch for means and
    proportions, the delta method for ratios), and CUPED where a metric has a covariate."""
    level = _level(results.plan.analysis.alpha)
    types = {m.metric.type for m in results.metrics}
    comps = [c for m in results.metrics for c in m.comparisons]
    items = []
    if types & {"mean", "proportion"}:
        items.append(
            "**Mean and proportion metrics**: Welch's unequal-variance t-test on unit-level "
            "values (sample variances with n − 1, Welch–Satterthwaite degrees of freedom); "
            f"the absolute {level} interval comes from the same test."
        )
    if "ratio" in types:
        items.append(
            "**Ratio metrics** (Σ numerator / Σ denominator per variant): the delta method with "
            "the numerator–denominator covariance, and a normal (z) test and interval "
            "(Deng et al., 2018)."
            + (
                " On an export, whose rows or ads are the clusters, a t test and interval "
                "instead, with Welch–Satterthwaite degrees of freedom over the clusters "
                "(the normal one is too narrow with few clusters)."
                if any(c.effect.method == "delta-t" for c in comps)
                else ""
            )
        )
    if any(m.metric.covariate is not None for m in results.metrics):
        items.append(
            "**CUPED** (Deng, Xu, Kohavi & Walker, 2013): θ = Cov(Y, X) / Var(X) pooled within "
            "the two arms compared; adjusted mean Ȳ − θ(X̄ − X̄ pooled). Means in the tables "
            "are raw; effects, intervals and p-values are adjusted."
        )
    return items


def _relative_effect_conventions(results: Results) -> list[str]:
    """How the relative effect and its interval are taken (Fieller or the log-ratio delta
    method, as the plan says)."""
    a = results.plan.analysis
    if a.relative_interval == "fieller":
        rel = "Fieller's interval for the ratio of two independent means"
    else:
        rel = (
            "the delta method on the log ratio, exp(log(mean_t / mean_c) ± z·se) − 1, "
            "asymmetric and never below −100%"
        )
    return [
        f"**Relative effect** mean_treatment / mean_control − 1; its {_level(a.alpha)} interval "
        f"by {rel}. Its p-value is the absolute test's."
    ]


def _method_conventions(results: Results) -> list[str]:
    """The analysis method's own conventions: the Bayesian models, the sequential design, or
    the fixed-horizon multiple-testing correction."""
    a = results.plan.analysis
    if a.method == "bayesian":
        return _bayes_items(results)
    if a.method == "sequential":
        return _sequential_items(results)
    correction = CORRECTION_NAMES.get(a.correction, md_text(a.correction))
    n_family = len(results.plan.primary_metrics) * len(results.plan.treatments)
    return [
        f"**Multiple testing**: {correction} over {n_family} primary "
        f"comparison{'s' if n_family != 1 else ''} (primary metrics × treatment variants); "
        f"significant when the adjusted p < α = {a.alpha:g}. "
        "Guardrail and secondary metrics are tested at α without correction."
    ]


def _win_rule(results: Results) -> str:
    """When a primary comparison wins under the plan's method, as the decision states it."""
    a = results.plan.analysis
    if a.method == "bayesian":
        return f"is decisively better (chance to beat control ≥ {a.bayesian.ship_threshold:.0%})"
    if a.method == "sequential":
        return (
            "crosses its group-sequential boundary"
            if a.sequential.kind == "group-sequential"
            else f"has an adjusted always-valid p ≤ α = {a.alpha:g}"
        )
    return f"has an adjusted p < α = {a.alpha:g}"


def _cumulative_conventions(results: Results) -> list[str]:
    """What the cumulative-by-day chart shows, and why its pointwise intervals do not allow
    stopping early."""
    comps = [c for m in results.metrics for c in m.comparisons]
    cum = next((c.cumulative for c in comps if c.cumulative is not None), None)
    if cum is None:
        return []
    return [
        "**Cumulative difference by day**: each metric's fixed-horizon test on all units "
        f"exposed up to each of the {len(cum.looks)} days, with its pointwise "
        f"{_level(results.plan.analysis.alpha)} interval; the last day is the final analysis. "
        "Pointwise intervals are not valid for stopping early: stopping the first day one "
        "excludes 0 inflates false positives well beyond α. To monitor daily, plan a "
        "sequential analysis."
    ]


def _non_inferiority_conventions(results: Results) -> list[str]:
    """The one-sided test of guardrails with a margin, and when a guardrail fails or blocks."""
    if not any(c.non_inferiority is not None for m in results.metrics for c in m.comparisons):
        return []
    a = results.plan.analysis
    return [
        "**Non-inferiority** (guardrails with a margin): a one-sided test at "
        f"α = {a.alpha:g} of “the treatment is worse than the margin” (Schuirmann's "
        "one-sided test, with the two-sided test's reference distribution); a relative "
        "margin is turned into metric units with the control mean, taken as known. ✓ when "
        f"the one-sided {_level(a.alpha)} bound lies on the good side of the margin. A "
        "guardrail fails when it is significantly worse (two-sided, fixed-horizon, α) or its "
        "interval lies wholly beyond the margin; one not yet shown non-inferior blocks shipping."
    ]


def _bootstrap_conventions(results: Results) -> list[str]:
    """One line per bootstrapped metric: statistic, resamples, scheme, seed and interval."""
    level = _level(results.plan.analysis.alpha)
    items = []
    boots = [(m, c.bootstrap) for m in results.metrics for c in m.comparisons[:1] if c.bootstrap]
    for m, bs in boots:
        assert bs is not None
        method = (
            "bias-corrected and accelerated (BCa; Efron, 1987) interval"
            if bs.method == "bca"
            else "percentile interval"
        )
        scheme = (
            "Poisson(1) frequencies per unit (Hanley & MacGibbon, 2006)"
            if bs.scheme == "poisson"
            else "multinomial resampling (Efron)"
        )
        items.append(
            f"**Bootstrap** ({md_text(m.metric.name)}): the {bs.effect_type} difference in "
            f"{_plural(bs.statistic)} of the unit values, {bs.n_resamples:,} resamples per arm "
            f"by {scheme}, seed "
            f"{bs.seed}; {level} {method}; the p-value is the smallest α at which the interval "
            "excludes 0. The histogram shows the resampled effects in equal-width bins."
        )
    return items


def _rank_test_conventions(results: Results) -> list[str]:
    """The Mann–Whitney test and the probability of superiority, for the metrics that ran it."""
    ranked = [m for m in results.metrics if any(c.rank is not None for c in m.comparisons)]
    if not ranked:
        return []
    return [
        f"**Rank test** ({_names(ranked)}): two-sided Mann–Whitney U, normal approximation "
        "with tie and continuity corrections (as scipy.stats.mannwhitneyu); P(T > C) is the "
        "probability of superiority U / (n_c·n_t) (McGraw & Wong, 1992). It asks whether "
        "a treatment unit tends to have larger values, not whether the mean moved."
    ]


def _cap_conventions(results: Results) -> list[str]:
    """Which metrics are capped (winsorised) and which have a cap-sensitivity table."""
    capped = [m for m in results.metrics if m.caps]
    sens = [m for m in results.metrics if m.sensitivity]
    if not (capped or sens):
        return []
    text = "**Caps**: "
    if capped:
        text += (
            f"values of {_names(capped)} are capped (winsorised) at the plan's cap, a "
            "quantile of all units pooled over variants, before any statistic is taken. "
        )
    if sens:
        text += (
            f"The cap-sensitivity tables ({_names(sens)}) repeat the fixed-horizon "
            "comparison with no cap and with caps at the pooled 99th and 99.9th percentiles."
        )
    return [text.strip()]


def _planned_size_conventions(results: Results) -> list[str]:
    """Where the planned sample size came from, when the plan has one."""
    if not results.planned_n_per_variant:
        return []
    a = results.plan.analysis
    return [
        f"**Planned sample size**: {results.planned_n_per_variant:,} units per variant from "
        f"the plan's design (power {a.power:.0%}, MDE {a.mde:g} {a.mde_type}, "
        f"α = {a.alpha:g}, {a.sample_size} normal approximation), with the plan's baselines "
        "or, where a metric has none, the control arm's observed mean and variance."
    ]


def _decision_conventions(results: Results) -> list[str]:
    """The verdict's rules in the order they apply, with this method's rule for a win."""
    plan = results.plan
    reached = (
        ""
        if plan.analysis.method == "sequential"
        else ", or when the planned sample size is reached without a win"
    )
    return [
        "**Decision**, in order: *investigate* on a sample-ratio mismatch; *ship* a variant "
        f"that wins on a primary metric (it {_win_rule(results)}, in the good direction), "
        "loses on none, harms no guardrail and leaves none unproven; *do not ship* when every "
        f"treatment loses on a primary metric or harms a guardrail{reached}; otherwise "
        "*keep running*."
        + (
            " Not randomised, a variant the rules would ship *leads* (LEADS): it is associated "
            "with the better result, which is not shown to follow from shipping it."
            if plan.randomization == "none"
            else ""
        )
    ]


def _design_conventions(results: Results) -> list[str]:
    """The sample-ratio check as the plan's randomization has it, and, for an ad-platform
    export, how its rows become clusters and what the variance assumes."""
    plan = results.plan
    items = []
    if plan.randomization == "none":
        items.append(
            "**Design**: not randomised (`randomization: none`): the platform's delivery chose "
            "who saw each arm, so there is no sample-ratio check and every comparison, and "
            "the verdict, is observational (an association, not an effect)."
        )
    else:
        counted = "impressions" if plan.randomization == "impression" else "unit counts"
        items.append(
            f"**Sample-ratio check**: Pearson χ² goodness of fit of the {counted} against "
            f"the planned weights; a mismatch when p < {results.srm.alpha:g}."
        )
    q = (results.data_quality or {}).get("export")
    if plan.data.on_aggregates and q:
        grain = (
            "each row of the export (an ad × day)"
            if q.get("cluster") == "row"
            else f"each {md_text(str(q.get('cluster')))} (its rows added up)"
        )
        items.append(
            f"**Ad-platform export**: the clusters are {grain}; each metric is a ratio of "
            "column sums over an arm's clusters, with the delta-method variance over clusters, "
            "which carries the over-dispersion between ads and days (every impression as an "
            "independent trial would give intervals far too narrow)."
        )
    return items


def _listing_conventions(results: Results) -> list[str]:
    """Which arms the report lists, when it does not list them all (:func:`listed_arms`)."""
    listing = listed_arms(results)
    if listing.complete:
        return []
    n = len(listing.treatments) + len(listing.rest)
    nouns = md_text(listing.nouns)
    return [
        f"**Arms listed**: of {fmt.count(n)} {nouns} against {md_text(listing.control)}, each "
        f"table and chart lists the same {fmt.count(len(listing.treatments))}, best first by "
        "the first primary metric's headline: those the verdict names (its pick and the "
        "runner-up), those significantly better on a primary metric, up to a third of the "
        f"{fmt.count(listing.limit)} places for the clearest losers (worse on a primary metric "
        "or failing a guardrail), then the leaders on the primary headline "
        f"({'creative.show' if results.plan.creative is not None else 'at most 15'}). The "
        f"other {fmt.count(len(listing.rest))} are counted by status in one row; "
        "`liftlab analyze` and results.json give every one."
    ]


def glossary_keys(results: Results) -> list[str]:
    """The glossary terms this report links to (:mod:`liftlab.glossary`)."""
    a = results.plan.analysis
    keys = ["status", "lift", "srm", "mde", "fixed-horizon", "percentage-points"]
    keys += {
        "frequentist": ["confidence-interval", "p-value", "adjusted-p"],
        "sequential": [
            "always-valid-interval",
            "always-valid-p",
            "repeated-confidence-interval",
            "p-value",
        ],
        "bayesian": ["credible-interval", "chance-to-beat-control", "expected-loss"],
    }[a.method]
    ms = [m.metric for m in results.metrics]
    comps = [c for m in results.metrics for c in m.comparisons]
    flags = {
        "guardrail": any(m.role == "guardrail" for m in ms),
        "non-inferiority": any(m.margin is not None for m in ms),
        "cuped": any(m.covariate is not None for m in ms),
        "cap": any(m.caps or m.sensitivity for m in results.metrics),
        "bootstrap": any(c.bootstrap is not None for c in comps),
        "rank-test": any(c.rank is not None for c in comps),
        "probability-best": any(m.best is not None and _is_bayes(m) for m in results.metrics),
        "expected-loss": a.method == "bayesian",
        "shrinkage": results.plan.kind == "creative",
        "adjusted-p": a.method != "bayesian",
    }
    return keys + [k for k, used in flags.items() if used]


def glossary_markdown(results: Results) -> str:
    """The report's glossary: each term it links to, in plain words."""
    body = glossary.glossary_markdown(glossary_keys(results))
    return body.replace("## Glossary\n", section_heading("glossary"), 1)
