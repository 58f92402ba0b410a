"""Metric definitions compiled to Ibis aggregations that return sufficient statistics.

For a unit table the engine runs two small queries and sends back a few numbers per group,
never the rows:

1. a *checks* query over all units: row count, distinct and null unit ids, null variants and
   timestamps, the quantile caps the plan asks for, and the p99 / p99.9 of every mean metric
   for the capping sensitivity table (all quantiles ``quantile_cont``, pooled over variants,
   of the non-zero values unless the cap says ``among: all``; see :class:`~liftlab.plan.Cap`);
2. the *statistics* query, grouped by variant (and by UTC day of ``data.timestamp`` when the
   plan names one): for each metric the count and the sums of ``y``, ``y²``, ``x``, ``x²`` and
   ``x·y`` (``y`` the value or numerator, ``x`` the denominator or covariate) after capping,
   the same sums under no cap / p99 / p99.9 for mean metrics, plus null counts and the
   min/max of 0/1 columns for validation.

Per-variant totals are the sums of the per-day groups (:class:`Moments` add exactly), so the
daily cumulative series for sequential monitoring costs no extra query. Only resampling
methods (bootstrap, rank tests) read unit-level values, through :func:`metric_values`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir
import numpy as np

from liftlab.errors import DataError, did_you_mean
from liftlab.plan import Metric, Plan
from liftlab.sources import UnitSource, rows_are_units
from liftlab.stats.moments import Moments

SENSITIVITY_LEVELS: tuple[tuple[str, float | None], ...] = (
    ("no cap", None),
    ("p99", 0.99),
    ("p99.9", 0.999),
)


@dataclass(frozen=True)
class Layout:
    """Which columns of a unit-level table play which part.

    For a unit-table plan, the plan's own names (:meth:`of`); for event tables, the columns
    :mod:`liftlab.events` derives in the engine (``derived``: the plan names no columns of
    this table, so value checks name the metric rather than a column).
    """

    unit: str
    variant: str
    timestamp: str | None
    columns: dict[str, tuple[str, str | None]]
    derived: bool = False
    funnel: tuple[str, ...] = ()  # 0/1 columns, one per funnel step, top first

    @classmethod
    def of(cls, plan: Plan) -> Layout:
        lp = plan.landing_page
        return cls(
            unit=plan.unit,
            variant=plan.data.variant_column,
            timestamp=plan.data.timestamp,
            columns={m.name: _yx(m) for m in plan.metrics},
            funnel=tuple(lp.funnel) if lp is not None else (),
        )


@dataclass(frozen=True)
class UnitStats:
    """Sufficient statistics of a unit table.

    - ``counts``: units per variant.
    - ``moments``: per metric, per variant, after the plan's cap.
    - ``caps``: per metric, the cap applied to each column.
    - ``daily``: per metric, per variant, the per-day moments (not cumulative), in day order;
      empty when the plan has no ``data.timestamp``.
    - ``sensitivity``: per mean metric, per level ("no cap", "p99", "p99.9"), the cap values
      applied and the per-variant moments.
    - ``segment_counts``: per segment column, per segment value, units per variant (for SRM
      per segment), and ``segment_moments``: per segment column, value, metric and variant,
      the moments (after the cap), both from one grouped query by variant and every segment
      column (the levels of one column are sums over the others: exact).
    - ``funnel_counts``: per variant, ``[n, c_1, …, c_K]``: units exposed and units that
      reached each funnel step and every step before it (``Layout.funnel``).
    - ``cross_sums``: per ``"a*b"`` (sides ``metric.y`` / ``metric.x`` that a kind asks for,
      :func:`liftlab.kinds.cross_products`), per variant, the sum over units of the product
      of the two (capped) values: what a delta method across two metrics needs.
    """

    counts: dict[str, int]
    moments: dict[str, dict[str, Moments]]
    caps: dict[str, dict[str, float]] = field(default_factory=dict)
    days: list[dt.date] = field(default_factory=list)
    daily: dict[str, dict[str, list[Moments]]] = field(default_factory=dict)
    daily_counts: dict[str, list[int]] = field(default_factory=dict)
    sensitivity: dict[str, dict[str, tuple[dict[str, float], dict[str, Moments]]]] = field(
        default_factory=dict
    )
    segment_counts: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    segment_moments: dict[str, dict[str, dict[str, dict[str, Moments]]]] = field(
        default_factory=dict
    )
    funnel_counts: dict[str, list[int]] = field(default_factory=dict)
    cross_sums: dict[str, dict[str, float]] = field(default_factory=dict)

    def cumulative(self, metric: str) -> Iterator[tuple[dt.date, dict[str, Moments]]]:
        """Per day, each variant's moments of all units exposed up to and including that day."""
        per_variant = self.daily.get(metric, {})
        running = {v: Moments(0, 0.0, 0.0) for v in per_variant}
        for k, day in enumerate(self.days):
            for v, series in per_variant.items():
                running[v] = running[v] + series[k]
            yield day, dict(running)


