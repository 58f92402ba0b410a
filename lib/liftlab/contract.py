"""The results contract: every key of ``results.json``, its type, meaning and unit, as types.

Each object of the file is a :class:`~typing.TypedDict` below, each key annotated with its
meaning (``Annotated[type, key("...")]``); the JSON Schema shipped beside this module
(``results.schema.json``) and the key tables of ``docs/results.md`` are generated from them,
so the three cannot disagree::

    python -m liftlab.contract      # rewrites results.schema.json and docs/results.md's tables

Conventions of the types: ``Num`` is a JSON number or ``null`` (a statistic that is undefined
for the data, never NaN); ``Interval`` is ``[low, high]``, either end ``null`` where
undefined. Proportions, rates and relative effects are fractions (``0.05`` is 5%); absolute
effects are in the metric's own units; money is in the file's ``currency``.

Keys marked ``original=True`` are the contract keys of the first results.json (the design
document's example); the others extend it. The version is ``results.SCHEMA_VERSION``:
an added key bumps the minor version, a renamed or removed key the major version, and both
are listed in the changelog of ``docs/results.md``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired

from pydantic import Field, TypeAdapter
from typing_extensions import TypedDict

from liftlab.decision import RECOMMENDATIONS
from liftlab.format import Format
from liftlab.headline import INTERVAL_TEXT, PROBABILITY_TEXT, STATUSES
from liftlab.plan import (
    Correction,
    Kind,
    Method,
    MetricType,
    Randomization,
    RelativeInterval,
    Role,
)
from liftlab.results import SCHEMA_VERSION
from liftlab.stats.sequential import Decision as SequentialStatus

SCHEMA_PATH = Path(__file__).with_name("results.schema.json")
DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "results.md"

Num = float | None
Interval = tuple[float | None, float | None]


def key(text: str, *, original: bool = False, enum: Iterable[str] | None = None) -> Any:
    """A key's meaning (and unit); ``original``: a key of the first contract; ``enum``: the
    values a string takes, read from the code that writes them."""
    extra: dict[str, Any] = {}
    if original:
        extra["x-original"] = True
    if enum is not None:
        extra["enum"] = list(enum)
    return Field(description=text, json_schema_extra=extra or None)


class Unavailable(TypedDict):
    """A part that could not be computed from the data; the rest of the file stands."""

    status: Annotated[Literal["unavailable"], key("Always `unavailable`.")]
    reason: Annotated[str, key("Why, in one line.")]


# ---- provenance and settings -------------------------------------------------------------------
class BayesianSettings(TypedDict):
    """The plan's `analysis.bayesian` options (method `bayesian` only)."""

    beta_prior: Annotated[
        tuple[float, float], key("Beta(a, b) prior on each arm's rate (proportions).")
    ]
    effect: Annotated[Literal["relative", "absolute"], key("Scale of the Gaussian model's effect.")]
    prior_mean: Annotated[float, key("Prior mean of the effect, on `effect`'s scale.")]
    prior_sd: Annotated[Num, key("Prior SD of the effect; null: a flat prior.")]
    ship_threshold: Annotated[
        float, key("Chance to beat control a primary metric needs for `ship`.")
    ]
    draws: Annotated[int, key("Monte Carlo draws.")]
    seed: Annotated[int, key("Monte Carlo seed.")]


class SequentialSettings(TypedDict):
    """The plan's `analysis.sequential` options (method `sequential` only)."""

    kind: Annotated[
        Literal["msprt", "asymptotic-cs", "group-sequential"], key("The sequential test.")
    ]
    tau: Annotated[Num, key("mSPRT mixing SD in metric units; null: from the plan's MDE.")]
    spending: Annotated[
        Literal["obrien-fleming", "pocock"], key("Alpha spending of a group-sequential plan.")
    ]
    looks: Annotated[int, key("Planned looks of a group-sequential plan.")]
    planned_n: Annotated[int | None, key("Planned units per arm; null: from the design.")]


class AnalysisSettings(TypedDict):
    """The settings the analysis ran with."""

    method: Annotated[Method, key("The method the verdict decides by.")]
    alpha: Annotated[float, key("Significance level (1 − interval coverage).")]
    correction: Annotated[Correction, key("Multiple-testing correction over primary metrics.")]
    relative_interval: Annotated[RelativeInterval, key("Interval of relative effects.")]
    control: Annotated[str, key("Name of the control arm.")]
    bayesian: Annotated[BayesianSettings | None, key("Bayesian options; null otherwise.")]
    sequential: Annotated[SequentialSettings | None, key("Sequential options; null otherwise.")]


class Progress(TypedDict):
    """Where the test stands against its planned sample size."""

    smallest: Annotated[int, key("Units in the smallest arm so far.")]
    planned_n: Annotated[int | None, key("Planned units per arm; null without a plan size.")]
    basis: Annotated[str | None, key("What `planned_n` comes from, in words.")]
    always_valid: Annotated[bool, key("The plan is always-valid sequential (no maximum).")]
    reference_n: Annotated[
        int | None, key("Always-valid plans: the fixed-horizon size, for reference (units).")
    ]
    detectable_effect: Annotated[
        Num, key("Smallest relative effect the units so far detect with the plan's power.")
    ]
    daily_observed: Annotated[Num, key("Units per day in the smallest arm.")]
    daily_planned: Annotated[Num, key("Planned units per day in the smallest arm.")]
    always_valid_n: Annotated[
        int | None, key("Always-valid plans: units per arm to reject at the MDE with power.")
    ]
    to_go: Annotated[int | None, key("Units per arm still to collect.")]
    days_to_go_observed: Annotated[int | None, key("Days to go at the observed daily rate.")]
    days_to_go_planned: Annotated[int | None, key("Days to go at the planned daily rate.")]


class Srm(TypedDict):
    """Sample-ratio mismatch: Pearson χ² of the arms' units against the planned weights."""

    p_value: Annotated[Num, key("χ² p-value.", original=True)]
    statistic: Annotated[Num, key("χ² statistic.")]
    df: Annotated[int, key("Degrees of freedom (arms − 1).")]
    counts: Annotated[dict[str, int], key("Units per arm.", original=True)]
    expected_weights: Annotated[
        dict[str, float], key("Planned share per arm (sums to 1).", original=True)
    ]
    mismatch: Annotated[bool, key("p < `alpha` (and the check applies).", original=True)]
    alpha: Annotated[float, key("Threshold of the check (the plan's `srm_alpha`).")]
    randomization: Annotated[Randomization, key("How arms were assigned (plan).")]
    applies: Annotated[bool, key("False when nothing was randomised (`none`).")]


