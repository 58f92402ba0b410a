"""Design from history: each metric's baseline, spread and CUPED correlation from past data.

:func:`read_history` reads a pre-period table and returns, for every metric of a plan (not
only the primaries), the :class:`~liftlab.stats.moments.Moments` that
:func:`liftlab.design.design_plan` sizes a test from (``y`` the metric or a ratio's
numerator, ``x`` a ratio's denominator or the CUPED covariate), with a sentence per metric
and quantity saying where each number comes from. Semantics (pinned; tests check each):

- **Unit-table plans** (``data.units``): ``spec`` is a unit table with the plan's metric
  columns: a CSV or Parquet file (a relative path resolves against the project root, like
  ``data.units``) or a table name in the plan's ``data.engine``. If it has the plan's variant
  column (``data.variant_column``), only the control arm's rows are used (the next test sized
  from the last test's control, ``control_only``); otherwise every row is a past unit.
- **Event-table plans** (``data.exposures`` + ``data.events``): ``spec`` is a pre-period
  exposures table (past visitors) with the plan's exposure columns (unit, ``exposed_at``;
  the variant column is optional, with the same control-only rule), and its events come from
  the plan's own events table, or from ``EVENTS`` when ``spec`` is written
  ``"EXPOSURES + EVENTS"``. The unit table is derived by :func:`liftlab.events.open_events`,
  so every metric is aggregated with exactly the analysis's definitions: the first exposure
  of each unit, the ``window_days`` after it, a ``pre_period`` covariate over the
  ``pre_days`` before it; units seen in more than one variant are left out as there.
- **Caps**: a metric's ``cap`` applies to its history as in the analysis (a fixed value, or
  the quantile of the history rows used, of the non-zero values unless ``among: all``; a
  covariate or denominator is capped by the same rule at its own quantile).
- **One pass**: all moments come from one aggregate query over the rows used (after one
  query for the quantile caps, when a metric has one); no unit row leaves the engine.
- **Errors** are one line naming the plan, the field and the history table: a missing table
  or column, no rows, no control rows, empty or non-0/1 values, and a metric that does not
  vary (or a ratio whose denominator sums to 0), which would size nothing.

``period`` is the first and last exposure time of the units used (``data.timestamp`` of a
unit table, ``exposed_at`` of event tables), ``None`` when the table has no such column.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from liftlab.aggregate import (
    Span,
    backend_name,
    fixed_point_sum,
    fixed_point_value,
    scale_exponent,
)
from liftlab.errors import DataError, PlanError, did_you_mean
from liftlab.plan import PRE_PERIOD, EventAgg, Metric, Plan
from liftlab.sources import connect, fetch, open_table
from liftlab.stats.moments import Moments
from liftlab.stats.power import ratio_sd_from_moments

FIELD = "history"


@dataclass(frozen=True, slots=True)
class History:
    """Historical moments per metric, and where they come from.

    - ``moments``: per metric name (every metric of the plan), the :class:`Moments` of the
      units used, after the metric's cap: ``y`` the metric (a ratio's numerator), ``x`` a
      ratio's denominator or the CUPED covariate (zero sums when there is neither).
    - ``label``: the history table as given (``"EXPOSURES + EVENTS"`` for event tables).
    - ``units``: how many units (rows of a unit table, or past visitors) were used.
    - ``control_only``: whether the table had a variant column and only the control's units
      were used.
    - ``period``: the first and last exposure time of those units, or ``None``.
    - ``sources``: per metric, per quantity (``baseline``, ``sd``, and ``cuped_rho`` for a
      metric with a covariate), a sentence saying how the history gives it.
    - ``caps``: per capped metric, the cap applied to ``y`` and to ``x`` (keys ``"y"``,
      ``"x"``), as the analysis caps them.
    """

    moments: dict[str, Moments]
    label: str
    units: int
    control_only: bool
    period: tuple[dt.datetime | dt.date, dt.datetime | dt.date] | None
    sources: dict[str, dict[str, str]]
    caps: dict[str, dict[str, float]]


@dataclass(frozen=True)
class _Rows:
    """The unit-level rows a history reads: the table, which columns play which part."""

    table: ir.Table
    label: str
    columns: dict[str, tuple[str, str | None]]  # metric -> (y column, x column)
    words: dict[str, tuple[str, str | None]]  # metric -> (y described, x described)
    variant: str | None  # filter to the control on this column, or None: every row
    timestamp: str | None
    events_table: str | None = None  # the events behind an event-table history


def read_history(plan: Plan, spec: str | Path) -> History:
    """Moments of every metric of ``plan`` over a pre-period table ``spec`` (see the module)."""
    label = str(spec).strip()
    if plan.data.statistics is not None:
        raise PlanError(
            "history needs a plan over a unit table or event tables, not precomputed "
            "statistics; give baseline: and baseline_sd: in the plan instead",
            source=plan.source,
            field="data.statistics",
        )
    rows = _event_rows(plan, label) if plan.data.on_events else _unit_rows(plan, label)
    return _summarise(plan, rows)


# ---- where the rows come from --------------------------------------------------------------
def _unit_rows(plan: Plan, label: str) -> _Rows:
    table, _ = open_table(connect(plan), plan, label, FIELD)
    names = list(table.columns)
    columns: dict[str, tuple[str, str | None]] = {}
    for i, m in enumerate(plan.metrics):
        for attr in ("column", "numerator", "denominator", "covariate"):
            col = getattr(m, attr)
            if isinstance(col, str) and col not in names:
                raise DataError(
                    f"'{col}' is not a column of the history {label}{did_you_mean(col, names)}; "
                    "history needs the plan's metric columns",
                    source=plan.source,
                    field=f"metrics[{i}].{attr}",
                )
        y, x = (m.numerator, m.denominator) if m.type == "ratio" else (m.column, m.covariate)
        columns[m.name] = (str(y), None if x is None else str(x))
    ts = plan.data.timestamp if plan.data.timestamp in names else None
    variant = plan.data.variant_column if plan.data.variant_column in names else None
    words = {k: (f"'{y}'", None if x is None else f"'{x}'") for k, (y, x) in columns.items()}
    return _Rows(table, label, columns, words, variant, ts)


def _event_rows(plan: Plan, label: str) -> _Rows:
    from liftlab.events import open_events

    parts = [p.strip() for p in label.split("+")]
    if len(parts) > 2 or not all(parts):
        raise DataError(
            f"'{label}' is not a history of event tables; give an exposures table, or "
            "'EXPOSURES + EVENTS' (e.g. landing_history + landing_history_events)",
            source=plan.source,
            field=FIELD,
        )
    d = plan.data
    exposures = parts[0]
    events = parts[1] if len(parts) == 2 else str(d.events)
    table, _ = open_table(connect(plan), plan, exposures, FIELD)
    names = list(table.columns)
    for role in ("unit", "exposed_at"):
        col = d.column(role, plan.unit if role == "unit" else None)
        if col not in names:
            raise DataError(
                f"'{col}' is not a column of the history {exposures}{did_you_mean(col, names)}; "
                "past exposures need the plan's unit and exposed_at columns",
                source=plan.source,
                field=FIELD,
            )
    has_variant = d.column("variant", d.variant_column) in names
    past = plan.with_(data={"exposures": exposures, "events": events, "segments": []})
    src = open_events(past, all_control=not has_variant)
    assert src.layout is not None
    words = {m.name: _event_words(m) for m in plan.metrics}
    return _Rows(
        src.table,
        label,
        src.layout.columns,
        words,
        "variant" if has_variant else None,
        "exposed_at",
        events_table=events,
    )


def _event_words(m: Metric) -> tuple[str, str | None]:
    """How an event metric's ``y`` and ``x`` are aggregated per unit, in words."""

    def agg(spec: EventAgg, span: str) -> str:
        what = {
            "any": f"a {spec.event} event",
            "repeat": f"two or more {spec.event} events",
            "count": f"the number of {spec.event} events",
            "sum": f"the sum of {spec.event} values",
        }[spec.aggregate]
        return f"{what} {span}"

    after = f"in the {_days(m.window_days)} after their first exposure"
    if m.type == "ratio":
        assert isinstance(m.numerator, EventAgg) and isinstance(m.denominator, EventAgg)
        return agg(m.numerator, after), agg(m.denominator, after)
    y = EventAgg(event=str(m.event), aggregate=m.event_aggregate)  # type: ignore[arg-type]
    before = f"in the {_days(m.pre_days)} before it"
    return agg(y, after), (agg(y, before) if m.covariate == PRE_PERIOD else None)