def check_columns(plan: Plan, src: UnitSource) -> None:
    """Every column the plan names exists and has a usable type; raise DataError if not."""
    schema = src.table.schema()
    names = list(schema.names)

    def missing(col: str, field_name: str) -> None:
        if col not in schema:
            raise DataError(
                f"'{col}' is not a column of {src.label}{did_you_mean(col, names)}",
                source=plan.source,
                field=field_name,
            )

    if not rows_are_units(plan, src.table):
        missing(plan.unit, "unit")
    missing(plan.data.variant_column, "data.variant_column")
    if plan.data.timestamp is not None:
        missing(plan.data.timestamp, "data.timestamp")
        dtype = schema[plan.data.timestamp]
        if not (dtype.is_timestamp() or dtype.is_date()):
            raise DataError(
                f"'{plan.data.timestamp}' in {src.label} holds {dtype} values, not dates or "
                "timestamps; store it as a timestamp",
                source=plan.source,
                field="data.timestamp",
            )
    for i, m in enumerate(plan.metrics):
        for attr in ("column", "numerator", "denominator", "covariate"):
            col = getattr(m, attr)
            if col is None:
                continue
            missing(col, f"metrics[{i}].{attr}")
            dtype = schema[col]
            if not (dtype.is_numeric() or dtype.is_boolean()):
                raise DataError(
                    f"'{col}' in {src.label} holds {dtype} values, not numbers; "
                    "convert it to numbers (0/1 for yes/no)",
                    source=plan.source,
                    field=f"metrics[{i}].{attr}",
                )


def check_data(plan: Plan, *, rows: int = 1000) -> None:
    """Open the plan's data as :func:`liftlab.analysis.analyze` would and check what its
    schema and first ``rows`` rows can tell: the columns the plan names exist and hold numbers
    (yes/no text for proportions), without reading the whole table. Raises DataError."""
    from liftlab.sources import connect, open_table, open_units, unit_table

    d = plan.data
    if d.statistics is not None:
        from liftlab.precomputed import read_statistics

        read_statistics(plan)  # a small file of sums, read whole
        return
    if d.units is None:  # event tables or an export: their own checks, on opening
        open_units(plan)
        return
    table, files = open_table(connect(plan), plan, d.units, "data.units")
    src = unit_table(plan, UnitSource(table=table, label=d.units, files=files), rows=rows)
    check_columns(plan, src)
    names = list(src.table.columns)
    for s in d.segments:
        if s not in names:
            raise DataError(
                f"segment '{s}' is not a column of {d.units}{did_you_mean(s, names)}",
                source=plan.source,
                field="data.segments",
            )


def _num(col: ir.Column) -> ir.FloatingColumn:
    return col.cast("float64")


def _yx(m: Metric) -> tuple[str, str | None]:
    if m.type == "ratio":
        return str(m.numerator), str(m.denominator)
    return str(m.column), m.covariate


def _quantile(col: ir.Column, q: float, among: str) -> ir.FloatingScalar:
    """The ``q`` quantile of a column pooled over variants: of its non-zero values
    (``among="nonzero"``, the default, see :class:`liftlab.plan.Cap`) or of all of them."""
    values = _num(col)
    if among == "nonzero":
        values = values.nullif(0.0)
    return values.quantile(q)


def _capped(col: ir.FloatingColumn, cap: float | None) -> ir.FloatingColumn:
    return col if cap is None else col.clip(upper=cap)


def _sums(prefix: str, y: ir.FloatingColumn, x: ir.FloatingColumn | None) -> dict[str, Any]:
    out = {f"{prefix}_sy": y.sum(), f"{prefix}_syy": (y * y).sum()}
    if x is not None:
        out |= {
            f"{prefix}_sx": x.sum(),
            f"{prefix}_sxx": (x * x).sum(),
            f"{prefix}_sxy": (x * y).sum(),
        }
    return out


def _moments(r: dict[str, Any], prefix: str) -> Moments:
    return Moments(
        int(r["n"]),
        _f(r.get(f"{prefix}_sy")),
        _f(r.get(f"{prefix}_syy")),
        _f(r.get(f"{prefix}_sx")),
        _f(r.get(f"{prefix}_sxx")),
        _f(r.get(f"{prefix}_sxy")),
    )