class ExposureQuality(TypedDict):
    """Counts over the exposure table (event-table plans)."""

    rows: Annotated[int, key("Exposure rows.")]
    units: Annotated[int, key("Distinct units exposed.")]
    null_unit_rows: Annotated[int, key("Rows without a unit id (dropped).")]
    duplicate_rows: Annotated[int, key("Repeated exposures of a unit to its arm.")]
    multi_variant_units: Annotated[int, key("Units exposed to two arms (excluded).")]
    unknown_variant_rows: Annotated[int, key("Rows naming an arm not in the plan.")]
    unknown_variant_units: Annotated[int, key("Units only in unknown arms (excluded).")]


class EventQuality(TypedDict):
    """Counts over the event table (event-table plans)."""

    rows: Annotated[int, key("Event rows.")]
    null_unit_rows: Annotated[int, key("Rows without a unit id.")]
    unexposed_unit_rows: Annotated[int, key("Rows of units never exposed (not counted).")]
    negative_value_rows: Annotated[int, key("Rows of summed events with a negative value.")]
    negative_checked_events: Annotated[list[str], key("Events checked for negative values.")]


class ExportQuality(TypedDict):
    """Counts over an ad-platform export (aggregates plans)."""

    rows: Annotated[int, key("Rows in the file.")]
    total_rows_skipped: Annotated[int, key("Total rows the platform adds (skipped).")]
    rows_analysed: Annotated[int, key("Rows analysed.")]
    clusters: Annotated[int, key("Clusters analysed (see `cluster`).")]
    zero_click_conversion_rows: Annotated[int, key("Rows with conversions but no clicks.")]
    zero_click_conversions: Annotated[float, key("Conversions on those rows.")]
    negative_spend_rows: Annotated[int, key("Rows with negative spend.")]
    missing_spend_rows: Annotated[int, key("Rows with an empty spend cell.")]
    empty_cells: Annotated[dict[str, int], key("Empty cells per role (read as 0).")]
    columns: Annotated[dict[str, str], key("The file's column read for each role.")]
    cluster: Annotated[str, key("What a cluster is: a column, or `row`.")]


class SegmentSrm(TypedDict):
    """The SRM check within one segment value."""

    counts: Annotated[dict[str, int], key("Units per arm in the segment.")]
    p_value: Annotated[Num, key("χ² p-value.")]
    mismatch: Annotated[bool, key("p below the SRM threshold.")]


class DataQuality(TypedDict):
    """Data-quality findings; never silently dropped."""

    exposures: NotRequired[Annotated[ExposureQuality, key("Exposure-table counts.")]]
    events: NotRequired[Annotated[EventQuality, key("Event-table counts.")]]
    excluded_units: NotRequired[Annotated[int, key("Units excluded (two or unknown arms).")]]
    export: NotRequired[Annotated[ExportQuality, key("Export counts (aggregates plans).")]]
    notes: NotRequired[Annotated[list[str], key("Findings in words.")]]
    srm_by_segment: Annotated[
        dict[str, dict[str, SegmentSrm]], key("Segment column → value → SRM check.")
    ]
    srm_mismatch_segments: Annotated[list[str], key("Segments with a mismatch, as `column=value`.")]


class Traffic(TypedDict):
    """Units entering the test per day (empty without timestamps)."""

    days: Annotated[list[str], key("Days with traffic, ISO dates.")]
    units: Annotated[dict[str, list[int]], key("Arm → new units on each of `days`.")]


class Decision(TypedDict):
    """The verdict, read from the comparisons' headlines."""

    recommendation: Annotated[str, key("What to do.", original=True, enum=RECOMMENDATIONS)]
    variant: Annotated[str | None, key("The arm the verdict names (the one to ship).")]
    reason: Annotated[str, key("Why, in one sentence.", original=True)]
    runner_up: Annotated[str | None, key("The next-best arm, if any.")]
    caveats: Annotated[list[str], key("Conditions on the verdict, in words.")]


class Scope(TypedDict):
    """The slice analysed (present only for a slice of the data)."""

    as_of: NotRequired[Annotated[str, key("Data up to the end of this day (ISO date).")]]
    segment: NotRequired[Annotated[dict[str, list[Any]], key("Column → the values kept.")]]


# ---- metrics and comparisons -------------------------------------------------------------------
class VariantSummary(TypedDict):
    """One arm's summary of a metric (after caps; ratio metrics: per-unit linearised)."""

    n: Annotated[int, key("Units (clusters for exports).", original=True)]
    mean: Annotated[Num, key("Mean per unit, metric units.", original=True)]
    variance: Annotated[Num, key("Sample variance (n − 1), squared metric units.", original=True)]
    se: Annotated[Num, key("Standard error of the mean, metric units.")]


class Headline(TypedDict):
    """The one effect, interval and probability the plan's method decides by."""

    effect: Annotated[Num, key("The effect on `effect_type`'s scale.")]
    effect_type: Annotated[
        Literal["relative", "absolute"],
        key("`relative`: mean_t/mean_c − 1 (fraction); `absolute`: metric units."),
    ]
    interval: Annotated[Interval, key("The effect's interval, same scale.")]
    interval_kind: Annotated[str, key("What the interval is.", enum=INTERVAL_TEXT)]
    level: Annotated[float, key("The interval's coverage, 1 − alpha.")]
    probability: Annotated[Num, key("The p-value or chance decided by; null for a boundary.")]
    probability_kind: Annotated[str, key("What the probability is.", enum=PROBABILITY_TEXT)]
    status: Annotated[str, key("What the comparison means for the verdict.", enum=STATUSES)]
    control_value: Annotated[Num, key("Control's observed mean (before CUPED).")]
    treatment_value: Annotated[Num, key("Treatment's observed mean (before CUPED).")]


class BayesianBlock(TypedDict):
    """The Bayesian comparison (method `bayesian`)."""

    model: Annotated[str, key("`beta-binomial` or `gaussian`.")]
    prior: Annotated[str, key("The prior, in words.")]
    effect_scale: Annotated[str, key("Scale of the Gaussian model (`relative`, `absolute`).")]
    abs_effect: Annotated[Num, key("Posterior mean of mean_t − mean_c, metric units.")]
    abs_ci: Annotated[Interval, key("Credible interval of the absolute effect.")]
    rel_effect: Annotated[Num, key("Posterior mean of the relative effect (fraction).")]
    rel_ci: Annotated[Interval, key("Credible interval of the relative effect.")]
    prob_beat_control: Annotated[Num, key("Posterior P(treatment better than control).")]
    expected_loss_treatment: Annotated[Num, key("Expected loss shipping treatment, metric units.")]
    expected_loss_control: Annotated[Num, key("Expected loss keeping control, metric units.")]
    expected_loss_treatment_rel: Annotated[Num, key("Same, relative to control (fraction).")]
    expected_loss_control_rel: Annotated[Num, key("Same, relative to control (fraction).")]
    draws: Annotated[int | None, key("Monte Carlo draws; null when closed-form.")]
    seed: Annotated[int | None, key("Monte Carlo seed; null when closed-form.")]
    note: Annotated[str | None, key("Why a number is missing, if one is.")]


