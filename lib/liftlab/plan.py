"""The experiment plan: one YAML file per test, validated before any data is read.

A plan names the test, its hypothesis, its variants with their planned traffic weights, where
the data lives, the metrics (with their role: ``primary`` metrics form the family corrected for
multiple testing, ``guardrail`` metrics are watched for harm, ``secondary`` are reported) and
the analysis settings. See ``shared/DESIGN.md`` for the contract and ``experiments/`` for
working examples.

Relative file paths in a plan resolve against the project root: the folder that holds the
``experiments/`` folder the plan sits in, or the plan's own folder when it is not inside one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from liftlab.errors import PlanError, did_you_mean
from liftlab.stats.types import MetricType

Kind = Literal["general", "landing_page", "pricing", "creative"]
Role = Literal["primary", "secondary", "guardrail"]
Correction = Literal["none", "bonferroni", "holm", "hochberg", "bh", "by"]
Method = Literal["frequentist", "bayesian", "sequential"]
RelativeInterval = Literal["log-delta", "fieller"]
# How the arms were assigned (a plan's ``randomization``): ``unit`` (default: each unit of
# ``unit`` drawn at random with the planned weights; the sample-ratio check applies),
# ``impression`` (each impression drawn at random with the planned weights, as a platform's
# split test by impression: the check compares impressions per arm with the weights) or
# ``none`` (the platform's delivery chose who saw what: no sample-ratio check, and the
# verdict is an observational comparison; see :mod:`liftlab.exports`).
Randomization = Literal["unit", "impression", "none"]
PRE_PERIOD = "pre_period"
COLUMN_ROLES = ("unit", "variant", "exposed_at", "event", "ts", "value")
# ``variants: from_data`` (or no ``variants:``) on an ad-platform export: the arms are the
# distinct values of its arm column, read when the plan is analysed
# (:func:`liftlab.exports.resolve_plan`); ``control:`` names the control arm.
FROM_DATA = "from_data"
WEIGHT_TOLERANCE = 1e-6


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variant(_Strict):
    """One arm of the test. ``weight`` is its planned share of traffic."""

    weight: Annotated[float, Field(gt=0, le=1)] | None = None
    description: str | None = None
    price: Annotated[float, Field(ge=0)] | None = None
    unit_cost: Annotated[float, Field(ge=0)] | None = None
    spend: Annotated[float, Field(ge=0)] | None = None


class Cap(_Strict):
    """Winsorization of a metric: at a fixed ``value`` or at a ``quantile``.

    The quantile is computed in the engine over the units of every variant together (so the
    cap does not depend on the treatment), with linear interpolation (``quantile_cont``).
    A covariate is capped by the same rule, at its own quantile.

    ``among`` says which units the quantile is taken over: ``nonzero`` (the default) uses the
    units whose value is not 0, so that a zero-inflated metric (revenue per visitor, where
    most visitors buy nothing) is capped at its largest orders and not at 0; ``all`` uses
    every unit (the convention of tools that winsorise the whole distribution). For a metric
    with no zeros the two agree. The cap-sensitivity table uses the same convention.
    """

    value: float | None = None
    quantile: Annotated[float, Field(gt=0.5, lt=1)] | None = None
    among: Literal["nonzero", "all"] = "nonzero"

    @model_validator(mode="after")
    def _one_of(self) -> Cap:
        if (self.value is None) == (self.quantile is None):
            raise ValueError("give exactly one of value (a fixed cap) or quantile (e.g. 0.999)")
        return self


class BootstrapSpec(_Strict):
    """A bootstrap comparison of a metric (see :mod:`liftlab.stats.bootstrap`)."""

    statistic: Literal["mean", "median", "quantile"] = "mean"
    quantile: Annotated[float, Field(gt=0, lt=1)] | None = None
    n_resamples: Annotated[int, Field(ge=100, le=100_000)] = 2_000
    method: Literal["percentile", "bca"] = "percentile"
    seed: int = 20261125

    @model_validator(mode="after")
    def _quantile_given(self) -> BootstrapSpec:
        if (self.statistic == "quantile") != (self.quantile is not None):
            raise ValueError("statistic: quantile needs quantile: q (e.g. 0.9), and only then")
        return self


class EventAgg(_Strict):
    """One side of an event-table ratio metric: ``aggregate`` of ``event`` per unit."""

    event: str
    aggregate: Literal["count", "sum", "any", "repeat"] = "count"


# Shorthand metric types for ad-platform exports (:mod:`liftlab.exports`): each is a ratio of
# two column sums, written ``{name: cpa, type: cpa}``; it expands to ``type: ratio`` with the
# numerator and denominator roles below, the good direction and the display format. ``cpm``'s
# numerator ``spend_per_mille`` is 1000 × spend (a column the export derives).
EXPORT_RATIOS: dict[str, dict[str, str]] = {
    "ctr": {"numerator": "clicks", "denominator": "impressions", "format": "percent"},
    "cvr": {"numerator": "conversions", "denominator": "clicks", "format": "percent"},
    "cpc": {
        "numerator": "spend",
        "denominator": "clicks",
        "direction": "decrease",
        "format": "currency",
    },
    "cpm": {
        "numerator": "spend_per_mille",
        "denominator": "impressions",
        "direction": "decrease",
        "format": "currency",
    },
    "cpa": {
        "numerator": "spend",
        "denominator": "conversions",
        "direction": "decrease",
        "format": "currency",
    },
    "roas": {"numerator": "value", "denominator": "spend", "format": "number"},
    "value_per_conversion": {
        "numerator": "value",
        "denominator": "conversions",
        "format": "currency",
    },
}


class Metric(_Strict):
    """A metric computed per unit and compared across variants.

    - ``proportion``: ``column`` holds 0/1 (or booleans) per unit.
    - ``mean``: ``column`` holds a number per unit (revenue, sessions, ...).
    - ``ratio``: ``numerator`` / ``denominator`` are per-unit columns (clicks / impressions);
      the metric is sum(numerator) / sum(denominator) per variant.

    ``covariate`` names a pre-period column for CUPED (mean and proportion metrics).
    ``direction`` says which way is good: ``increase`` (default) or ``decrease``.
    ``baseline`` (the control rate or mean) and ``baseline_sd`` (the unit-level standard
    deviation, for mean metrics) describe the control arm for sample-size design.

    On event tables (``data.exposures`` and ``data.events``) a metric names an ``event`` and
    how to ``aggregate`` it per unit (``count``, ``sum`` of ``value``, ``any`` = 0/1, the
    default for proportions, or ``repeat`` = 0/1, two or more of the event: repeat purchase;
    ``sum`` is the default for means) inside an attribution window of
    ``window_days`` (default 7) after the unit's first exposure; a ratio's ``numerator`` and
    ``denominator`` are ``{event, aggregate}`` pairs; ``covariate: pre_period`` is the same
    metric over the ``pre_days`` (default 14) before exposure. ``allow_negative: false``
    (default) counts negative event values as a data-quality finding.

    ``margin`` (guardrails): a non-inferiority margin, e.g. ``margin: -0.02`` with
    ``margin_type: relative`` (default) means "no worse than 2% below control"; the guardrail
    passes when the one-sided test rejects "worse than the margin" at ``alpha``.
    ``bootstrap`` adds a bootstrap comparison (mean, median or a quantile) and ``rank_test``
    a Mann–Whitney U test; both read the metric's unit-level values from the engine.

    Display: ``label`` is the metric's name for readers (default: its name with spaces);
    ``format`` is ``percent`` (default for proportions; differences in percentage points),
    ``currency`` (the plan's ``currency``), ``number`` (default for means and ratios) or
    ``count``; ``decimals`` fixes the decimals of its values (default: enough significant
    digits that different arms never print alike; see :mod:`liftlab.format`).
    """

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    role: Role = "secondary"
    type: MetricType
    column: str | None = None
    numerator: str | EventAgg | None = None
    denominator: str | EventAgg | None = None
    covariate: str | None = None
    event: str | None = None
    aggregate: Literal["count", "sum", "any", "repeat"] | None = None
    window_days: Annotated[float, Field(gt=0)] = 7.0
    pre_days: Annotated[float, Field(gt=0)] = 14.0
    allow_negative: bool = False
    cap: Cap | None = None
    direction: Literal["increase", "decrease"] = "increase"
    baseline: float | None = None
    baseline_sd: Annotated[float, Field(gt=0)] | None = None
    description: str | None = None
    margin: float | None = None
    margin_type: Literal["relative", "absolute"] = "relative"
    bootstrap: BootstrapSpec | None = None
    rank_test: bool = False
    label: Annotated[str, Field(min_length=1, max_length=60)] | None = None
    format: Literal["percent", "currency", "number", "count"] | None = None
    decimals: Annotated[int, Field(ge=0, le=8)] | None = None

    _precomputed: bool = PrivateAttr(default=False)

    @model_validator(mode="before")
    @classmethod
    def _export_shorthand(cls, data: Any) -> Any:
        """``type: ctr`` (or cvr, cpc, cpm, cpa, roas, value_per_conversion) is short for
        ``type: ratio`` over the export's roles (:data:`EXPORT_RATIOS`)."""
        if not isinstance(data, dict) or data.get("type") not in EXPORT_RATIOS:
            return data
        spec = EXPORT_RATIOS[data["type"]]
        given = [k for k in ("numerator", "denominator", "column") if k in data]
        if given:
            raise ValueError(
                f"type: {data['type']} sets numerator and denominator itself; remove "
                f"{given[0]} (or write type: ratio with numerator: and denominator:)"
            )
        return {
            **{k: v for k, v in spec.items()},
            **data,
            "type": "ratio",
            "numerator": spec["numerator"],
            "denominator": spec["denominator"],
        }

    @model_validator(mode="after")
    def _columns_fit_type(self, info: ValidationInfo) -> Metric:
        self._precomputed = bool((info.context or {}).get("precomputed"))
        if self.on_events:
            return self._event_fields()
        if self.covariate == PRE_PERIOD:
            raise ValueError("covariate: pre_period is for event-table metrics (give event:)")
        if self.type == "ratio":
            if self.column is not None:
                raise ValueError(
                    "a ratio metric takes numerator and denominator, not column; "
                    "use type: mean for a per-unit value"
                )
            missing = [k for k in ("numerator", "denominator") if getattr(self, k) is None]
            if missing and not self._precomputed:
                raise ValueError(f"a ratio metric needs {' and '.join(missing)} (column names)")
            if self.covariate is not None:
                raise ValueError(
                    "covariate (CUPED) is supported for mean and proportion metrics, "
                    "not ratio metrics; remove it"
                )
        else:
            if self.column is None and not self._precomputed:
                raise ValueError(f"a {self.type} metric needs column: the data column to analyse")
            extra = [k for k in ("numerator", "denominator") if getattr(self, k) is not None]
            if extra:
                raise ValueError(
                    f"{' and '.join(extra)} belong to ratio metrics; use column for a {self.type}"
                )
        if self.margin is not None and self.role != "guardrail":
            raise ValueError(
                "margin (non-inferiority) applies to guardrail metrics; set role: guardrail"
            )
        if (
            self.margin is not None
            and self.margin * (1 if self.direction == "increase" else -1) > 0
        ):
            raise ValueError(
                f"margin {self.margin} must point in the bad direction "
                f"({'negative' if self.direction == 'increase' else 'positive'} for a metric "
                f"whose good direction is {self.direction})"
            )
        if self.bootstrap is not None or self.rank_test:
            if self.type == "ratio":
                raise ValueError("bootstrap and rank_test apply to mean and proportion metrics")
        if self.type == "proportion" and self.baseline is not None and not 0 < self.baseline < 1:
            raise ValueError(f"baseline {self.baseline} is a rate and must lie between 0 and 1")
        return self

    @property
    def on_events(self) -> bool:
        """Whether the metric is defined over an event table (``event`` or event ratio)."""
        return (
            self.event is not None
            or isinstance(self.numerator, EventAgg)
            or isinstance(self.denominator, EventAgg)
        )

    def _event_fields(self) -> Metric:
        if self.column is not None:
            raise ValueError("an event metric takes event:, not column:")
        if self.type == "ratio":
            if self.event is not None:
                raise ValueError(
                    "a ratio metric takes numerator: and denominator: {event, aggregate}"
                )
            if not (
                isinstance(self.numerator, EventAgg) and isinstance(self.denominator, EventAgg)
            ):
                raise ValueError(
                    "an event ratio needs numerator: {event: ..., aggregate: ...} and "
                    "denominator: {event: ..., aggregate: ...}"
                )
            if self.covariate is not None:
                raise ValueError("covariate (CUPED) is not supported for ratio metrics; remove it")
        else:
            if self.numerator is not None or self.denominator is not None:
                raise ValueError(
                    f"numerator and denominator belong to ratio metrics, not {self.type}"
                )
            if self.covariate is not None and self.covariate != PRE_PERIOD:
                raise ValueError(
                    f"covariate '{self.covariate}' is not available on event tables; "
                    "use covariate: pre_period"
                )
            agg = self.event_aggregate
            if self.type == "proportion" and agg not in ("any", "repeat"):
                raise ValueError(
                    f"a proportion counts units with the event (aggregate: any, or repeat for "
                    f"two or more), not {agg}; use type: mean for counts and sums"
                )
        return self

    @property
    def event_aggregate(self) -> str:
        """``aggregate`` with its default: ``any`` for proportions, ``sum`` for means."""
        if self.aggregate is not None:
            return self.aggregate
        return "any" if self.type == "proportion" else "sum"

    @property
    def columns(self) -> list[str]:
        """The data columns this metric reads."""
        cols = [self.column, self.numerator, self.denominator, self.covariate]
        return [c for c in cols if isinstance(c, str)]


class DataSpec(_Strict):
    """Where the data lives: a unit table, or exposure and event tables.

    Unit table: ``units`` is a CSV or Parquet file (or glob) with one row per unit, or a
    table name in ``engine``.
    ``timestamp``: the column holding each unit's (first) exposure time; with it, liftlab
    computes daily cumulative statistics (per variant × day, in the same query) for the
    sequential view and traffic charts. Days are calendar days of that column.

    Event tables: ``exposures`` (unit, variant, exposed_at, segment columns) and ``events``
    (unit, event, ts, value), each a table name in ``engine`` or a CSV/Parquet path or glob.
    ``engine`` is an Ibis connection URL (``duckdb://data/shop.duckdb``, relative to the
    project root; omitted: in-memory DuckDB over files). ``columns`` renames the roles
    unit, variant, exposed_at, event, ts and value (the unit column defaults to the plan's
    ``unit``). ``segments`` names exposure (or unit-table) columns to break results down by.

    Ad-platform exports (:mod:`liftlab.exports`): ``aggregates`` is a CSV/Parquet export (or a
    table in ``engine``) with one row per ad (usually per day): impressions, clicks, spend,
    conversions, conversion value. ``preset`` (``meta``, ``google_ads``, ``tiktok``) maps the
    platform's column headers to roles; ``columns`` maps (or overrides) any role: ``arm``
    (required: the column whose values are the plan's variants; a role name such as
    ``campaign``, ``ad_set`` or ``ad``, or a column name), ``date``, ``campaign``, ``ad_set``,
    ``ad``, ``impressions``, ``clicks``, ``spend``, ``conversions``, ``value``, ``units`` (the
    randomised units, for the sample-ratio check under ``randomization: unit``) and any other
    numeric column under a name of your choosing. Metrics name roles (``numerator: clicks``).
    ``cluster``: the independent unit of the variance, a role or column (default: the ``ad``
    when the arm groups several ads, else each row of the export; ``row`` for the rows).
    """

    units: str | None = None
    aggregates: str | None = None
    preset: Literal["meta", "google_ads", "tiktok"] | None = None
    cluster: str | None = None
    statistics: str | None = None
    variant_column: str = "variant"
    timestamp: str | None = None
    engine: str | None = None
    exposures: str | None = None
    events: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    segments: list[str] = Field(default_factory=list)

    def _known_roles(self) -> None:
        for role in self.columns:
            if role not in COLUMN_ROLES:
                raise ValueError(
                    f"columns: unknown role '{role}'{did_you_mean(role, COLUMN_ROLES)}; "
                    f"columns renames {', '.join(COLUMN_ROLES)}"
                )

    def _export_shape(self) -> DataSpec:
        """``aggregates:`` (an ad-platform export) stands alone, and names its arm column."""
        others = [
            k
            for k in ("units", "statistics", "exposures", "events")
            if getattr(self, k) is not None
        ]
        if others:
            raise ValueError(f"give either aggregates: (an export) or {others[0]}:, not both")
        spec = str(self.aggregates)
        if self.engine is None and not spec.lower().endswith(FILE_SUFFIXES):
            raise ValueError(
                f"aggregates: '{spec}' must be a .csv or .parquet file (or a glob of them), "
                "or a table name with engine:"
            )
        if "arm" not in self.columns:
            raise ValueError(
                "columns.arm: say which column holds the arms compared (the plan's variants): "
                "a role (campaign, ad_set, ad) or a column name, e.g. columns: {arm: campaign}"
            )
        for role, col in self.columns.items():
            if not isinstance(col, str) or not col:
                raise ValueError(f"columns.{role}: give a column name")
        if self.timestamp is not None:
            raise ValueError(
                "timestamp: for an export, name the day column as columns: {date: ...}"
            )
        return self

    @model_validator(mode="after")
    def _one_shape(self) -> DataSpec:
        if self.aggregates is not None:
            return self._export_shape()
        if self.preset is not None or self.cluster is not None:
            field = "preset" if self.preset is not None else "cluster"
            raise ValueError(f"{field}: belongs to an ad-platform export (data.aggregates)")
        self._known_roles()
        events = self.exposures is not None or self.events is not None
        if self.statistics is not None:
            if events or self.units is not None:
                raise ValueError("give one of units:, statistics:, or exposures: and events:")
            if not self.statistics.lower().endswith(FILE_SUFFIXES):
                raise ValueError(f"'{self.statistics}' must be a .csv or .parquet file")
            return self
        if self.units is not None and self.engine is None:
            if not self.units.lower().endswith(FILE_SUFFIXES):
                raise ValueError(
                    f"units: '{self.units}' must be a .csv or .parquet file (or a glob of "
                    "them), or a table name with engine: (e.g. postgres://host/db)"
                )
        if events and self.units is not None:
            raise ValueError(
                "give either units: (a unit table) or exposures: and events:, not both"
            )
        if not events and self.units is None:
            raise ValueError(
                "say where the data is: units: data/x.parquet, or exposures: and events:"
            )
        if events and (self.exposures is None or self.events is None):
            missing = "events" if self.events is None else "exposures"
            raise ValueError(
                f"event tables need both exposures: and events: ({missing} is missing)"
            )
        if self.engine is None and events:
            for name in (self.exposures, self.events):
                if not str(name).lower().endswith(FILE_SUFFIXES):
                    raise ValueError(
                        f"'{name}' is a table name, which needs engine: (e.g. "
                        "duckdb://data/shop.duckdb); or give a .csv/.parquet path"
                    )
        return self

    @property
    def on_events(self) -> bool:
        return self.exposures is not None

    @property
    def on_aggregates(self) -> bool:
        """Whether the data is an ad-platform export (``aggregates:``)."""
        return self.aggregates is not None

    def column(self, role: str, default: str | None = None) -> str:
        """The column playing ``role`` in the event tables."""
        return self.columns.get(role, default or role)


FILE_SUFFIXES = (".csv", ".parquet", ".pq", ".csv.gz")


class BayesianSpec(_Strict):
    """Bayesian analysis options (see :mod:`liftlab.stats.bayesian`).

    - Proportion metrics without a covariate: Beta-Binomial with prior Beta(``beta_prior``)
      on each arm's rate.
    - Every other metric: a Gaussian model of the effect (``effect``: relative (default) or
      absolute) with a flat prior, or a proper N(``prior_mean``, ``prior_sd``²) prior when
      ``prior_sd`` is given (on the effect's scale: e.g. ``prior_sd: 0.1`` is ±10% relative).
    - ``ship_threshold``: the chance to beat control a primary metric needs for ``ship``
      (and ``1 − ship_threshold`` for ``do_not_ship``).
    - ``draws``/``seed``: the seeded Monte Carlo for credible intervals of lifts and for the
      probability that each arm is best.
    """

    beta_prior: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = (1.0, 1.0)
    effect: Literal["relative", "absolute"] = "relative"
    prior_mean: float = 0.0
    prior_sd: Annotated[float, Field(gt=0)] | None = None
    ship_threshold: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    draws: Annotated[int, Field(ge=1_000, le=10_000_000)] = 200_000
    seed: int = 20261125


class SequentialSpec(_Strict):
    """Sequential analysis options (see :mod:`liftlab.stats.sequential`).

    - ``msprt`` (default): always-valid p-values and confidence sequences of the mixture
      sequential probability ratio test; ``tau`` is the mixing standard deviation in the
      metric's units (default: the plan's MDE in absolute units at the control mean).
    - ``asymptotic-cs``: the asymptotic confidence sequence with the Robbins normal mixture,
      tuned to be tightest at ``planned_n`` units per arm.
    - ``group-sequential``: ``looks`` planned equally spaced looks up to ``planned_n`` units per
      arm, with Lan–DeMets ``spending`` (``obrien-fleming`` or ``pocock``).

    ``planned_n`` defaults to the sample size from the plan's design (its ``baseline``, or the
    control arm's observed mean and variance when the plan gives none).
    """

    kind: Literal["msprt", "asymptotic-cs", "group-sequential"] = "msprt"
    tau: Annotated[float, Field(gt=0)] | None = None
    spending: Literal["obrien-fleming", "pocock"] = "obrien-fleming"
    looks: Annotated[int, Field(ge=1, le=50)] = 5
    planned_n: Annotated[int, Field(ge=2)] | None = None


class Analysis(_Strict):
    """Analysis settings; see :mod:`liftlab.stats` for what each name means."""

    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    power: Annotated[float, Field(gt=0, lt=1)] = 0.8
    mde: Annotated[float, Field(gt=0)] = 0.05
    mde_type: Literal["relative", "absolute"] = "relative"
    correction: Correction = "holm"
    method: Method = "frequentist"
    srm_alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.001
    relative_interval: RelativeInterval = "log-delta"
    sample_size: Literal["unpooled", "pooled", "arcsine"] = "unpooled"
    bayesian: BayesianSpec = BayesianSpec()
    sequential: SequentialSpec = SequentialSpec()


@dataclass(frozen=True)
class DataNeeds:
    """What a plan's kind needs from the data beyond its metrics' own sums, declared by the
    kind's options (:meth:`Plan.data_needs`), so that the data layer (:mod:`liftlab.aggregate`,
    :mod:`liftlab.events`) compiles it with every other sum without knowing any kind.

    - ``cross_products``: products of two metrics' per-unit values to sum per variant; each
      side is ``"<metric>.y"`` (value or numerator) or ``"<metric>.x"`` (denominator or
      covariate).
    - ``funnel``: steps from the top (0/1 columns of a unit table, or event names), counted
      per variant as units that reached a step and every step before it; ``funnel_field``
      names the plan field that lists them (for messages), ``funnel_window_days`` the days
      after exposure a step's event counts within (event tables).
    """

    cross_products: tuple[tuple[str, str], ...] = ()
    funnel: tuple[str, ...] = ()
    funnel_field: str = ""
    funnel_window_days: float = 0.0


class PricingOptions(_Strict):
    """``kind: pricing``: which metrics are the purchase flag and the revenue per visitor.

    ``conversion`` names a proportion metric (bought or not), ``revenue`` a mean metric
    (revenue per visitor, zero for non-buyers; revenue comes from buyers only). Each variant
    has a ``price`` and optionally a ``unit_cost`` (the same for every arm). ``link`` is the
    demand curve's link (``logit`` or ``log``); ``draws`` and ``seed`` drive the parametric
    bootstrap of the optimal price.
    """

    conversion: str
    revenue: str
    link: Literal["logit", "log"] = "logit"
    draws: Annotated[int, Field(ge=200, le=100_000)] = 2000
    seed: int = 20261125

    def needs(self) -> DataNeeds:
        """Nothing beyond the metrics' sums: the demand curve is fitted to the arms'
        conversion and revenue moments."""
        return DataNeeds()


class CreativeOptions(_Strict):
    """``kind: creative``: the click-through metric and what the tournament optimises.

    ``ctr`` names a ratio metric (clicks / impressions per user); ``conversion`` optionally a
    metric counting conversions per user (for conversion per click and per impression, cost
    per acquisition and, with ``revenue``, return on ad spend when variants give ``spend``).
    ``floor`` is the least budget share any creative keeps; ``next_impressions`` the size of
    the next period simulated for the allocation (default: this test's impressions);
    ``fatigue`` adds CTR by days since a user's first impression (event tables).
    ``prior`` ranks the creatives on the campaign's empirical-Bayes posterior (``campaign``)
    or on each creative's own data (``flat``); ``top_k`` is the k of "chance of being in the
    top k"; ``show`` how many creatives the report's tables and charts list (the rest are
    counted and summed in one row); ``groups`` maps a group name (e.g. a creative concept)
    to its creatives, reported as summed arms; ``group_by`` (on an ad-platform export) reads
    that partition from a column instead: a role such as ``campaign`` or ``ad_set``, or a
    column name (e.g. a "Concept" column), each ad's group being its one value there (an ad
    with two values, or none, is an error: group by a column that holds one per ad).
    ``floor`` defaults to 1% or a tenth of an equal share, whichever is smaller.
    """

    @model_validator(mode="after")
    def _one_partition(self) -> CreativeOptions:
        if self.groups is not None and self.group_by is not None:
            raise ValueError(
                "creative: give groups (named lists of ads) or group_by (a column), not both"
            )
        return self

    ctr: str
    conversion: str | None = None
    revenue: str | None = None
    floor: Annotated[float, Field(ge=0, lt=0.5)] | None = None
    prior: Literal["campaign", "flat"] = "campaign"
    top_k: Annotated[int, Field(ge=1, le=100)] = 3
    show: Annotated[int, Field(ge=1, le=100)] = 15
    groups: dict[str, list[str]] | None = None
    group_by: str | None = None
    next_impressions: Annotated[int, Field(gt=0)] | None = None
    fatigue: bool = True
    fatigue_days: Annotated[int, Field(ge=2, le=60)] = 7
    draws: Annotated[int, Field(ge=1000, le=1_000_000)] = 20_000
    seed: int = 20261125

    def needs(self) -> DataNeeds:
        """With a conversion metric: conversions × clicks and conversions × impressions per
        unit, for the delta-method intervals of conversion per click and per impression."""
        if self.conversion is None:
            return DataNeeds()
        conv = f"{self.conversion}.y"
        return DataNeeds(cross_products=((conv, f"{self.ctr}.y"), (conv, f"{self.ctr}.x")))


class LandingOptions(_Strict):
    """``kind: landing_page``: the funnel, segment breakdown and novelty check.

    ``funnel`` lists the steps from the top (event names on event tables, 0/1 columns on a
    unit table); a unit reaches a step when it has that step's event within
    ``funnel_window_days`` of exposure and has reached every earlier step. ``segments``
    breaks every primary metric down by the plan's ``data.segments``; ``novelty`` compares
    the effect among units exposed before ``novelty_cut`` (default: halfway through the test's
    days) with those exposed after.
    """

    funnel: list[str] = Field(default_factory=list)
    funnel_window_days: Annotated[float, Field(gt=0)] = 7.0
    segments: bool = True
    novelty: bool = True
    novelty_cut: dt.date | None = None

    def needs(self) -> DataNeeds:
        """The funnel's steps, counted per variant (within ``funnel_window_days`` of
        exposure on event tables)."""
        return DataNeeds(
            funnel=tuple(self.funnel),
            funnel_field="landing_page.funnel",
            funnel_window_days=self.funnel_window_days,
        )

    @field_validator("funnel")
    @classmethod
    def _steps(cls, v: list[str]) -> list[str]:
        if len(v) == 1:
            raise ValueError("a funnel needs at least two steps, e.g. [signup, purchase]")
        if len(set(v)) != len(v):
            raise ValueError("each funnel step appears once")
        return v


class DesignSpec(_Strict):
    """Traffic assumptions for sample-size design, and a size fixed by the team.

    ``daily_units``: units entering the test per day (all variants), for durations.
    ``n_per_variant``: the planned units per variant when the team fixed the size itself;
    without it the planned size follows from the primary metrics' ``baseline`` and
    ``analysis.mde`` (see :mod:`liftlab.progress`).
    """

    daily_units: Annotated[float, Field(gt=0)] | None = None
    n_per_variant: Annotated[int, Field(ge=2)] | None = None

    @model_validator(mode="after")
    def _something(self) -> DesignSpec:
        if self.daily_units is None and self.n_per_variant is None:
            raise ValueError("give daily_units (traffic per day) or n_per_variant (a fixed size)")
        return self


class Plan(_Strict):
    """A validated experiment plan. Build one with :func:`load_plan`."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)]
    kind: Kind = "general"
    hypothesis: Annotated[str, Field(min_length=1)]
    unit: str = "unit"
    owner: str | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    control: str | None = None
    variants: dict[str, Variant] = Field(default_factory=dict)
    data: DataSpec
    randomization: Randomization = "unit"
    metrics: Annotated[list[Metric], Field(min_length=1)]
    analysis: Analysis = Analysis()
    design: DesignSpec | None = None
    pricing: PricingOptions | None = None
    creative: CreativeOptions | None = None
    landing_page: LandingOptions | None = None

    _path: Path | None = PrivateAttr(default=None)
    _root: Path = PrivateAttr(default_factory=Path.cwd)
    _sha256: str | None = PrivateAttr(default=None)

    @field_validator("variants")
    @classmethod
    def _variants(cls, v: dict[str, Variant]) -> dict[str, Variant]:
        if not v:
            return v  # read from an export's arm column (checked in _arms_from_data)
        if len(v) < 2:
            raise ValueError("a test needs at least two variants (a control and a treatment)")
        given = [x.weight for x in v.values() if x.weight is not None]
        if given and len(given) != len(v):
            raise ValueError("give every variant a weight, or none (equal weights)")
        if given:
            total = sum(given)
            if abs(total - 1) > WEIGHT_TOLERANCE:
                raise ValueError(f"weights sum to {total:.6g}, they must sum to 1")
        return v

    @model_validator(mode="before")
    @classmethod
    def _variant_names_as_text(cls, data: Any) -> Any:
        """Variant names are text: ``916`` or ``True`` given in Python become ``"916"`` and
        ``"True"`` (a plan file keeps the spelling as written, see :class:`_PlanLoader`);
        ``variants: from_data`` is kept as no variants (read from the export)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("variants") == FROM_DATA:
            data["variants"] = {}
        if isinstance(data.get("variants"), dict):
            data["variants"] = {_as_text(k): v for k, v in data["variants"].items()}
        if "control" in data:
            data["control"] = _as_text(data["control"])
        return data

    @model_validator(mode="before")
    @classmethod
    def _funnel_shorthand(cls, data: Any) -> Any:
        """``funnel: [...]`` at the top level is short for ``landing_page: {funnel: [...]}``."""
        if isinstance(data, dict) and "funnel" in data:
            data = dict(data)
            funnel = data.pop("funnel")
            block = data.get("landing_page")
            block = dict(block) if isinstance(block, dict) else {}
            if "funnel" in block:
                raise ValueError("give the funnel once: at the top level or in landing_page")
            data["landing_page"] = {**block, "funnel": funnel}
        return data

    def _kind_options(self) -> None:
        """Each kind's options block belongs to that kind and names metrics of the right type."""
        blocks = {
            "pricing": self.pricing,
            "creative": self.creative,
            "landing_page": self.landing_page,
        }
        for kind, block in blocks.items():
            if block is not None and self.kind != kind:
                raise ValueError(
                    f"{kind}: options for kind {kind}, but this plan is kind {self.kind}"
                )
        types = {m.name: m.type for m in self.metrics}

        def need(field: str, name: str | None, allowed: tuple[str, ...]) -> None:
            if name is None:
                return
            if name not in types:
                raise ValueError(
                    f"{field}: '{name}' is not a metric of this plan{did_you_mean(name, types)}"
                )
            if types[name] not in allowed:
                raise ValueError(
                    f"{field}: '{name}' is a {types[name]} metric; it must be {' or '.join(allowed)}"
                )

        if self.pricing is not None:
            need("pricing.conversion", self.pricing.conversion, ("proportion",))
            need("pricing.revenue", self.pricing.revenue, ("mean",))
            missing = [v for v, x in self.variants.items() if x.price is None]
            if missing:
                raise ValueError(
                    f"variants.{missing[0]}: kind pricing needs a price on every variant "
                    "(e.g. price: 19)"
                )
            costs = {x.unit_cost for x in self.variants.values() if x.unit_cost is not None}
            if len(costs) > 1:
                raise ValueError("variants: give every variant the same unit_cost (or none)")
        if self.creative is not None:
            need("creative.ctr", self.creative.ctr, ("ratio",))
            need("creative.conversion", self.creative.conversion, ("proportion", "mean"))
            need("creative.revenue", self.creative.revenue, ("mean",))
            self._creative_limits(self.creative)

    def _creative_limits(self, opts: CreativeOptions) -> None:
        """At most 5,000 creatives: the analysis draws 3 × draws × creatives normals (3·10⁸,
        about 20 s and 400 MB, at 5,000 and the default 20,000 draws; 2 s at 600); a floor
        that fits; groups of known creatives, each in one group."""
        k = len(self.variants)
        if k > 5000:
            raise ValueError(
                f"variants: a creative tournament takes at most 5000 creatives, got {k}"
            )
        if opts.floor is not None and opts.floor * k > 1:
            raise ValueError(
                f"creative.floor: {opts.floor} × {k} creatives exceeds 1; use at most {1 / k:.4g}"
            )
        if opts.group_by is not None and not self.data.on_aggregates:
            raise ValueError(
                "creative.group_by reads each ad's group from an ad-platform export "
                "(data.aggregates); on other data list them under creative.groups"
            )
        seen: dict[str, str] = {}
        for group, members in (opts.groups or {}).items():
            if not members:
                raise ValueError(f"creative.groups.{group}: list at least one creative")
            for name in members:
                if self.variants and name not in self.variants:
                    raise ValueError(
                        f"creative.groups.{group}: {name!r} is not a variant of the plan"
                        f"{did_you_mean(name, self.variants)}"
                    )
                if name in seen:
                    raise ValueError(
                        f"creative.groups: {name!r} is in both {seen[name]} and {group}"
                    )
                seen[name] = group

    @model_validator(mode="after")
    def _cross_fields(self) -> Plan:
        self._arms_from_data()
        self._kind_options()
        if self.control is not None and self.variants and self.control not in self.variants:
            raise ValueError(
                f"control: '{self.control}' is not one of the variants "
                f"({', '.join(self.variants)}){did_you_mean(self.control, self.variants)}"
            )
        names = [m.name for m in self.metrics]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"metrics: name '{dupes[0]}' is used twice; metric names are unique")
        if (
            self.analysis.method == "sequential"
            and self.data.timestamp is None
            and not self.data.on_events
            and not self.data.on_aggregates
        ):
            raise ValueError(
                "data.timestamp: method sequential needs the exposure-time column "
                "(data: {timestamp: exposed_at}) for its daily looks"
            )
        for i, m in enumerate(self.metrics):
            if self.data.statistics is not None:
                if m.on_events or m.bootstrap is not None or m.rank_test:
                    raise ValueError(
                        f"metrics[{i}]: with data.statistics (precomputed sums) a metric takes "
                        "no event, bootstrap or rank_test: those need unit rows"
                    )
                continue
            if m.on_events != self.data.on_events:
                shape = (
                    "event tables (data.exposures/events)"
                    if self.data.on_events
                    else "a unit table (data.units)"
                )
                need = (
                    "event: (or numerator/denominator {event, aggregate})"
                    if self.data.on_events
                    else "column: (or numerator/denominator column names)"
                )
                raise ValueError(
                    f"metrics[{i}]: the data is {shape}; define the metric with {need}"
                )
        self._randomization()
        if not any(m.role == "primary" for m in self.metrics):
            raise ValueError(
                "metrics: no metric has role: primary; mark the decision metric role: primary"
            )
        return self

    def _arms_from_data(self) -> None:
        """No ``variants:`` only on an export, and then ``control:`` names the control arm."""
        if self.variants:
            return
        if not self.data.on_aggregates:
            raise ValueError(
                "variants: list the arms (at least two, e.g. variants: {control: {}, new: {}}); "
                f"only an ad-platform export (data.aggregates) can read them from its data "
                f"(variants: {FROM_DATA})"
            )
        if self.control is None:
            raise ValueError(
                "control: name the control arm (a value of the export's arm column, e.g. "
                "control: Static 01); with the arms read from the data none is listed first"
            )

    def _randomization(self) -> None:
        """What the sample-ratio check counts must be in the data."""
        d = self.data
        if self.randomization == "impression" and not d.on_aggregates:
            raise ValueError(
                "randomization: impression needs an ad-platform export (data.aggregates) with "
                "impressions per row; on unit or event tables use unit or none"
            )
        if self.randomization == "unit" and d.on_aggregates and "units" not in d.columns:
            raise ValueError(
                "randomization: an export (data.aggregates) has no randomised units to check "
                "the split on: declare randomization: none (the platform's delivery chose who "
                "saw which ad) or impression (impressions split at random by the weights), or "
                "name the units per row with columns: {units: ...}"
            )
        if d.on_aggregates and self.analysis.method == "sequential" and d.cluster is not None:
            raise ValueError(
                "data.cluster: sequential looks need the export's days; with cluster: the rows "
                "of an ad are added up over days (remove cluster: or use another method)"
            )

    # ----- derived values -------------------------------------------------------------------
    @property
    def arms_from_data(self) -> bool:
        """Whether the arms are still to be read from the export (:data:`FROM_DATA`)."""
        return not self.variants

    @property
    def data_needs(self) -> DataNeeds:
        """What the plan's kind needs from the data beyond the metrics' sums (its options'
        :class:`DataNeeds`; none for ``general``)."""
        opts: PricingOptions | CreativeOptions | LandingOptions | None = {
            "pricing": self.pricing,
            "creative": self.creative,
            "landing_page": self.landing_page,
        }.get(self.kind)
        return opts.needs() if opts is not None else DataNeeds()

    @property
    def control_name(self) -> str:
        """The control variant: ``control:`` if given, else the first variant listed."""
        return self.control or next(iter(self.variants))

    @property
    def treatments(self) -> list[str]:
        return [v for v in self.variants if v != self.control_name]

    @property
    def weights(self) -> dict[str, float]:
        """Planned traffic shares; equal when the plan gives no weights. A plan whose arms
        are still to be read from its export (:data:`FROM_DATA`) has none yet: PlanError
        (:func:`liftlab.exports.resolve_plan` reads them)."""
        if not self.variants:
            raise PlanError(
                f"the arms are read from the export only when the plan is analysed "
                f"(variants: {FROM_DATA}); list them under variants: to design the test",
                source=self.source,
                field="variants",
            )
        if all(v.weight is None for v in self.variants.values()):
            return {k: 1 / len(self.variants) for k in self.variants}
        return {k: float(v.weight) for k, v in self.variants.items()}  # type: ignore[arg-type]

    @property
    def primary_metrics(self) -> list[Metric]:
        return [m for m in self.metrics if m.role == "primary"]

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def root(self) -> Path:
        return self._root

    @property
    def sha256(self) -> str | None:
        """SHA-256 of the plan file's bytes (None for a plan built in Python)."""
        return self._sha256

    @property
    def source(self) -> str:
        """How errors name this plan: its path as given, or ``<plan>``."""
        return str(self._path) if self._path is not None else "<plan>"

    def resolve(self, path: str | Path) -> Path:
        """Resolve a path written in the plan against the project root."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self._root / p

    def with_(
        self,
        *,
        metrics: list[str] | None = None,
        primary: str | list[str] | None = None,
        **changes: Any,
    ) -> Plan:
        """A copy of this plan with some settings changed, validated like a plan file.

        For trying another method, correction or metric without editing the YAML::

            plan.with_(method="bayesian")
            plan.with_(correction="none", alpha=0.1)
            plan.with_(primary="revenue_per_visitor")      # the decision metric
            plan.with_(metrics=["signup_rate", "bounce_rate"])
            plan.with_(analysis={"bayesian": {"ship_threshold": 0.9}})

        - a field of ``analysis:`` (``alpha``, ``power``, ``mde``, ``mde_type``,
          ``correction``, ``method``, ``srm_alpha``, ``relative_interval``, ``sample_size``)
          or of ``design:`` (``daily_units``, ``n_per_variant``) can be given by its name;
        - any top-level field by its name (``analysis=``, ``data=``, ``variants=``...): a
          mapping is merged into the plan's (recursively), anything else replaces it;
        - ``metrics``: keep only these metrics, in this order;
        - ``primary``: these metrics become the primary ones; the plan's other primary
          metrics become secondary.

        The copy keeps the plan's path and project root (relative paths still resolve) but
        not its file's SHA-256: it is no longer the plan on disk, and ``sha256`` is ``None``.
        Raises :class:`PlanError` naming the field, as :func:`parse_plan` does.
        """
        raw = self.model_dump(mode="json", exclude_unset=True, by_alias=True)
        analysis_keys = set(Analysis.model_fields)
        design_keys = set(DesignSpec.model_fields)
        for key, value in changes.items():
            if key in Plan.model_fields:
                old = raw.get(key)
                raw[key] = (
                    _merged(old, value)
                    if isinstance(old, dict) and isinstance(value, dict)
                    else value
                )
            elif key in analysis_keys:
                raw.setdefault("analysis", {})[key] = value
            elif key in design_keys:
                raw["design"] = {**(raw.get("design") or {}), key: value}
            else:
                known = sorted({*Plan.model_fields, *analysis_keys, *design_keys})
                raise PlanError(
                    f"with_: '{key}' is not a plan setting{did_you_mean(key, known)}",
                    source=self.source,
                )
        by_name = {m["name"]: m for m in raw["metrics"]}
        if metrics is not None:
            for name in metrics:
                if name not in by_name:
                    raise PlanError(
                        f"with_: metrics names '{name}', which is not a metric of the plan"
                        f"{did_you_mean(name, by_name)}",
                        source=self.source,
                    )
            raw["metrics"] = [by_name[n] for n in metrics]
        if primary is not None:
            chosen = [primary] if isinstance(primary, str) else list(primary)
            present = {m["name"] for m in raw["metrics"]}
            for name in chosen:
                if name not in present:
                    raise PlanError(
                        f"with_: primary names '{name}', which is not a metric of the plan"
                        f"{did_you_mean(name, present)}",
                        source=self.source,
                    )
            for m in raw["metrics"]:
                if m["name"] in chosen:
                    m["role"] = "primary"
                elif m.get("role") == "primary":
                    m["role"] = "secondary"
        plan = parse_plan(raw, source=self.source)
        return plan.with_source(self._path, self._root, None)

    def with_source(self, path: Path | None, root: Path, sha256: str | None = None) -> Plan:
        """Attach where the plan came from (used by :func:`load_plan`)."""
        self._path, self._root, self._sha256 = path, root, sha256
        return self


def _as_text(value: Any) -> Any:
    """A variant name given as a number or a boolean, as text (other values unchanged)."""
    return str(value) if isinstance(value, bool | int | float) else value


def project_root(plan_path: Path) -> Path:
    """The folder holding the ``experiments/`` folder the plan is in, else the plan's folder."""
    folder = plan_path.resolve().parent
    for parent in [folder, *folder.parents]:
        if parent.name == "experiments":
            return parent.parent
    return folder