def _f(value: Any) -> float:
    return 0.0 if value is None else float(value)


def unit_statistics(plan: Plan, src: UnitSource) -> UnitStats:
    """Run the checks query and the statistics query; validate; return the moments."""
    lay = src.layout or Layout.of(plan)
    if src.layout is None:
        check_columns(plan, src)
    t = src.table
    variant = t[lay.variant]

    def yx(m: Metric) -> tuple[str, str | None]:
        return lay.columns[m.name]

    # ---- query 1: checks and quantiles over all units ----------------------------------------
    checks: dict[str, Any] = {"rows": t.count(), "null_variants": variant.isnull().sum()}
    if lay.unit in t.columns:  # else each row is a unit (sources.rows_are_units)
        checks |= {
            "distinct_units": t[lay.unit].nunique(),
            "null_units": t[lay.unit].isnull().sum(),
        }
    if lay.timestamp is not None:
        checks["null_ts"] = t[lay.timestamp].isnull().sum()
    for i, m in enumerate(plan.metrics):
        y_col, x_col = yx(m)
        among = m.cap.among if m.cap is not None else "nonzero"
        if m.cap is not None and m.cap.quantile is not None:
            for col in (y_col, x_col):
                if col is not None:
                    checks[f"q_{i}_{col}"] = _quantile(t[col], m.cap.quantile, among)
        if m.type == "mean":
            for label, q in SENSITIVITY_LEVELS:
                for col in (y_col, x_col):
                    if q is not None and col is not None:
                        checks[f"s_{i}_{label}_{col}"] = _quantile(t[col], q, among)
    row = t.aggregate(**checks).to_pyarrow().to_pylist()[0]
    _check_rows(plan, src, row, lay)

    caps: dict[str, dict[str, float]] = {}
    sens_caps: dict[str, dict[str, dict[str, float]]] = {}
    for i, m in enumerate(plan.metrics):
        y_col, x_col = yx(m)
        cols = [c for c in (y_col, x_col) if c is not None]
        if m.cap is not None:
            for col in cols:
                value = m.cap.value if m.cap.value is not None else row[f"q_{i}_{col}"]
                if value is not None:  # None: every value is 0, nothing to cap
                    caps.setdefault(m.name, {})[col] = float(value)
        if m.type == "mean":
            sens_caps[m.name] = {
                label: (
                    {}
                    if q is None
                    else {
                        c: float(row[f"s_{i}_{label}_{c}"])
                        for c in cols
                        if row[f"s_{i}_{label}_{c}"] is not None
                    }
                )
                for label, q in SENSITIVITY_LEVELS
            }

    # ---- query 2: sufficient statistics per variant (× day) ----------------------------------
    aggs: dict[str, Any] = {"n": t.count()}
    main: dict[str, Any] = {"n": t.count()}  # the metrics' own sums, also per segment
    sides: dict[str, ir.FloatingColumn] = {}
    for i, m in enumerate(plan.metrics):
        y_col, x_col = yx(m)
        cap = caps.get(m.name, {})
        y = _capped(_num(t[y_col]), cap.get(y_col))
        x = _capped(_num(t[x_col]), cap.get(x_col)) if x_col is not None else None
        sides[f"{m.name}.y"] = y
        if x is not None:
            sides[f"{m.name}.x"] = x
        main |= _sums(f"m{i}", y, x)
        aggs |= _sums(f"m{i}", y, x)
        aggs[f"m{i}_nully"] = t[y_col].isnull().sum()
        if x_col is not None:
            aggs[f"m{i}_nullx"] = t[x_col].isnull().sum()
        if m.type == "proportion":
            aggs[f"m{i}_min"] = y.min()
            aggs[f"m{i}_max"] = y.max()
        for k, (label, _) in enumerate(SENSITIVITY_LEVELS if m.type == "mean" else ()):
            level = sens_caps[m.name][label]
            ys = _capped(_num(t[y_col]), level.get(y_col))
            xs = _capped(_num(t[x_col]), level.get(x_col)) if x_col is not None else None
            aggs |= _sums(f"m{i}_s{k}", ys, xs)
    reached = None
    for k, col in enumerate(lay.funnel):
        step = _num(t[col]).fill_null(0.0) > 0
        reached = step if reached is None else reached & step
        aggs[f"f{k}"] = reached.ifelse(1, 0).sum()
    from liftlab.kinds import cross_products

    pairs = cross_products(plan)
    for k, (a_side, b_side) in enumerate(pairs):
        aggs[f"cp{k}"] = (sides[a_side] * sides[b_side]).sum()
    keys = [variant.cast("string").name("_variant")]
    if lay.timestamp is not None:
        ts = t[lay.timestamp]
        keys.append((ts if ts.type().is_date() else ts.date()).name("_day"))
    rows = t.group_by(keys).aggregate(**aggs).to_pyarrow().to_pylist()

    seen = {r["_variant"]: 0 for r in rows}
    for r in rows:
        seen[r["_variant"]] += int(r["n"])
    unknown = sorted(set(seen) - set(plan.variants))
    if unknown:
        bad = unknown[0]
        raise DataError(
            f"{src.label} has variant '{bad}' ({seen[bad]} units) that the plan does not "
            f"name{did_you_mean(bad, plan.variants)}; add it to variants or filter the data",
            source=plan.source,
            field="variants",
        )
    for r in rows:
        for i, m in enumerate(plan.metrics):
            _validate_values(plan, src, i, m, r, lay)

    days = sorted({r["_day"] for r in rows}) if lay.timestamp is not None else []
    day_index = {d: k for k, d in enumerate(days)}
    zero = Moments(0, 0.0, 0.0)

    def total(prefix: str, v: str) -> Moments:
        acc = zero
        for r in rows:
            if r["_variant"] == v:
                acc = acc + _moments(r, prefix)
        return acc

    counts = {v: seen.get(v, 0) for v in plan.variants}
    moments = {
        m.name: {v: total(f"m{i}", v) for v in plan.variants} for i, m in enumerate(plan.metrics)
    }
    sensitivity = {
        m.name: {
            label: (sens_caps[m.name][label], {v: total(f"m{i}_s{k}", v) for v in plan.variants})
            for k, (label, _) in enumerate(SENSITIVITY_LEVELS)
        }
        for i, m in enumerate(plan.metrics)
        if m.type == "mean"
    }
    daily: dict[str, dict[str, list[Moments]]] = {}
    daily_counts: dict[str, list[int]] = {v: [0] * len(days) for v in plan.variants}
    if days:
        for m in plan.metrics:
            daily[m.name] = {v: [zero] * len(days) for v in plan.variants}
        for r in rows:
            k = day_index[r["_day"]]
            daily_counts[r["_variant"]][k] = int(r["n"])
            for i, m in enumerate(plan.metrics):
                daily[m.name][r["_variant"]][k] = _moments(r, f"m{i}")
    funnel_counts: dict[str, list[int]] = {}
    if lay.funnel:
        funnel_counts = {v: [0] * (len(lay.funnel) + 1) for v in plan.variants}
        for r in rows:
            acc = funnel_counts[r["_variant"]]
            acc[0] += int(r["n"])
            for k in range(len(lay.funnel)):
                acc[k + 1] += int(r[f"f{k}"] or 0)
    cross_sums = {
        f"{a_side}*{b_side}": {
            v: sum(_f(r[f"cp{k}"]) for r in rows if r["_variant"] == v) for v in plan.variants
        }
        for k, (a_side, b_side) in enumerate(pairs)
    }
    seg_counts, seg_moments = _segment_stats(plan, t, variant, main)
    return UnitStats(
        counts=counts,
        moments=moments,
        caps=caps,
        days=days,
        daily=daily,
        daily_counts=daily_counts if days else {},
        sensitivity=sensitivity,
        segment_counts=seg_counts,
        segment_moments=seg_moments,
        funnel_counts=funnel_counts,
        cross_sums=cross_sums,
    )