class Look(TypedDict):
    """One daily look; fields a view does not use are null."""

    day: Annotated[str, key("The look's day (ISO date).")]
    n_control: Annotated[int, key("Control units up to that day.")]
    n_treatment: Annotated[int, key("Treatment units up to that day.")]
    estimate: Annotated[Num, key("Absolute effect, metric units.")]
    se: Annotated[Num, key("Its standard error.")]
    ci: Annotated[Interval, key("Interval (always-valid or pointwise, per the view).")]
    p_value: Annotated[Num, key("p-value (always-valid or pointwise).")]
    z: Annotated[Num, key("z statistic (group-sequential).")]
    boundary: Annotated[Num, key("Critical z at the look (group-sequential).")]
    information_fraction: Annotated[Num, key("Units over planned units (group-sequential).")]
    rejected: Annotated[bool, key("The null was rejected at or before this look.")]


class SequentialBlock(TypedDict):
    """The sequential test over the daily looks (method `sequential`)."""

    kind: Annotated[str, key("`msprt`, `asymptotic-cs` or `group-sequential`.")]
    status: Annotated[SequentialStatus, key("Where the test stands after the last look.")]
    p_value: Annotated[Num, key("Always-valid p-value at the last look.")]
    ci: Annotated[Interval, key("Always-valid (or repeated) interval, metric units.")]
    rejected: Annotated[bool, key("The null was rejected at some look.")]
    first_rejection: Annotated[str | None, key("Day of the first rejection (ISO date).")]
    tau: Annotated[Num, key("mSPRT mixing SD used, metric units.")]
    planned_n: Annotated[int | None, key("Planned units per arm.")]
    spending: Annotated[str | None, key("Alpha spending (group-sequential).")]
    note: Annotated[str | None, key("Why a number is missing, if one is.")]
    looks: Annotated[list[Look], key("The daily looks.")]


class CumulativeBlock(TypedDict):
    """The fixed-horizon test at each daily look: pointwise, not valid for stopping."""

    kind: Annotated[str, key("`fixed-horizon`.")]
    alpha: Annotated[float, key("Level of each pointwise interval.")]
    looks: Annotated[list[Look], key("The daily looks.")]


class NonInferiority(TypedDict):
    """The one-sided test that a guardrail is not worse than its margin."""

    margin: Annotated[float, key("The margin as planned.")]
    margin_type: Annotated[str, key("`relative` or `absolute`.")]
    margin_abs: Annotated[Num, key("The margin in metric units.")]
    statistic: Annotated[Num, key("t statistic against the margin.")]
    p_value: Annotated[Num, key("One-sided p-value.")]
    bound: Annotated[Num, key("One-sided confidence bound of the effect, metric units.")]
    passed: Annotated[bool, key("The effect is shown better than the margin.")]


class Histogram(TypedDict):
    """The bootstrap distribution of the effect."""

    edges: Annotated[list[Num], key("Bin edges, effect units.")]
    counts: Annotated[list[int], key("Resamples per bin.")]


class Bootstrap(TypedDict):
    """The bootstrap comparison (metrics with `bootstrap:`)."""

    statistic: Annotated[str, key("Statistic per arm: `mean`, `median` or a quantile.")]
    method: Annotated[str, key("Interval method (`percentile`, `bca`, ...).")]
    scheme: Annotated[str, key("Resampling scheme.")]
    control_estimate: Annotated[Num, key("Statistic of control, metric units.")]
    treatment_estimate: Annotated[Num, key("Statistic of treatment, metric units.")]
    effect: Annotated[Num, key("Treatment − control, metric units.")]
    ci: Annotated[Interval, key("Bootstrap interval of the effect.")]
    p_value: Annotated[Num, key("Bootstrap p-value.")]
    se: Annotated[Num, key("Bootstrap standard error.")]
    n_resamples: Annotated[int, key("Resamples.")]
    seed: Annotated[int, key("Seed.")]
    histogram: Annotated[Histogram, key("Distribution of the resampled effects.")]
    note: Annotated[str | None, key("Why a number is missing, if one is.")]


class MannWhitney(TypedDict):
    """The Mann–Whitney rank test (metrics with `rank_test:`)."""

    u_statistic: Annotated[Num, key("U of the treatment.")]
    z: Annotated[Num, key("Normal approximation with tie correction.")]
    p_value: Annotated[Num, key("p-value.")]
    alternative: Annotated[str, key("`two-sided`, `greater` or `less`.")]
    prob_superiority: Annotated[Num, key("P(T > C) + P(T = C)/2.")]
    hodges_lehmann: Annotated[Num, key("Hodges–Lehmann shift, metric units.")]
    n_control: Annotated[int, key("Control units.")]
    n_treatment: Annotated[int, key("Treatment units.")]
    tie_term: Annotated[Num, key("The ties' correction term.")]
    note: Annotated[str | None, key("Why a number is missing, if one is.")]


class Comparison(TypedDict):
    """One treatment against control on one metric (the frequentist test and its blocks)."""

    variant: Annotated[str, key("The treatment arm.", original=True)]
    control: Annotated[str, key("The control arm.", original=True)]
    headline: Annotated[Headline | None, key("What the verdict reads; null if undefined.")]
    control_mean: Annotated[Num, key("Control mean, metric units (CUPED-adjusted if used).")]
    variant_mean: Annotated[Num, key("Treatment mean, metric units (likewise).")]
    abs_effect: Annotated[Num, key("mean_t − mean_c, metric units.", original=True)]
    abs_se: Annotated[Num, key("Its standard error.")]
    abs_ci: Annotated[Interval, key("Its confidence interval.", original=True)]
    rel_effect: Annotated[Num, key("mean_t / mean_c − 1 (fraction).", original=True)]
    rel_ci: Annotated[
        Interval | None, key("Its confidence interval (`relative_interval`).", original=True)
    ]
    df: Annotated[Num, key("Degrees of freedom (Welch); null for z tests.")]
    p_value: Annotated[Num, key("Two-sided p-value.", original=True)]
    p_value_adjusted: Annotated[
        Num, key("p-value after the plan's correction (primary family).", original=True)
    ]
    significant: Annotated[bool, key("Adjusted p < alpha.", original=True)]
    method: Annotated[
        str, key("The test: `welch-t`, `cuped-welch-t`, `delta-t`, ...", original=True)
    ]
    cuped: Annotated[bool, key("CUPED with the metric's covariate.", original=True)]
    theta: Annotated[Num, key("CUPED θ; null without a covariate.")]
    prob_beat_control: Annotated[
        Num, key("Chance to beat control (Bayesian, or normal approx.).", original=True)
    ]
    expected_loss: Annotated[Num, key("Expected loss shipping, metric units.", original=True)]
    note: Annotated[str | None, key("Why a number is missing, if one is.")]
    bayesian: NotRequired[Annotated[BayesianBlock, key("Method `bayesian`.")]]
    sequential: NotRequired[Annotated[SequentialBlock, key("Method `sequential`.")]]
    cumulative: NotRequired[Annotated[CumulativeBlock, key("Daily pointwise looks.")]]
    non_inferiority: NotRequired[Annotated[NonInferiority, key("Guardrails with a margin.")]]
    bootstrap: NotRequired[Annotated[Bootstrap, key("Metrics with a bootstrap.")]]
    mann_whitney: NotRequired[Annotated[MannWhitney, key("Metrics with a rank test.")]]