def _days(days: float) -> str:
    return f"{days:g} day" if days == 1 else f"{days:g} days"


# ---- the engine's two queries --------------------------------------------------------------
def _summarise(plan: Plan, rows: _Rows) -> History:
    t = rows.table
    if rows.variant is not None:
        t = t.filter(t[rows.variant].cast("string") == plan.control_name)
    caps, spans = _caps(plan, t, rows)
    aggs: dict[str, Any] = {"n": t.count()}
    if rows.timestamp is not None:
        aggs |= {"first_": t[rows.timestamp].min(), "last_": t[rows.timestamp].max()}
    scales: dict[str, int] = {}
    for i, m in enumerate(plan.metrics):
        aggs |= _metric_sums(plan, t, rows, i, m, caps.get(m.name, {}), spans, scales)
    r = fetch(t.aggregate(**aggs)).to_pylist()[0]
    for key, k in scales.items():
        r[key] = fixed_point_value(int(r[key] or 0), k)
    n = int(r["n"])
    if n == 0:
        _no_rows(plan, rows)
    moments: dict[str, Moments] = {}
    sources: dict[str, dict[str, str]] = {}
    who = "control units" if rows.variant is not None else "units"
    scope = f"the {n:,} {who} in {rows.label}"
    for i, m in enumerate(plan.metrics):
        moments[m.name] = _check_metric(plan, rows, i, m, r)
        sources[m.name] = _sources(m, rows, scope, caps.get(m.name, {}))
    period = (r["first_"], r["last_"]) if rows.timestamp is not None else None
    sides = {
        name: {side: cap[c] for side, c in zip("yx", rows.columns[name], strict=True) if c in cap}
        for name, cap in caps.items()
    }
    return History(moments, rows.label, n, rows.variant is not None, period, sources, sides)