# Bounds on a plan's YAML, counted with aliases expanded but before anything is built (the
# count is linear in the file's nodes), so an alias bomb, which would expand to billions of
# values in validation and in the error message, is refused at once. A plan is a few hundred
# values, nested a few levels deep, except the largest legitimate one: a creative tournament
# of 5,000 ads (its limit, see Plan._creative_limits), each typed with a description and
# listed in creative.groups, is about 25,000 values. The bound is twice that; a file at the
# bound builds in about 2.5 s, and a shorter plan reads its ads from the export instead
# (variants: from_data) and stays small.
MAX_YAML_VALUES = 50_000
MAX_YAML_DEPTH = 40
MAX_QUOTED = 80  # characters of a value quoted in an error message


class _Refused(yaml.YAMLError):
    """A plan's YAML that is refused: ``text`` is the message, ``field`` where it is."""

    def __init__(self, text: str, field: str | None = None) -> None:
        super().__init__(text)
        self.text, self.field = text, field


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


# Scalars YAML reads as numbers or booleans; a variant's name keeps them as written.
_TEXT_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool"))


class _PlanLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing what a plan never needs: a duplicate key in a mapping,
    aliases that expand to more than :data:`MAX_YAML_VALUES` values or refer to themselves,
    and nesting deeper than :data:`MAX_YAML_DEPTH`."""

    def __init__(self, stream: bytes) -> None:
        super().__init__(stream)
        self._depth = 0
        self._node: yaml.Node | None = None
        self._fields: dict[int, str] = {}  # id of each mapping node -> its field path
        self._names: set[int] = set()  # ids of the scalars that name a variant

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark
                raise _Refused(
                    f"line {mark.line + 1}: values nested more than {MAX_YAML_DEPTH} levels "
                    "deep; a plan needs a few levels, fix the brackets or indentation"
                )
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        self._node = node  # the value being read, for a message when it cannot be
        if id(node) in self._names and node.tag in _TEXT_TAGS:
            return node.value  # a variant named 916, yes or 1.5: its name as written
        return super().construct_object(node, deep=deep)

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        self._measure(node)
        return self.construct_document(node)

    def _measure(self, root: yaml.Node) -> None:
        """Count the values ``root`` expands to (aliases included) and record each mapping's
        field path; refuse a loop of aliases and an expansion beyond the bound."""
        sizes: dict[int, int] = {}
        open_nodes: set[int] = set()

        def size(node: yaml.Node, field: str) -> int:
            key = id(node)
            if key in sizes:
                return sizes[key]
            if key in open_nodes:
                raise _Refused(
                    f"line {_line(node)}: a YAML alias (*name) refers to the value that holds "
                    "it; write the value out",
                    field or None,
                )
            open_nodes.add(key)
            total = 1
            if isinstance(node, yaml.MappingNode):
                self._fields.setdefault(key, field)
                for key_node, value_node in node.value:
                    name = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                    inner = f"{field}.{name}" if field else str(name)
                    if field == "variants":
                        self._names.add(id(key_node))
                    elif inner == "control":
                        self._names.add(id(value_node))
                    total += size(key_node, field) + size(value_node, inner)
            elif isinstance(node, yaml.SequenceNode):
                for i, item in enumerate(node.value):
                    total += size(item, f"{field}[{i}]")
            open_nodes.discard(key)
            if total > MAX_YAML_VALUES:
                shared = total > len(sizes) + len(open_nodes) + 1  # aliases repeat values
                raise _Refused(
                    f"line {_line(node)}: YAML aliases (*name) expand to more than "
                    f"{MAX_YAML_VALUES:,} values; write the plan without nested aliases"
                    if shared
                    else f"line {_line(node)}: more than {MAX_YAML_VALUES:,} values; check that "
                    f"the file is a plan (for an export's ads write variants: {FROM_DATA})",
                    field or None,
                )
            sizes[key] = total
            return total

        size(root, "")

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the safe loader reports it
            if first is not None:
                raise _Refused(
                    f"duplicate key '{_quote(key)}' (lines {first} and {_line(key_node)}); "
                    "keep one",
                    self._fields.get(id(node)) or None,
                )
            seen[key] = _line(key_node)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _quote(value: object) -> str:
    """A value as an error message quotes it: on one line, at most :data:`MAX_QUOTED` long."""
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 1] + "…"


class _Quoted:
    """A value (not a string) as a message shows it: its repr, cut by :func:`_quote`."""

    def __init__(self, value: object) -> None:
        self.text = _quote(repr(value))

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


_LONG_QUOTE = re.compile("'([^']{" + str(MAX_QUOTED + 1) + ",})'")  # a long quoted value


def _quoted(value: object) -> object:
    return _quote(value) if isinstance(value, str) else _Quoted(value)


def load_plan(path: str | Path, *, root: str | Path | None = None) -> Plan:
    """Read and validate a plan file; raise :class:`PlanError` with a one-line message."""
    path = Path(path)
    source = str(path)
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise PlanError("file not found; check the path", source=source) from None
    except IsADirectoryError:
        raise PlanError(
            "is a directory, not a plan; give a plan file such as experiments/<slug>.yaml",
            source=source,
        ) from None
    except OSError as exc:
        raise PlanError(f"cannot read the file ({exc.strerror})", source=source) from None
    try:
        raw = _load_yaml(raw_bytes)
    except _Refused as exc:
        raise PlanError(exc.text, source=source, field=exc.field) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = _quote(getattr(exc, "problem", None) or "invalid YAML")
        raise PlanError(
            f"{where}YAML syntax error ({problem}); fix the YAML", source=source
        ) from None
    if not isinstance(raw, dict):
        raise PlanError("a plan is a YAML mapping (name:, kind:, variants:, ...)", source=source)
    plan = parse_plan(raw, source=source)
    base = Path(root) if root is not None else project_root(path)
    return plan.with_source(path, base, hashlib.sha256(raw_bytes).hexdigest())


def _load_yaml(raw_bytes: bytes) -> Any:
    """The plan's YAML as Python values, by :class:`_PlanLoader`."""
    loader = _PlanLoader(raw_bytes)
    try:
        return loader.get_single_data()
    except RecursionError:
        raise _Refused(
            f"values nested too deep; a plan needs a few levels (at most {MAX_YAML_DEPTH})"
        ) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a date 2026-13-45
        node = loader._node
        where = f"line {_line(node)}: " if node is not None else ""
        value = f" '{_quote(node.value)}'" if isinstance(node, yaml.ScalarNode) else ""
        raise _Refused(
            f"{where}cannot read the value{value} ({_quote(str(exc))}); fix it or quote it"
        ) from None
    finally:
        loader.dispose()


