"""Reading matter for a :class:`~liftlab.analysis.Results`: Markdown, HTML and tables.

The analysis notebook (``notebooks/analyze.ipynb``) is a sequence of calls into this module,
in the order a reader wants them: the title and hypothesis (:func:`title_markdown`), the
verdict (:func:`verdict_html`), the sample-ratio health check (:func:`srm_markdown`), one
section per metric, primary first, then guardrails, then secondary (:func:`ordered_metrics`,
:func:`metric_markdown`, :func:`metric_table`), and the conventions behind every number
(:func:`conventions_markdown`).

Plan text (hypothesis, owner, variant and metric names, descriptions, file names) is written
by people and is escaped before it goes into Markdown or HTML (:func:`md_text`).
"""

from __future__ import annotations

import html
import math
import re
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

    from liftlab.analysis import Comparison, MetricResult, Results

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
    # recommendation: (label, border colour, background colour)
    "ship": ("SHIP", "#1a7f37", "#e9f6ec"),
    "do_not_ship": ("DO NOT SHIP", "#b42318", "#fdecea"),
    "inconclusive": ("INCONCLUSIVE", "#6b6f76", "#f2f3f5"),
    "investigate": ("INVESTIGATE", "#b54708", "#fff4e5"),
}
ROLE_NOTES = {
    "primary": "decision metric",
    "guardrail": "guardrail: must not get significantly worse",
    "secondary": "secondary: reported for context",
}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")
DASH = "—"


# ---- text helpers ------------------------------------------------------------------------------
def md_text(text: object) -> str:
    """Plan text made safe for Markdown: HTML-escaped, Markdown punctuation backslashed.

    Whitespace (including newlines from YAML block scalars) collapses to single spaces, so
    the text cannot start a heading, a list or a table row of its own.
    """
    flat = " ".join(str(text).split())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(flat))