def _metric_sums(
    plan: Plan,
    t: ir.Table,
    rows: _Rows,
    i: int,
    m: Metric,
    cap: dict[str, float],
    spans: dict[str, tuple[float, float]],
    scales: dict[str, int],
) -> dict[str, Any]:
    """One metric's aggregates: ``Σy, Σy², Σx, Σx², Σxy`` after its caps as exact
    fixed-point sums (:func:`liftlab.aggregate.fixed_point_sum`, scaled by the bound of
    each product; ``scales`` gets each sum's exponent), so the history's figures do not
    depend on the engine's thread count; and the empty values, least and greatest ``y``."""
    backend = backend_name(t)
    y_col, x_col = rows.columns[m.name]
    sides = ("numerator", "denominator") if m.type == "ratio" else ("column", "covariate")
    bound: dict[str, float] = {}
    for col, attr in zip((y_col, x_col), sides, strict=True):
        if col is not None:
            lo, hi = spans[col]
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise DataError(
                    f"'{col}' in the history {rows.label} holds infinite or NaN values; clean them",
                    source=plan.source,
                    field=f"metrics[{i}].{attr}",
                )
            bound[col] = Span(lo, hi, integer=False).bound(cap.get(col))
    y = _capped(t[y_col], cap.get(y_col))
    terms = {"sy": (y, bound[y_col]), "syy": (y * y, bound[y_col] ** 2)}
    aggs = {f"m{i}_ny": t[y_col].isnull().sum(), f"m{i}_lo": y.min(), f"m{i}_hi": y.max()}
    if x_col is not None:
        x = _capped(t[x_col], cap.get(x_col))
        bx = bound[x_col]
        terms |= {"sx": (x, bx), "sxx": (x * x, bx**2), "sxy": (x * y, bx * bound[y_col])}
        aggs[f"m{i}_nx"] = t[x_col].isnull().sum()
    for name, (value, b) in terms.items():
        k = scales[f"m{i}_{name}"] = scale_exponent(b)
        aggs[f"m{i}_{name}"] = fixed_point_sum(value, k, backend)
    return aggs


def _capped(col: ir.Column, cap: float | None) -> ir.FloatingColumn:
    value = col.cast("float64")
    return value if cap is None else value.clip(upper=cap)


def _caps(
    plan: Plan, t: ir.Table, rows: _Rows
) -> tuple[dict[str, dict[str, float]], dict[str, tuple[float, float]]]:
    """Each capped metric's cap per column (its fixed value, or the quantile of the rows
    used, of the non-zero values unless ``among: all``), and each metric column's least and
    greatest value (0 and 0 without rows), in one query."""
    aggs: dict[str, Any] = {}
    for i, m in enumerate(plan.metrics):
        for k, col in enumerate(c for c in rows.columns[m.name] if c is not None):
            value = t[col].cast("float64")
            aggs |= {f"lo_{col}": value.min(), f"hi_{col}": value.max()}
            if m.cap is not None and m.cap.quantile is not None:
                among = value.nullif(0.0) if m.cap.among == "nonzero" else value
                aggs[f"q{i}_{k}"] = among.quantile(m.cap.quantile)
    row = fetch(t.aggregate(**aggs)).to_pylist()[0]
    caps: dict[str, dict[str, float]] = {}
    spans: dict[str, tuple[float, float]] = {}
    for i, m in enumerate(plan.metrics):
        for k, col in enumerate(c for c in rows.columns[m.name] if c is not None):
            lo, hi = row[f"lo_{col}"], row[f"hi_{col}"]
            spans[col] = (0.0, 0.0) if lo is None else (float(lo), float(hi))
            if m.cap is None:
                continue
            value = m.cap.value if m.cap.value is not None else row.get(f"q{i}_{k}")
            if value is not None:  # None: every value is 0 (or no rows), nothing to cap
                caps.setdefault(m.name, {})[col] = float(value)
    return caps, spans