def parse_plan(raw: dict[str, Any], *, source: str = "<plan>") -> Plan:
    """Validate a plan given as a mapping; raise :class:`PlanError` naming the first problem."""
    data = raw.get("data")
    precomputed = isinstance(data, dict) and data.get("statistics") is not None
    try:
        return Plan.model_validate(raw, context={"precomputed": precomputed})
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt key shows up twice: as an unknown key and as the required one it was
        # meant to be; the unknown key (with its "did you mean") is the one that helps.
        unknown = [e for e in errors if e["type"] == "extra_forbidden"]
        err = unknown[0] if unknown and any(e["type"] == "missing" for e in errors) else errors[0]
        if "input" in err:  # quoted in the message: one line, cut to MAX_QUOTED characters
            err = {**err, "input": _quoted(err["input"])}
        text = " ".join(_describe(err, raw).split())
        text = _LONG_QUOTE.sub(lambda m: f"'{_quote(m.group(1))}'", text)
        raise PlanError(text, source=source) from None


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_LIST_TAGS = {"function-after", "function-before", "function-wrap", "tagged-union"}


def _describe(err: Any, raw: dict[str, Any]) -> str:
    """Turn one pydantic error into ``field.path: what is wrong and how to fix it``."""
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.split("[")[0] in _LIST_TAGS))
    kind = err["type"]
    msg = str(err["msg"])
    # A union of a value and None (e.g. float | None) adds the member's name to the path.
    loc = tuple(p for p in loc if p not in ("float", "str", "constrained-float", "none"))
    field = _field_path(loc)
    value = err.get("input")
    if kind == "missing":
        text = f"is required; add {loc[-1]}: to the plan" if loc else "is required"
    elif kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        known = list(parent.model_fields) if parent is not None else []
        name = str(loc[-1])
        field = _field_path(loc[:-1])
        text = f"unknown field '{name}'{did_you_mean(name, known)}"
        if known:
            text += f"; allowed: {', '.join(known)}"
    elif kind == "literal_error":
        expected = msg.split("Input should be ", 1)[-1]
        text = f"'{value}' is not allowed; use {expected}"
        if isinstance(value, str):
            options = [o.strip(" '") for o in expected.replace(" or ", ",").split(",")]
            text += did_you_mean(value, options)
    elif kind == "string_pattern_mismatch":
        text = f"'{value}' must be lowercase letters, digits and " + (
            "dashes (a slug)" if loc and loc[-1] == "name" and len(loc) == 1 else "underscores"
        )
    elif kind in ("value_error", "assertion_error"):
        text = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    else:
        text = f"{msg[0].lower()}{msg[1:]} (got {value!r})" if msg else f"invalid value {value!r}"
    return f"{field}: {text}" if field else text


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that sits at ``loc`` inside a Plan."""
    model: type[BaseModel] = Plan
    skip_key = False
    for part in loc:
        if isinstance(part, int):
            continue
        if skip_key:  # a key of a mapping such as variants: {control: ...}
            skip_key = False
            continue
        info = model.model_fields.get(str(part))
        if info is None:
            return None
        found = _find_model(info.annotation)
        if found is None:
            return None
        skip_key = getattr(info.annotation, "__origin__", None) is dict
        model = found
    return model


def _find_model(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def _merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``old`` updated with ``new``, nested mappings merged rather than replaced."""
    out = dict(old)
    for key, value in new.items():
        prev = out.get(key)
        out[key] = (
            _merged(prev, value) if isinstance(prev, dict) and isinstance(value, dict) else value
        )
    return out
