"""Metric definitions compiled to Ibis aggregations that return sufficient statistics.

For a unit table the engine runs two small queries and sends back a few numbers per variant,
never the rows:

1. a *checks* query over all units: row count, distinct and null unit ids, null variants, and
   the quantile caps (``quantile_cont``, pooled over variants) that the plan asks for;
2. the *statistics* query, grouped by variant: for each metric the count and the sums of
   ``y``, ``y²``, ``x``, ``x²`` and ``x·y`` (``y`` the value or numerator, ``x`` the
   denominator or covariate), after capping, plus per-column null counts and the min/max of
   0/1 columns for validation.

The result is a :class:`UnitStats`: a :class:`~liftlab.stats.moments.Moments` per metric and
variant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir

from liftlab.errors import DataError, did_you_mean
from liftlab.plan import Metric, Plan
from liftlab.sources import UnitSource
from liftlab.stats.moments import Moments


@dataclass(frozen=True)
class UnitStats:
    """Sufficient statistics of a unit table, per metric and variant."""

    counts: dict[str, int]
    moments: dict[str, dict[str, Moments]]
    caps: dict[str, dict[str, float]] = field(default_factory=dict)


def _metric_fields(plan: Plan) -> list[tuple[int, Metric]]:
    return list(enumerate(plan.metrics))


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

    missing(plan.unit, "unit")
    missing(plan.data.variant_column, "data.variant_column")
    for i, m in _metric_fields(plan):
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


def _num(col: ir.Column) -> ir.FloatingColumn:
    return col.cast("float64")


def unit_statistics(plan: Plan, src: UnitSource) -> UnitStats:
    """Run the checks query and the statistics query; validate; return the moments."""
    check_columns(plan, src)
    t = src.table
    unit = t[plan.unit]
    variant = t[plan.data.variant_column]

    # ---- query 1: checks and quantile caps over all units --------------------------------
    checks: dict[str, Any] = {
        "rows": t.count(),
        "distinct_units": unit.nunique(),
        "null_units": unit.isnull().sum(),
        "null_variants": variant.isnull().sum(),
    }
    for i, m in _metric_fields(plan):
        if m.cap is not None and m.cap.quantile is not None:
            for col in (m.column, m.covariate):
                if col is not None:
                    checks[f"q_{i}_{col}"] = _num(t[col]).quantile(m.cap.quantile)
    row = t.aggregate(**checks).to_pyarrow().to_pylist()[0]
    if row["null_units"]:
        raise DataError(
            f"{row['null_units']} rows of {src.label} have no unit id in '{plan.unit}'; "
            "drop them or fill them in",
            source=plan.source,
            field="unit",
        )
    if row["null_variants"]:
        raise DataError(
            f"{row['null_variants']} rows of {src.label} have no variant in "
            f"'{plan.data.variant_column}'; drop them or fill them in",
            source=plan.source,
            field="data.variant_column",
        )
    if row["distinct_units"] != row["rows"]:
        dupes = row["rows"] - row["distinct_units"]
        raise DataError(
            f"{dupes} unit ids in '{plan.unit}' of {src.label} appear on more than one row; "
            "a unit table has one row per unit",
            source=plan.source,
            field="unit",
        )

    caps: dict[str, dict[str, float]] = {}
    for i, m in _metric_fields(plan):
        if m.cap is None:
            continue
        for col in (m.column, m.covariate):
            if col is None:
                continue
            value = m.cap.value if m.cap.value is not None else row[f"q_{i}_{col}"]
            caps.setdefault(m.name, {})[col] = float(value)

    # ---- query 2: sufficient statistics per variant ----------------------------------------
    aggs: dict[str, Any] = {"n": t.count()}
    for i, m in _metric_fields(plan):
        y_col, x_col = _yx(m)
        y = _capped(_num(t[y_col]), caps.get(m.name, {}).get(y_col))
        aggs[f"m{i}_nully"] = t[y_col].isnull().sum()
        aggs[f"m{i}_sy"] = y.sum()
        aggs[f"m{i}_syy"] = (y * y).sum()
        if m.type == "proportion":
            aggs[f"m{i}_min"] = y.min()
            aggs[f"m{i}_max"] = y.max()
        if x_col is not None:
            x = _capped(_num(t[x_col]), caps.get(m.name, {}).get(x_col))
            aggs[f"m{i}_nullx"] = t[x_col].isnull().sum()
            aggs[f"m{i}_sx"] = x.sum()
            aggs[f"m{i}_sxx"] = (x * x).sum()
            aggs[f"m{i}_sxy"] = (x * y).sum()
    grouped = t.group_by(variant.cast("string").name("_variant")).aggregate(**aggs)
    rows = {r["_variant"]: r for r in grouped.to_pyarrow().to_pylist()}

    unknown = sorted(set(rows) - set(plan.variants))
    if unknown:
        bad = unknown[0]
        raise DataError(
            f"{src.label} has variant '{bad}' ({rows[bad]['n']} units) that the plan does not "
            f"name{did_you_mean(bad, plan.variants)}; add it to variants or filter the data",
            source=plan.source,
            field="variants",
        )

    counts = {v: int(rows[v]["n"]) if v in rows else 0 for v in plan.variants}
    moments: dict[str, dict[str, Moments]] = {}
    for i, m in _metric_fields(plan):
        y_col, x_col = _yx(m)
        per_variant: dict[str, Moments] = {}
        for v in plan.variants:
            r = rows.get(v)
            if r is None:
                per_variant[v] = Moments(0, 0.0, 0.0)
                continue
            _validate_values(plan, src, i, m, r, y_col, x_col)
            per_variant[v] = Moments(
                int(r["n"]),
                _f(r[f"m{i}_sy"]),
                _f(r[f"m{i}_syy"]),
                _f(r.get(f"m{i}_sx")),
                _f(r.get(f"m{i}_sxx")),
                _f(r.get(f"m{i}_sxy")),
            )
        moments[m.name] = per_variant
    return UnitStats(counts=counts, moments=moments, caps=caps)


def _yx(m: Metric) -> tuple[str, str | None]:
    if m.type == "ratio":
        return m.numerator, m.denominator  # type: ignore[return-value]
    return m.column, m.covariate  # type: ignore[return-value]


def _capped(col: ir.FloatingColumn, cap: float | None) -> ir.FloatingColumn:
    return col if cap is None else col.clip(upper=cap)


def _f(value: Any) -> float:
    return 0.0 if value is None else float(value)


def _validate_values(
    plan: Plan,
    src: UnitSource,
    i: int,
    m: Metric,
    r: dict[str, Any],
    y_col: str,
    x_col: str | None,
) -> None:
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


__all__ = ["UnitStats", "check_columns", "unit_statistics"]