def _no_rows(plan: Plan, rows: _Rows) -> None:
    """Raise the error for a history with no rows to use: an empty table, or no control."""
    if rows.variant is None:
        raise DataError(
            f"the history {rows.label} has no rows; give a table of past units",
            source=plan.source,
            field=FIELD,
        )
    t = rows.table
    found = fetch(t.select(v_=t[rows.variant].cast("string")).distinct().limit(100))
    present = sorted(str(v) for v in found.column("v_").to_pylist() if v is not None)
    control = plan.control_name
    raise DataError(
        f"the history {rows.label} has no rows of the control '{control}' in its "
        f"'{rows.variant}' column{did_you_mean(control, present)} (variants there: "
        f"{', '.join(present[:12]) or 'none'}); give the control's past units, or a table "
        "without a variant column to use every row",
        source=plan.source,
        field=FIELD,
    )


def _check_metric(plan: Plan, rows: _Rows, i: int, m: Metric, r: dict[str, Any]) -> Moments:
    """The metric's moments from the query's row, or a DataError naming what is wrong."""
    y_col, x_col = rows.columns[m.name]
    sides = ("numerator", "denominator") if m.type == "ratio" else ("column", "covariate")

    def fail(message: str, attr: str | None = None) -> DataError:
        field = f"metrics[{i}].{attr}" if attr else f"metrics[{i}]"
        return DataError(message, source=plan.source, field=field)

    for col, attr, key in ((y_col, sides[0], "ny"), (x_col, sides[1], "nx")):
        if col is not None and r.get(f"m{i}_{key}"):
            raise fail(
                f"'{col}' has {r[f'm{i}_{key}']:,} empty values in the history {rows.label}; "
                "fill them (0 where nothing happened) or drop those units",
                attr,
            )
    mo = Moments(int(r["n"]), *(float(r.get(f"m{i}_{k}") or 0.0) for k in _SUMS))
    if not all(math.isfinite(getattr(mo, f"sum_{k}")) for k in ("y", "y2", "x", "x2", "xy")):
        raise fail(f"'{y_col}' or its partner column in {rows.label} holds infinite values")
    lo, hi = r[f"m{i}_lo"], r[f"m{i}_hi"]
    if m.type == "proportion" and (lo < 0 or hi > 1 or mo.sum_y != mo.sum_y2):
        raise fail(
            f"'{y_col}' in the history {rows.label} holds values other than 0 and 1 "
            f"(from {lo:g} to {hi:g}); use type: mean for amounts",
            sides[0],
        )
    hint = (
        f"; are these units' events in {rows.events_table}? give 'EXPOSURES + EVENTS'"
        if rows.events_table is not None
        else ""
    )
    if m.type == "ratio":
        try:
            ratio_sd_from_moments(mo)
        except ValueError as exc:
            raise fail(f"the history {rows.label} cannot size '{m.name}' ({exc}){hint}") from None
    elif not mo.var_y > 0:
        raise fail(
            f"'{m.name}' does not vary in the history {rows.label}: all {mo.n:,} units have "
            f"{lo:g}{hint}; a test cannot be sized from it"
        )
    return mo


_SUMS = ("sy", "syy", "sx", "sxx", "sxy")


def _sources(m: Metric, rows: _Rows, scope: str, caps: dict[str, float]) -> dict[str, str]:
    """Per quantity, where the history's number comes from, in words."""
    y_col, x_col = rows.columns[m.name]
    y_words, x_words = rows.words[m.name]
    events = rows.events_table is not None

    def capped(col: str | None) -> str:
        if col is None or col not in caps or m.cap is None:
            return ""
        if m.cap.quantile is None:
            return f" (capped at {caps[col]:,.6g})"
        among = "non-zero values" if m.cap.among == "nonzero" else "values"
        return f" (capped at {caps[col]:,.6g}, the {m.cap.quantile:g} quantile of its {among})"

    y_text, x_text = f"{y_words}{capped(y_col)}", f"{x_words}{capped(x_col)}"
    if m.type == "ratio":
        return {
            "baseline": f"sum of {y_text} over the sum of {x_text}, over {scope}",
            "sd": f"linearised (delta-method) per-unit sd of that ratio over {scope}",
        }
    if m.type == "proportion":
        baseline = (
            f"share of {scope} with {y_words}"
            if events
            else f"mean of {y_words} (the share of 1s) over {scope}"
        )
        out = {"baseline": baseline, "sd": "sqrt(p(1 − p)) of that rate (binomial)"}
    else:
        out = {
            "baseline": f"mean of {y_text} over {scope}",
            "sd": f"sample sd (n − 1) of {y_text} over {scope}",
        }
    if x_col is not None:
        out["cuped_rho"] = f"correlation of {y_text} with {x_text}, over {scope}"
    return out