class ProbBest(TypedDict):
    """Monte Carlo chance of each arm being the best on the metric (three or more arms)."""

    prob_best: Annotated[dict[str, Num], key("Arm → P(best).")]
    expected_loss: Annotated[dict[str, Num], key("Arm → expected loss choosing it, metric units.")]
    draws: Annotated[int, key("Monte Carlo draws.")]
    seed: Annotated[int, key("Monte Carlo seed.")]


class CapSensitivity(TypedDict):
    """The effect again under another cap (metrics with a cap)."""

    cap: Annotated[str, key("The cap, in words (`no cap`, `p99`, `p99.9`, ...).")]
    cap_values: Annotated[dict[str, Num], key("Sum column → cap value, metric units.")]
    variant: Annotated[str, key("The treatment arm.")]
    abs_effect: Annotated[Num, key("Absolute effect, metric units.")]
    abs_ci: Annotated[Interval, key("Its confidence interval.")]
    rel_effect: Annotated[Num, key("Relative effect (fraction).")]
    rel_ci: Annotated[Interval | None, key("Its confidence interval.")]
    p_value: Annotated[Num, key("Two-sided p-value.")]


class MetricResult(TypedDict):
    """One metric of the plan, its arms and its comparisons with control."""

    name: Annotated[str, key("The metric's name in the plan.", original=True)]
    label: Annotated[str, key("Display label.")]
    format: Annotated[Format, key("Display format of its values.")]
    decimals: Annotated[int | None, key("Display decimals; null: the format's default.")]
    role: Annotated[Role, key("`primary`, `secondary` or `guardrail`.", original=True)]
    type: Annotated[MetricType, key("Statistical type.", original=True)]
    direction: Annotated[Literal["increase", "decrease"], key("Which way is good.")]
    status: Annotated[Literal["ok", "flagged", "error"], key("`flagged`/`error`: see `reason`.")]
    reason: Annotated[str | None, key("Why the metric is flagged or failed.")]
    caps: Annotated[dict[str, Num] | None, key("Sum column → cap applied, metric units.")]
    variants: Annotated[dict[str, VariantSummary], key("Arm → summary.", original=True)]
    comparisons: Annotated[list[Comparison], key("One per treatment arm.", original=True)]
    prob_best: Annotated[ProbBest | None, key("Chance each arm is best (3+ arms).")]
    cap_sensitivity: Annotated[
        list[CapSensitivity] | None, key("Effects under other caps; null without a cap.")
    ]


# ---- kind: landing_page ------------------------------------------------------------------------
class StepRate(TypedDict):
    """One arm at one funnel step."""

    variant: Annotated[str, key("The arm.")]
    users: Annotated[int, key("Units reaching the step (and every earlier one).")]
    rate: Annotated[Num, key("Conditional rate: reached this step / reached the previous.")]
    ci: Annotated[Interval, key("Wilson interval of the rate.")]


class StepComparison(TypedDict):
    """A treatment's lift at one step (or end to end) against control."""

    variant: Annotated[str, key("The treatment arm.")]
    rate_control: Annotated[Num, key("Control's rate (fraction).")]
    rate: Annotated[Num, key("Treatment's rate (fraction).")]
    lift: Annotated[Num, key("rate / rate_control − 1 (fraction).")]
    ci: Annotated[Interval | None, key("Interval of the lift.")]
    p_value: Annotated[Num, key("Two-sided p-value.")]
    p_value_adjusted: Annotated[Num, key("After the plan's correction over steps.")]
    log_ratio: Annotated[Num, key("log(1 + lift).")]
    method: Annotated[str, key("The test.")]


class FunnelStep(TypedDict):
    """One step of the funnel."""

    step: Annotated[str, key("The step's event.")]
    variants: Annotated[list[StepRate], key("Rates per arm.")]
    comparisons: Annotated[list[StepComparison], key("Lifts per treatment.")]


class FunnelDecomposition(TypedDict):
    """The end-to-end log ratio as the sum of the steps' log ratios."""

    variant: Annotated[str, key("The treatment arm.")]
    log_ratio: Annotated[Num, key("End-to-end log(1 + lift).")]
    step_log_ratios: Annotated[list[Num], key("Each step's log(1 + lift), in step order.")]


class BiggestChange(TypedDict):
    """The step with the most significant change."""

    step: Annotated[str, key("The step.")]
    variant: Annotated[str, key("The treatment arm.")]
    lift: Annotated[Num, key("Its lift (fraction).")]
    p_value: Annotated[Num, key("Its p-value.")]
    p_value_adjusted: Annotated[Num, key("Its adjusted p-value.")]


class Funnel(TypedDict):
    """The funnel step by step, end to end, and the log decomposition."""

    steps: Annotated[list[str], key("The steps, in order.")]
    control: Annotated[str, key("The control arm.")]
    alpha: Annotated[float, key("Significance level.")]
    correction: Annotated[str, key("Correction over steps.")]
    by_step: Annotated[list[FunnelStep], key("Per step.")]
    end_to_end: Annotated[list[StepComparison], key("Exposure to the last step.")]
    decomposition: Annotated[list[FunnelDecomposition], key("Per treatment.")]
    biggest_change: Annotated[BiggestChange | None, key("The most significant step change.")]


class EffectSummary(TypedDict):
    """An effect on the stated scale with its arms."""

    n_control: Annotated[int, key("Control units.")]
    n_treatment: Annotated[int, key("Treatment units.")]
    control_mean: Annotated[Num, key("Control mean, metric units.")]
    treatment_mean: Annotated[Num, key("Treatment mean, metric units.")]
    effect: Annotated[Num, key("The effect on the scale.")]
    ci: Annotated[Interval, key("Its interval.")]
    p_value: Annotated[Num, key("Two-sided p-value.")]