def _segment_stats(
    plan: Plan, t: ir.Table, variant: ir.Column, sums: dict[str, Any]
) -> tuple[
    dict[str, dict[str, dict[str, int]]], dict[str, dict[str, dict[str, dict[str, Moments]]]]
]:
    """Units and metric moments per segment value and variant, for every ``data.segments``
    column, from one query grouped by variant and all segment columns."""
    segments = plan.data.segments
    if not segments:
        return {}, {}
    names = list(t.schema().names)
    for s in segments:
        if s not in names:
            raise DataError(
                f"segment '{s}' is not a column of the data{did_you_mean(s, names)}",
                source=plan.source,
                field="data.segments",
            )
    keys = [
        variant.cast("string").name("_variant"),
        *(t[s].cast("string").name(f"_seg_{j}") for j, s in enumerate(segments)),
    ]
    rows = t.group_by(keys).aggregate(**sums).to_pyarrow().to_pylist()
    counts: dict[str, dict[str, dict[str, int]]] = {s: {} for s in segments}
    zero = Moments(0, 0.0, 0.0)
    moments: dict[str, dict[str, dict[str, dict[str, Moments]]]] = {s: {} for s in segments}
    for r in rows:
        v = r["_variant"]
        for j, s in enumerate(segments):
            value = "(missing)" if r[f"_seg_{j}"] is None else str(r[f"_seg_{j}"])
            per = counts[s].setdefault(value, {name: 0 for name in plan.variants})
            if v not in per:
                continue
            per[v] += int(r["n"])
            level = moments[s].setdefault(
                value, {m.name: {name: zero for name in plan.variants} for m in plan.metrics}
            )
            for i, m in enumerate(plan.metrics):
                level[m.name][v] = level[m.name][v] + _moments(r, f"m{i}")
    return (
        {s: dict(sorted(v.items())) for s, v in counts.items()},
        {s: dict(sorted(v.items())) for s, v in moments.items()},
    )