def _pct(x: float, digits: int = 1, sign: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return DASH
    return f"{x:+.{digits}%}" if sign else f"{x:.{digits}%}"


def _num(x: float, sign: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return DASH
    return f"{x:+,.4g}" if sign else f"{x:,.4g}"


def _pp(x: float) -> str:
    """A difference of two proportions, in percentage points."""
    if x is None or not math.isfinite(x):
        return DASH
    return f"{100 * x:+.2f}"


def p_text(p: float) -> str:
    """A p-value for reading: three decimals, or two significant digits below 0.001."""
    if p is None or not math.isfinite(p):
        return DASH
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def _level(alpha: float) -> str:
    return f"{1 - alpha:.0%}"


# ---- ordering ----------------------------------------------------------------------------------
def ordered_metrics(results: Results) -> list[MetricResult]:
    """Metrics in reading order: primary, then guardrail, then secondary (plan order within)."""
    return sorted(results.metrics, key=lambda m: ROLE_ORDER.index(m.metric.role))


# ---- title -------------------------------------------------------------------------------------
def title_markdown(results: Results) -> str:
    """The report's title (the plan's name), hypothesis, variants and where the data came from."""
    plan = results.plan
    facts = [f"{plan.kind.replace('_', ' ')} test"]
    if plan.owner:
        facts.append(f"owner: {md_text(plan.owner)}")
    facts.append(f"{results.total_units:,} units ({md_text(plan.unit)})")
    facts.append(f"data: {md_text(results.data_label)}")
    facts.append(f"analysed: {md_text(results.generated_at)}")
    lines = [
        f"# {md_text(plan.name)}",
        "",
        "*" + " · ".join(facts) + "*",
        "",
        f"> **Hypothesis.** {md_text(plan.hypothesis)}",
        "",
    ]
    with_price = any(v.price is not None for v in plan.variants.values())
    header = ["variant", "planned share", *(["price"] if with_price else []), "description"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    weights = plan.weights
    for name, v in plan.variants.items():
        label = md_text(name) + (" (control)" if name == plan.control_name else "")
        cells = [label, _pct(weights[name])]
        if with_price:
            cells.append(_num(v.price) if v.price is not None else DASH)
        cells.append(md_text(v.description) if v.description else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ---- verdict -----------------------------------------------------------------------------------
def verdict_html(results: Results) -> str:
    """The recommendation and its reason, as a prominent coloured box (HTML, text escaped)."""
    d = results.decision
    label, border, background = RECOMMENDATIONS.get(
        d.recommendation, (d.recommendation.upper(), "#444", "#f4f4f4")
    )
    headline = label + (f": {d.variant}" if d.variant and d.recommendation == "ship" else "")
    return (
        f'<div class="liftlab-verdict liftlab-{html.escape(d.recommendation)}" '
        f'style="border-left: 8px solid {border}; background: {background}; color: #1b1b1b; '
        'padding: 14px 20px; margin: 8px 0 16px 0; border-radius: 4px;">'
        '<div style="font-size: 0.85em; letter-spacing: 0.08em; text-transform: uppercase; '
        'color: #555;">Verdict</div>'
        f'<div style="font-size: 1.9em; font-weight: 700; color: {border}; margin: 2px 0 6px 0;">'
        f"{html.escape(headline)}</div>"
        f'<div style="font-size: 1.1em; line-height: 1.45;">{html.escape(d.reason)}</div>'
        "</div>"
    )


def verdict_markdown(results: Results) -> str:
    """The verdict as plain Markdown (for places that do not render HTML)."""
    d = results.decision
    label = RECOMMENDATIONS.get(d.recommendation, (d.recommendation.upper(),))[0]
    variant = f": {md_text(d.variant)}" if d.variant and d.recommendation == "ship" else ""
    return f"## Verdict: {label}{variant}\n\n> **{md_text(d.reason)}**\n"


# ---- sample-ratio check ------------------------------------------------------------------------
def srm_markdown(results: Results) -> str:
    """The sample-ratio health check: counts, observed and planned shares, and a warning."""
    srm = results.srm
    test = f"Pearson χ² = {srm.statistic:.3g}, df = {srm.df}, p = {p_text(srm.p_value)}"
    lines = ["## Health check: sample ratio", ""]
    if srm.mismatch:
        lines += [
            f"> ⚠ **Sample-ratio mismatch** ({test} < α = {srm.alpha:g}). The traffic split "
            "differs from the plan: assignment or logging is broken, and none of the effects "
            "below can be trusted until the cause is found and fixed.",
        ]
    else:
        lines += [
            f"✓ The traffic split matches the plan ({test}; a mismatch is flagged when "
            f"p < {srm.alpha:g}).",
        ]
    lines += ["", "| variant | units | observed share | planned share |", "|---|---:|---:|---:|"]
    shares = srm.observed_shares
    for name, weight in srm.expected_weights.items():
        lines.append(
            f"| {md_text(name)} | {srm.counts.get(name, 0):,} | "
            f"{_pct(shares.get(name, math.nan), 2)} | {_pct(weight, 2)} |"
        )
    return "\n".join(lines) + "\n"


# ---- metrics -----------------------------------------------------------------------------------
def outcome(metric_result: MetricResult, comparison: Comparison) -> str:
    """``better``, ``worse`` (significant, by the metric's good direction) or ``no``."""
    if not comparison.significant:
        return "no"
    good = 1 if metric_result.metric.direction == "increase" else -1
    return "yes, better" if comparison.effect.abs_effect * good > 0 else "yes, worse"


def metric_markdown(metric_result: MetricResult, results: Results) -> str:
    """A metric section's heading: name, role, what is measured and how it is tested."""
    m = metric_result.metric
    a = results.plan.analysis
    if m.type == "ratio":
        what = f"Σ {md_text(m.numerator)} / Σ {md_text(m.denominator)} per variant"
        method = "delta method (z-test)"
    elif m.type == "proportion":
        what = f"share of units with {md_text(m.column)}"
        method = "Welch t-test"
    else:
        what = f"mean of {md_text(m.column)} per unit"
        method = "Welch t-test"
    details = [what, "higher is better" if m.direction == "increase" else "lower is better"]
    if m.covariate is not None:
        method = f"CUPED on {md_text(m.covariate)}, Welch t-test"
    details.append(method)
    if m.role == "primary":
        n_family = len(results.plan.primary_metrics) * len(results.plan.treatments)
        correction = CORRECTION_NAMES.get(a.correction, md_text(a.correction))
        family = f"{n_family} primary comparison{'s' if n_family != 1 else ''}"
        details.append(f"p adjusted ({correction} over {family})")
    else:
        details.append("p not adjusted")
    if metric_result.caps:
        caps = ", ".join(f"{md_text(col)} at {_num(v)}" for col, v in metric_result.caps.items())
        details.append(f"capped: {caps}")
    lines = [f"### {md_text(m.name)} · {ROLE_NOTES.get(m.role, m.role)}", ""]
    if m.description:
        lines += [md_text(m.description), ""]
    lines.append("*" + " · ".join(details) + "*")
    if m.covariate is not None:
        lines += [
            "",
            "*Means are raw; effects and intervals are CUPED-adjusted (variance reduced with "
            "the pre-period covariate).*",
        ]
    return "\n".join(lines) + "\n"


def metric_frame(metric_result: MetricResult) -> pd.DataFrame:
    """The metric's table as display strings: one row per variant, control first.

    Columns: variant, units, mean, absolute effect with its interval (percentage points for
    proportions), relative effect with its interval, raw and adjusted p-value, significant.
    """
    m = metric_result.metric
    comps = {c.variant: c for c in metric_result.comparisons}
    control = metric_result.comparisons[0].control if metric_result.comparisons else None
    alpha = metric_result.comparisons[0].effect.alpha if metric_result.comparisons else 0.05
    level = _level(alpha)
    is_prop = m.type == "proportion"
    abs_label = f"Δ absolute, pp ({level} CI)" if is_prop else f"Δ absolute ({level} CI)"
    rel_label = f"Δ relative ({level} CI)"
    rows: list[dict[str, Any]] = []
    order = [control] + [v for v in metric_result.variants if v != control]
    for name in order:
        if name is None or name not in metric_result.variants:
            continue
        s = metric_result.variants[name]
        row: dict[str, Any] = {
            "variant": name + (" (control)" if name == control else ""),
            "units": f"{s.n:,}",
            "mean": _pct(s.mean, 2) if is_prop else _num(s.mean),
        }
        c = comps.get(name)
        if c is None:
            row.update(
                {abs_label: DASH, rel_label: DASH, "p": DASH, "p adjusted": DASH, "significant": ""}
            )
        else:
            e = c.effect
            fmt = _pp if is_prop else (lambda x: _num(x, sign=True))
            lo, hi = e.abs_ci
            row[abs_label] = f"{fmt(e.abs_effect)} [{fmt(lo)}, {fmt(hi)}]"
            rel_ci = (
                f" [{_pct(e.rel_ci[0], sign=True)}, {_pct(e.rel_ci[1], sign=True)}]"
                if e.rel_ci is not None
                else " [undefined]"
            )
            row[rel_label] = _pct(e.rel_effect, sign=True) + rel_ci
            row["p"] = p_text(e.p_value)
            row["p adjusted"] = p_text(c.p_value_adjusted) if m.role == "primary" else DASH
            row["significant"] = outcome(metric_result, c)
        rows.append(row)
    return pd.DataFrame(rows)


def metric_table(metric_result: MetricResult) -> Styler:
    """:func:`metric_frame` styled for a notebook or report (values HTML-escaped).

    Significant cells are green when the change is in the metric's good direction and red
    when it is not.
    """
    frame = metric_frame(metric_result)

    def colour(value: object) -> str:
        if value == "yes, better":
            return "color: #1a7f37; font-weight: 600"
        if value == "yes, worse":
            return "color: #b42318; font-weight: 600"
        return ""

    styler = frame.style.format(escape="html").hide(axis="index")
    styler = styler.set_uuid(f"liftlab-{metric_result.metric.name}")
    styler = styler.map(colour, subset=["significant"])
    styler = styler.set_properties(**{"text-align": "right", "padding": "4px 10px"})
    styler = styler.set_properties(subset=["variant"], **{"text-align": "left"})
    return styler.set_table_styles(
        [
            {"selector": "th", "props": "text-align: right; padding: 4px 10px;"},
            {"selector": "th.col0", "props": "text-align: left;"},
            {"selector": "", "props": "border-collapse: collapse; margin: 6px 0 10px 0;"},
        ]
    )


def _plan_label(results: Results) -> str:
    """The plan's path relative to the project root where possible."""
    plan = results.plan
    if plan.path is None:
        return plan.source
    try:
        return plan.path.resolve().relative_to(plan.root.resolve()).as_posix()
    except ValueError:
        return plan.source


# ---- conventions -------------------------------------------------------------------------------
def conventions_markdown(results: Results) -> str:
    """A footnote stating every convention behind the numbers, and where they came from."""
    from liftlab import __version__

    plan = results.plan
    a = plan.analysis
    level = _level(a.alpha)
    types = {m.metric.type for m in results.metrics}
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
        )
    if any(m.metric.covariate is not None for m in results.metrics):
        items.append(
            "**CUPED** (Deng, Xu, Kohavi & Walker, 2013): θ = Cov(Y, X) / Var(X) pooled within "
            "the two arms compared; adjusted mean Ȳ − θ(X̄ − X̄ pooled). Means in the tables "
            "are raw; effects, intervals and p-values are adjusted."
        )
    if a.relative_interval == "fieller":
        rel = "Fieller's interval for the ratio of two independent means"
    else:
        rel = (
            "the delta method on the log ratio, exp(log(mean_t / mean_c) ± z·se) − 1, "
            "asymmetric and never below −100%"
        )
    items.append(
        f"**Relative effect** mean_treatment / mean_control − 1; its {level} interval by {rel}. "
        "Its p-value is the absolute test's."
    )
    correction = CORRECTION_NAMES.get(a.correction, md_text(a.correction))
    n_family = len(plan.primary_metrics) * len(plan.treatments)
    items.append(
        f"**Multiple testing**: {correction} over {n_family} primary "
        f"comparison{'s' if n_family != 1 else ''} (primary metrics × treatment variants); "
        f"significant when the adjusted p < α = {a.alpha:g}. "
        "Guardrail and secondary metrics are tested at α without correction."
    )
    items.append(
        "**Decision**: ship a variant that wins on a primary metric, loses on none and harms "
        "no guardrail; do not ship one that loses on a primary metric or harms a guardrail; "
        "otherwise inconclusive. A sample-ratio mismatch overrides all of this (investigate)."
    )
    items.append(
        "**Sample-ratio check**: Pearson χ² goodness of fit of the unit counts against the "
        f"planned weights; a mismatch when p < {results.srm.alpha:g}."
    )
    sha = (results.data_sha256 or "")[:12] or DASH
    plan_sha = (plan.sha256 or "")[:12] or DASH
    items.append(
        f"**Provenance**: liftlab {md_text(__version__)}; plan {md_text(_plan_label(results))} "
        f"(sha256 {plan_sha}); data {md_text(results.data_label)} (sha256 {sha}); generated "
        f"{md_text(results.generated_at)}."
    )
    return "---\n\n#### Conventions\n\n" + "\n".join(f"- {i}" for i in items) + "\n"