class SegmentLevel(EffectSummary):
    """The effect within one segment value."""

    level: Annotated[str, key("The segment value.")]
    p_value_adjusted: Annotated[Num, key("After the correction over levels.")]


class Stratified(TypedDict):
    """Inverse-variance stratified effect over the levels."""

    effect: Annotated[Num, key("Stratified effect on the scale.")]
    ci: Annotated[Interval, key("Its interval.")]
    se: Annotated[Num, key("Its standard error.")]
    p_value: Annotated[Num, key("Its p-value.")]
    levels_used: Annotated[int, key("Levels with an estimate.")]


class Heterogeneity(TypedDict):
    """Cochran's Q across the levels."""

    q: Annotated[Num, key("Q statistic.")]
    df: Annotated[int, key("Degrees of freedom.")]
    p_value: Annotated[Num, key("p-value.")]


class SegmentDimension(TypedDict):
    """One segment column: per level, pooled, stratified, and Simpson's check."""

    dimension: Annotated[str, key("The segment column.")]
    levels: Annotated[list[SegmentLevel], key("Per value.")]
    pooled: Annotated[EffectSummary, key("All units together.")]
    stratified: Annotated[Stratified, key("Combined over levels.")]
    heterogeneity: Annotated[Heterogeneity, key("Do levels differ?")]
    simpson: Annotated[bool, key("Pooled and stratified effects disagree in sign.")]
    message: Annotated[str | None, key("The finding, in words.")]


class Segments(TypedDict):
    """One treatment's effect on one primary metric across segments."""

    control: Annotated[str, key("The control arm.")]
    treatment: Annotated[str, key("The treatment arm.")]
    test: Annotated[str, key("`welch`, `cuped` or `ratio`.")]
    scale: Annotated[str, key("`absolute` (metric units).")]
    alpha: Annotated[float, key("Significance level.")]
    correction: Annotated[str, key("Correction over levels.")]
    dimensions: Annotated[list[SegmentDimension], key("Per segment column.")]


class CohortDifference(TypedDict):
    """Early minus late effect."""

    estimate: Annotated[Num, key("Early − late, on the scale.")]
    ci: Annotated[Interval, key("Its interval.")]
    se: Annotated[Num, key("Its standard error.")]
    p_value: Annotated[Num, key("Its p-value.")]


class Novelty(TypedDict):
    """Early against late cohorts: does the effect fade or grow?"""

    cut: Annotated[str | None, key("First day of the late cohort (ISO date).")]
    scale: Annotated[str, key("`absolute` (metric units).")]
    direction: Annotated[str, key("The metric's good direction.")]
    early: Annotated[EffectSummary, key("Units exposed before the cut.")]
    late: Annotated[EffectSummary, key("Units exposed from the cut.")]
    difference: Annotated[CohortDifference, key("Early − late.")]
    verdict: Annotated[str, key("`novelty`, `primacy` or `stable`.")]


class RepeatEffect(TypedDict):
    """A treatment's repeat-purchase rate against control's."""

    denominator: Annotated[str, key("`exposed` or `buyers`.")]
    method: Annotated[str, key("The test.")]
    rate_control: Annotated[Num, key("Control's rate (fraction).")]
    rate_treatment: Annotated[Num, key("Treatment's rate (fraction).")]
    difference: Annotated[Num, key("Treatment − control (fraction).")]
    difference_ci: Annotated[Interval, key("Its interval.")]
    lift: Annotated[Num, key("Relative difference (fraction).")]
    lift_ci: Annotated[Interval, key("Its interval.")]
    p_value: Annotated[Num, key("Two-sided p-value.")]


class RepeatPurchase(TypedDict):
    """Repeat purchase of one metric with `aggregate: repeat`."""

    event: Annotated[str, key("The purchase event.")]
    window_days: Annotated[float, key("Attribution window (days).")]
    exposed: Annotated[dict[str, int], key("Arm → exposed units.")]
    repeaters: Annotated[dict[str, int], key("Arm → units that purchased twice or more.")]
    rate: Annotated[dict[str, Num], key("Arm → repeaters / exposed.")]
    effects: Annotated[dict[str, RepeatEffect], key("Treatment → effect among exposed.")]
    among_buyers: Annotated[
        dict[str, RepeatEffect] | None, key("Treatment → effect among buyers, if known.")
    ]
    buyers_metric: Annotated[str | None, key("The metric that counts buyers, if any.")]


class LandingPage(TypedDict):
    """`kind: landing_page`; each part null when it does not apply."""

    funnel: Annotated[Funnel | Unavailable | None, key("The funnel.")]
    segments: Annotated[
        dict[str, dict[str, Segments | Unavailable] | Unavailable] | None,
        key("Primary metric → treatment → segments."),
    ]
    novelty: Annotated[
        dict[str, dict[str, Novelty | Unavailable] | Unavailable] | None,
        key("Primary metric → treatment → novelty."),
    ]
    repeat_purchase: Annotated[
        dict[str, RepeatPurchase | Unavailable] | None, key("Metric → repeat purchase.")
    ]


# ---- kind: creative ----------------------------------------------------------------------------
class Rate(TypedDict):
    """A rate or cost with its interval."""

    estimate: Annotated[Num, key("The estimate (rates: fraction; costs: currency).")]
    ci: Annotated[Interval, key("Its interval.")]


class CtrLift(TypedDict):
    """Relative CTR lift against control."""

    estimate: Annotated[Num, key("ctr_t / ctr_c − 1 (fraction).")]
    ci: Annotated[Interval, key("Log-delta interval.")]
    p_value: Annotated[Num, key("Two-sided p-value.")]
    p_value_adjusted: Annotated[Num, key("After the plan's correction over ads.")]
    significant: Annotated[bool, key("Adjusted p < alpha.")]


class Shrunk(TypedDict):
    """An empirical-Bayes (partially pooled) estimate."""

    estimate: Annotated[Num, key("Posterior mean.")]
    sd: Annotated[Num, key("Posterior SD.")]
    ci: Annotated[Interval, key("Posterior interval.")]