def _check_rows(plan: Plan, src: UnitSource, row: dict[str, Any], lay: Layout) -> None:
    if row.get("null_units"):
        raise DataError(
            f"{row['null_units']} rows of {src.label} have no unit id in '{lay.unit}'; "
            "drop them or fill them in",
            source=plan.source,
            field="unit",
        )
    if row["null_variants"]:
        raise DataError(
            f"{row['null_variants']} rows of {src.label} have no variant in "
            f"'{lay.variant}'; drop them or fill them in",
            source=plan.source,
            field="data.variant_column",
        )
    if row.get("null_ts"):
        raise DataError(
            f"{row['null_ts']} rows of {src.label} have no exposure time in "
            f"'{lay.timestamp}'; drop them or fill them in",
            source=plan.source,
            field="data.timestamp",
        )
    if row.get("distinct_units", row["rows"]) != row["rows"]:
        dupes = row["rows"] - row["distinct_units"]
        raise DataError(
            f"{dupes} unit ids in '{lay.unit}' of {src.label} appear on more than one row; "
            "a unit table has one row per unit",
            source=plan.source,
            field="unit",
        )


def _validate_values(
    plan: Plan, src: UnitSource, i: int, m: Metric, r: dict[str, Any], lay: Layout
) -> None:
    y_col, x_col = lay.columns[m.name]
    y_attr = "numerator" if m.type == "ratio" else "column"
    x_attr = "denominator" if m.type == "ratio" else "covariate"
    for col, attr, key in ((y_col, y_attr, "nully"), (x_col, x_attr, "nullx")):
        nulls = r.get(f"m{i}_{key}")
        if col is not None and nulls:
            raise DataError(
                f"'{col}' has {nulls} empty values in {src.label}; fill them "
                "(0 where nothing happened) or drop those units",
                source=plan.source,
                field=f"metrics[{i}].{attr}",
            )
    if m.type == "proportion":
        lo, hi = r[f"m{i}_min"], r[f"m{i}_max"]
        if lo is not None and (lo < 0 or hi > 1 or r[f"m{i}_sy"] != r[f"m{i}_syy"]):
            raise DataError(
                f"'{y_col}' in {src.label} holds values other than 0 and 1 (from {lo:g} to "
                f"{hi:g}); use type: mean for amounts",
                source=plan.source,
                field=f"metrics[{i}].column",
            )
    for key in ("sy", "syy", "sx", "sxx", "sxy"):
        value = r.get(f"m{i}_{key}")
        if value is not None and not math.isfinite(float(value)):
            raise DataError(
                f"'{y_col}' or its partner column in {src.label} holds infinite values; clean them",
                source=plan.source,
                field=f"metrics[{i}]",
            )


def metric_values(
    plan: Plan, src: UnitSource, metric: Metric, caps: dict[str, float] | None = None
) -> dict[str, np.ndarray]:
    """Unit-level values of one mean/proportion metric per variant (for resampling methods).

    The only function in liftlab that brings unit rows out of the engine, and only one
    numeric column of them (no unit ids), after the metric's cap.
    """
    lay = src.layout or Layout.of(plan)
    t = src.table
    col = lay.columns[metric.name][0]
    y = _capped(_num(t[col]), (caps or {}).get(col))
    table = t.select(_v=t[lay.variant].cast("string"), _y=y).to_pyarrow()
    variants = np.asarray(table.column("_v").to_numpy(zero_copy_only=False))
    values = table.column("_y").to_numpy()
    return {v: values[variants == v] for v in plan.variants}


__all__ = [
    "SENSITIVITY_LEVELS",
    "Layout",
    "UnitStats",
    "check_columns",
    "metric_values",
    "unit_statistics",
]