class CreativeArm(TypedDict):
    """One creative (ad)."""

    name: Annotated[str, key("The creative.")]
    users: Annotated[int, key("Units (clusters for exports).")]
    impressions: Annotated[float, key("Impressions.")]
    clicks: Annotated[float, key("Clicks.")]
    conversions: Annotated[float, key("Conversions.")]
    ctr: Annotated[Rate, key("Clicks per impression.")]
    cvr: Annotated[Rate, key("Conversions per click.")]
    cvr_impression: Annotated[Rate, key("Conversions per impression.")]
    cpa: Annotated[Rate | None, key("Spend per conversion (currency); null without spend.")]
    roas: Annotated[Rate | None, key("Value per spend; null without value.")]
    lift: Annotated[CtrLift | None, key("CTR lift vs control; null for control.")]
    prob_best: Annotated[Num, key("P(best CTR).")]
    expected_loss: Annotated[Num, key("Expected CTR loss choosing it (fraction).")]
    shrunk_lift: Annotated[Shrunk | None, key("Shrunk CTR lift; null for control.")]
    rank: Annotated[int, key("Rank by P(best), 1 = best.")]
    prob_top_k: Annotated[Num, key("P(among the `top_k` best).")]
    shrunk_rate: Annotated[Shrunk | None, key("Shrunk CTR.")]
    cpc: Annotated[Rate | None, key("Spend per click (currency); null without spend.")]
    spend: Annotated[Num, key("Spend (currency).")]
    value: Annotated[Num, key("Conversion value (currency).")]


class CreativeGroup(TypedDict):
    """A group of creatives (a concept) as one arm."""

    name: Annotated[str, key("The group.")]
    creatives: Annotated[list[str], key("Its creatives.")]
    users: Annotated[int, key("Units.")]
    impressions: Annotated[float, key("Impressions.")]
    clicks: Annotated[float, key("Clicks.")]
    conversions: Annotated[float, key("Conversions.")]
    ctr: Annotated[Rate, key("Clicks per impression.")]
    cvr: Annotated[Rate, key("Conversions per click.")]
    prob_best: Annotated[Num, key("P(best CTR) among groups.")]
    cpa: Annotated[Rate | None, key("Spend per conversion (currency).")]
    cpc: Annotated[Rate | None, key("Spend per click (currency).")]
    roas: Annotated[Rate | None, key("Value per spend.")]
    spend: Annotated[Num, key("Spend (currency).")]
    value: Annotated[Num, key("Conversion value (currency).")]


class Shrinkage(TypedDict):
    """The empirical-Bayes fit of the creatives' CTRs."""

    method: Annotated[str, key("Fit of the prior (`reml`, ...).")]
    mu: Annotated[Num, key("Prior mean (logit CTR or lift scale).")]
    mu_se: Annotated[Num, key("Its standard error.")]
    tau2: Annotated[Num, key("Between-creative variance.")]
    morris: Annotated[bool, key("Morris correction applied.")]


class MonteCarlo(TypedDict):
    """A Monte Carlo estimate."""

    expected: Annotated[Num, key("Expected reward (clicks or conversions).")]
    se: Annotated[Num, key("Its Monte Carlo SE.")]


class AllocationSimulation(TypedDict):
    """Expected reward of the next `n_next` units under each policy."""

    n_next: Annotated[int, key("Units simulated.")]
    draws: Annotated[int, key("Monte Carlo draws.")]
    thompson: Annotated[MonteCarlo, key("Thompson allocation.")]
    equal: Annotated[MonteCarlo, key("Equal allocation.")]
    oracle: Annotated[MonteCarlo, key("All on the true best.")]
    regret_thompson: Annotated[MonteCarlo, key("Oracle − Thompson.")]
    regret_equal: Annotated[MonteCarlo, key("Oracle − equal.")]


class Allocation(TypedDict):
    """Suggested traffic shares for the next period (Thompson, with a floor)."""

    basis: Annotated[str, key("The metric rewarded.")]
    weights: Annotated[dict[str, Num], key("Creative → share (sums to 1).")]
    floor: Annotated[float, key("Minimum share per creative.")]
    simulation: Annotated[AllocationSimulation, key("What the shares would earn.")]


class FatigueFit(TypedDict):
    """Logit slope of CTR per day since a creative's first impression."""

    creative: Annotated[str, key("The creative.")]
    slope: Annotated[Num, key("Change in logit CTR per day (negative: fatigue).")]
    se: Annotated[Num, key("Its standard error.")]
    ci: Annotated[Interval, key("Its interval.")]
    p_value_decline: Annotated[Num, key("One-sided p-value of a decline.")]
    p_value_decline_adjusted: Annotated[Num, key("After the correction over creatives.")]
    declining: Annotated[bool, key("Adjusted p < alpha.")]
    dispersion: Annotated[Num, key("Quasi-binomial dispersion.")]
    method: Annotated[str, key("The fit (`quasi`, ...).")]


class FatigueCounts(TypedDict):
    """A creative's counts by day since its first impression."""

    impressions: Annotated[list[int], key("Impressions per day index.")]
    clicks: Annotated[list[int], key("Clicks per day index.")]


class Creative(TypedDict):
    """`kind: creative`: the tournament of creatives."""

    status: Annotated[Literal["ok"], key("`ok` (see `Unavailable` otherwise).")]
    ctr_metric: Annotated[str, key("The plan's CTR metric.")]
    conversion_metric: Annotated[str | None, key("The plan's conversion metric.")]
    revenue_metric: Annotated[str | None, key("The plan's revenue metric.")]
    control: Annotated[str, key("The control creative.")]
    alpha: Annotated[float, key("Significance level.")]
    correction: Annotated[str, key("Correction over creatives.")]
    metric: Annotated[str, key("What creatives are ranked by (`ctr`).")]
    draws: Annotated[int, key("Monte Carlo draws.")]
    seed: Annotated[int, key("Monte Carlo seed.")]
    arms: Annotated[list[CreativeArm], key("Per creative, in plan order.")]
    shrinkage: Annotated[Shrinkage, key("The creatives' prior fit.")]
    allocation: Annotated[Allocation, key("Suggested next shares.")]
    fatigue: Annotated[list[FatigueFit] | None, key("Per creative; null without days.")]
    prior: Annotated[str, key("What creatives shrink towards (`campaign`, ...).")]
    top_k: Annotated[int, key("k of `prob_top_k`.")]
    mc_se: Annotated[Num, key("Largest Monte Carlo SE of the probabilities.")]
    campaign: Annotated[Shrinkage | None, key("The groups' prior fit, with groups.")]
    groups: Annotated[list[CreativeGroup] | None, key("Groups as arms; null without.")]
    fatigue_counts: Annotated[
        dict[str, FatigueCounts] | None, key("Creative → daily counts behind `fatigue`.")
    ]
    notes: Annotated[dict[str, str], key("Topic → what was left out, and why.")]


# ---- kind: pricing -----------------------------------------------------------------------------
class Estimate(TypedDict):
    """An estimate with its standard error and interval."""

    estimate: Annotated[Num, key("The estimate.")]
    se: Annotated[Num, key("Its standard error.")]
    ci: Annotated[Interval | None, key("Its interval.")]


class PriceArm(TypedDict):
    """One price."""

    name: Annotated[str, key("The arm.")]
    price: Annotated[Num, key("Its price (currency).")]
    n: Annotated[int, key("Visitors.")]
    buyers: Annotated[int, key("Buyers.")]
    conversion: Annotated[Estimate, key("Buyers / visitors (fraction).")]
    aov: Annotated[Estimate, key("Revenue per buyer (currency).")]
    rpv: Annotated[Estimate, key("Revenue per visitor (currency).")]
    profit: Annotated[Estimate | None, key("Profit per visitor (currency), with a unit cost.")]
    prob_best_rpv: Annotated[Num, key("P(highest revenue per visitor).")]


class PriceLift(TypedDict):
    """A lift against control on the log scale."""

    estimate: Annotated[Num, key("treatment / control − 1 (fraction).")]
    ci: Annotated[Interval | None, key("Its interval.")]
    log_ratio: Annotated[Num, key("log(1 + estimate).")]
    p_value: Annotated[Num, key("Two-sided p-value.")]


class PriceDecomposition(TypedDict):
    """Revenue-per-visitor lift split into conversion and order-value lifts."""

    variant: Annotated[str, key("The treatment arm.")]
    control: Annotated[str, key("The control arm.")]
    rpv_lift: Annotated[PriceLift, key("Revenue per visitor.")]
    conversion_lift: Annotated[PriceLift, key("Conversion.")]
    aov_lift: Annotated[PriceLift, key("Average order value.")]


class Coefficients(TypedDict):
    """The demand model's coefficients (link scale)."""

    intercept: Annotated[Num, key("Intercept.")]
    price: Annotated[Num, key("Slope per currency unit of price.")]


class Elasticity(TypedDict):
    """Price elasticity of conversion at one price."""

    price: Annotated[Num, key("The price (currency).")]
    estimate: Annotated[Num, key("d log q / d log p.")]
    ci: Annotated[Interval, key("Delta-method interval.")]


class CurvePoint(TypedDict):
    """The fitted demand curve at one price."""

    price: Annotated[Num, key("Price (currency).")]
    conversion: Annotated[Num, key("Fitted conversion (fraction).")]
    ci_low: Annotated[Num, key("Its interval's low end.")]
    ci_high: Annotated[Num, key("Its interval's high end.")]
    rpv: Annotated[Num, key("price × conversion (currency).")]
    profit: Annotated[Num, key("(price − unit cost) × conversion; null without a cost.")]


class GoodnessOfFit(TypedDict):
    """The demand model's fit over the tested prices."""

    deviance: Annotated[Num, key("Deviance.")]
    deviance_p_value: Annotated[Num, key("Its χ² p-value.")]
    pearson_chi2: Annotated[Num, key("Pearson χ².")]
    pearson_p_value: Annotated[Num, key("Its p-value.")]
    df: Annotated[int, key("Residual degrees of freedom.")]


class Demand(TypedDict):
    """Binomial GLM of conversion on price."""

    link: Annotated[str, key("Link function (`logit`, ...).")]
    coefficients: Annotated[Coefficients, key("Fitted coefficients.")]
    se: Annotated[Coefficients, key("Their standard errors.")]
    covariance: Annotated[list[list[Num]], key("Their 2×2 covariance.")]
    loglik: Annotated[Num, key("Log-likelihood.")]
    iterations: Annotated[int, key("Fitting iterations.")]
    elasticity: Annotated[list[Elasticity], key("At each tested price.")]
    curve: Annotated[list[CurvePoint], key("Over the tested range.")]
    gof: Annotated[GoodnessOfFit, key("Goodness of fit.")]


class OptimalPrice(TypedDict):
    """The price maximising an objective on the fitted curve, within the tested range."""

    objective: Annotated[str, key("`revenue` or `profit` (per visitor).")]
    price: Annotated[Num, key("The best price (currency).")]
    ci: Annotated[Interval, key("Its interval (parametric bootstrap).")]
    value: Annotated[Num, key("The objective there (currency per visitor).")]
    at_edge: Annotated[bool, key("The optimum is at an end of the tested range.")]
    edge_fraction: Annotated[Num, key("Share of draws with the optimum at an edge.")]
    range: Annotated[Interval, key("The tested price range (currency).")]
    unit_cost: Annotated[Num, key("Unit cost used (currency).")]
    draws: Annotated[int, key("Draws.")]
    seed: Annotated[int, key("Seed.")]
    note: Annotated[str | None, key("A caveat, in words.")]


class Trend(TypedDict):
    """Trend test of conversion over the ordered prices."""

    z: Annotated[Num, key("z statistic.")]
    p_value: Annotated[Num, key("Two-sided p-value.")]


class PricingMetrics(TypedDict):
    """The metrics the section reads."""

    conversion: Annotated[str, key("The purchase flag.")]
    revenue: Annotated[str, key("Revenue per visitor.")]


class Pricing(TypedDict):
    """`kind: pricing`: price arms, demand curve, optimal price."""

    status: Annotated[Literal["ok"], key("`ok` (see `Unavailable` otherwise).")]
    metrics: Annotated[PricingMetrics, key("The metrics used.")]
    revenue_caps: Annotated[dict[str, Num], key("Sum column → revenue cap (currency).")]
    alpha: Annotated[float, key("Significance level.")]
    control: Annotated[str, key("The control arm.")]
    unit_cost: Annotated[Num, key("Unit cost (currency); null without.")]
    arms: Annotated[list[PriceArm], key("Per price, in plan order.")]
    demand: Annotated[Demand, key("The demand model.")]
    optimal_price: Annotated[OptimalPrice, key("Revenue-maximising price.")]
    optimal_profit_price: Annotated[
        OptimalPrice | None, key("Profit-maximising price; null without a cost.")
    ]
    trend: Annotated[Trend, key("Conversion trend over prices.")]
    decomposition: Annotated[list[PriceDecomposition], key("Per treatment.")]


# ---- the file ----------------------------------------------------------------------------------
_MAJOR = SCHEMA_VERSION.split(".")[0]


class ResultsFile(TypedDict):
    """results.json: one analysis of one plan (`liftlab analyze PLAN --json` prints the same)."""

    schema_version: Annotated[
        str,
        key("Version of this contract, `major.minor`."),
        Field(pattern=rf"^{_MAJOR}\.[0-9]+$"),
    ]
    experiment: Annotated[str, key("The plan's `name`.", original=True)]
    kind: Annotated[Kind, key("The plan's `kind`.")]
    hypothesis: Annotated[str, key("The plan's hypothesis.")]
    liftlab_version: Annotated[str, key("liftlab's version.", original=True)]
    plan_sha256: Annotated[str, key("SHA-256 of the plan file.", original=True)]
    data_sha256: Annotated[
        str | None,
        key("Digest over the data files' SHA-256s (see manifest.json).", original=True),
    ]
    data_source: Annotated[str, key("The data read, in words.")]
    generated_at: Annotated[
        str, key("When the file was written, UTC (ISO 8601); the one volatile key.", original=True)
    ]
    analysis: Annotated[AnalysisSettings, key("The settings used.")]
    currency: Annotated[str | None, key("ISO 4217 code of money values.")]
    planned_n_per_variant: Annotated[int | None, key("Planned units per arm.")]
    progress: Annotated[Progress | None, key("Progress against the plan.")]
    srm: Annotated[Srm, key("Sample-ratio check.", original=True)]
    data_quality: Annotated[DataQuality, key("Data-quality findings.")]
    traffic: Annotated[Traffic, key("Units per day.")]
    metrics: Annotated[
        list[MetricResult], key("One per plan metric, in plan order.", original=True)
    ]
    decision: Annotated[Decision, key("The verdict.", original=True)]
    landing_page: NotRequired[Annotated[LandingPage | Unavailable, key("`kind: landing_page`.")]]
    creative: NotRequired[Annotated[Creative | Unavailable, key("`kind: creative`.")]]
    pricing: NotRequired[Annotated[Pricing | Unavailable, key("`kind: pricing`.")]]
    scope: NotRequired[Annotated[Scope, key("The slice analysed, for a slice only.")]]


# ---- generation --------------------------------------------------------------------------------
def _types() -> dict[str, type]:
    """Every object type of the contract, by name."""
    from typing_extensions import is_typeddict

    return {n: t for n, t in globals().items() if isinstance(t, type) and is_typeddict(t)}


def _untitle(node: Any) -> None:
    """Drop the titles pydantic derives from names (``"P Value"``): they say nothing."""
    if isinstance(node, dict):
        if isinstance(node.get("title"), str):
            del node["title"]
        for value in node.values():
            _untitle(value)
    elif isinstance(node, list):
        for value in node:
            _untitle(value)


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of results.json. Objects accept keys they do not list,
    so a file of a later minor version validates against this one."""
    body = TypeAdapter(ResultsFile).json_schema()
    _untitle(body)
    types = _types()
    for name, node in body["$defs"].items():
        node["description"] = " ".join(types[name].__doc__.split())  # type: ignore[union-attr]
    body.pop("description", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "liftlab results.json",
        "description": " ".join(ResultsFile.__doc__.split()),  # type: ignore[union-attr]
        "x-schema-version": SCHEMA_VERSION,
        **body,
    }


def schema_text() -> str:
    return json.dumps(schema(), indent=1, ensure_ascii=False) + "\n"


# ---- docs/results.md ---------------------------------------------------------------------------
BEGIN = "<!-- keys: generated by `python -m liftlab.contract` from lib/liftlab/contract.py -->"
END = "<!-- end of keys -->"


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _children(node: dict[str, Any], path: str) -> Iterable[tuple[dict[str, Any], str]]:
    """The schemas directly under ``node`` with their paths (``[]`` an item, ``*`` any key)."""
    for key_, sub in node.get("properties", {}).items():
        yield sub, f"{path}.{key_}" if path else key_
    for sub in node.get("anyOf", []):
        yield sub, path
    if isinstance(node.get("items"), dict):
        yield node["items"], f"{path}[]"
    for sub in node.get("prefixItems", []):
        yield sub, f"{path}[]"
    if isinstance(node.get("additionalProperties"), dict):
        yield node["additionalProperties"], f"{path}.*"


def places(body: dict[str, Any]) -> dict[str, list[str]]:
    """Each object type of the schema with the paths it appears at, in reading order."""
    out: dict[str, list[str]] = {"ResultsFile": ["(top level)"]}

    def walk(node: dict[str, Any], path: str) -> None:
        if "$ref" in node:
            name = _name(node["$ref"])
            first = name not in out
            if path not in out.setdefault(name, []):
                out[name].append(path)
            if first:
                walk(body["$defs"][name], path)
            return
        for sub, sub_path in _children(node, path):
            walk(sub, sub_path)

    walk(body, "")
    return out


def type_text(node: dict[str, Any]) -> str:
    """A property's type in words: ``number or null``, ``list of [Look](#look)``..."""
    if "$ref" in node:
        name = _name(node["$ref"])
        return f"[{name}](#{name.lower()})"
    if "anyOf" in node:
        return " or ".join(type_text(sub) for sub in node["anyOf"])
    if "const" in node:
        return f"`{node['const']}`"
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type")
    if kind == "array" and "prefixItems" in node:
        return "[" + ", ".join(type_text(sub) for sub in node["prefixItems"]) + "]"
    if kind == "array":
        return "list of " + _grouped(node.get("items", {}))
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return "map of " + _grouped(node["additionalProperties"])
    return str(kind or "any")


def _grouped(node: dict[str, Any]) -> str:
    """A list's or map's value type, in parentheses when it is a choice."""
    text = type_text(node)
    return f"({text})" if "anyOf" in node else text


def _section(name: str, node: dict[str, Any], at: list[str]) -> list[str]:
    where = ", ".join(f"`{p}`" for p in at) if at != ["(top level)"] else "the top level"
    lines = [f"### {name}", "", f"At {where}. {node['description']}", ""]
    lines += ["| Key | Type | Always | Meaning | Contract |", "|---|---|---|---|---|"]
    required = set(node.get("required", []))
    for key_, sub in node["properties"].items():
        always = "yes" if key_ in required else "no"
        origin = "original" if sub.get("x-original") else "extension"
        row = [f"`{key_}`", type_text(sub), always, sub.get("description", ""), origin]
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]


def key_tables(body: dict[str, Any] | None = None) -> str:
    """The tables of docs/results.md: one per object type, in the order a reader meets them."""
    body = schema() if body is None else body
    lines = [BEGIN, ""]
    for name, at in places(body).items():
        node = body if name == "ResultsFile" else body["$defs"][name]
        lines += _section(name, node, at)
    return "\n".join([*lines, END])


def docs_text(current: str) -> str:
    """``current`` (docs/results.md) with its generated tables replaced by today's."""
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), flags=re.S)
    if not pattern.search(current):
        raise ValueError(f"{DOCS_PATH}: no generated section ({BEGIN} ... {END})")
    return pattern.sub(lambda _: key_tables(), current)


def main() -> int:
    """Rewrite results.schema.json and the key tables of docs/results.md from the types."""
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    DOCS_PATH.write_text(docs_text(DOCS_PATH.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH} and {DOCS_PATH} (results contract {SCHEMA_VERSION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
