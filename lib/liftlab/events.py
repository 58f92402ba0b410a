"""Event-table plans: exposures and events compiled, in the engine, to a unit-level table.

Growth data arrives as exposure logs and event streams. For a plan with ``data.exposures``
and ``data.events`` liftlab builds one Ibis expression that the engine evaluates lazily; the
unit-level rows it describes are never brought into Python. Its statistics are then computed
by :func:`liftlab.aggregate.unit_statistics` exactly as for a unit table.

Semantics (pinned; tests check each):

- A unit's exposure time is its **first** exposure (``min(exposed_at)``); its segments are
  those of that first exposure row.
- A unit exposed to more than one variant is **excluded** and counted; so are units whose
  only variant the plan does not name, and exposure rows with no unit id.
- An event counts for a metric when it is the metric's event and
  ``exposed_at <= ts < exposed_at + window_days`` (days of 24 hours).
- ``aggregate``: ``count`` (number of events), ``sum`` (of ``value``; a null value counts as
  0; added as fixed-point integers, exactly and in any order, so a unit's sum does not
  depend on the engine's threads: each value is scaled by ``2**k`` with ``k`` from the
  largest magnitude ``B`` among the summed events, an error below ``B·2**-58`` per event,
  see :func:`liftlab.aggregate.fixed_point_sum`), ``any`` (0/1: at least one event), ``repeat`` (0/1: two or more, e.g. a repeat
  purchase). Units with no events count as zero.
- Funnel steps (``landing_page.funnel``): 0/1 per step, the step's event within
  ``funnel_window_days`` of exposure; a unit reaches step k when it has the events of steps
  1..k (counted in :func:`liftlab.aggregate.unit_statistics`).
- ``covariate: pre_period``: the same aggregate over ``[exposed_at − pre_days, exposed_at)``.
- Ratio metrics: numerator and denominator are each an aggregate of their own event.

Data quality (counted in the engine, reported in ``results.json`` under ``data_quality``,
never silently dropped): exposure rows, distinct units, rows with no unit id, duplicate
exposure rows (a unit's rows beyond its first), units exposed to more than one variant,
units and rows with a variant the plan does not name, event rows, events of units never
exposed (or excluded), event rows with no unit id, and negative values of events that a
``sum`` metric adds up (unless the metric says ``allow_negative: true``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from liftlab.aggregate import Layout, backend_name, fixed_point_sum, scale_exponent
from liftlab.errors import DataError, did_you_mean
from liftlab.plan import PRE_PERIOD, EventAgg, Metric, Plan
from liftlab.sources import (
    Scope,
    UnitSource,
    check_segment,
    computed,
    connect,
    fetch,
    open_table,
)

DAY_SECONDS = 86_400


def _columns(plan: Plan) -> dict[str, str]:
    d = plan.data
    return {
        "unit": d.column("unit", plan.unit),
        "variant": d.column("variant", d.variant_column),
        "exposed_at": d.column("exposed_at"),
        "event": d.column("event"),
        "ts": d.column("ts"),
        "value": d.column("value"),
    }


def _require(plan: Plan, table: ir.Table, label: str, field: str, cols: list[str]) -> None:
    names = list(table.schema().names)
    for col in cols:
        if col not in names:
            raise DataError(
                f"'{col}' is not a column of {label}{did_you_mean(col, names)}; rename it with "
                "data.columns (e.g. columns: {unit: user_id})",
                source=plan.source,
                field=field,
            )


def _check_types(plan: Plan, table: ir.Table, label: str, field: str, ts_col: str) -> None:
    dtype = table.schema()[ts_col]
    if not dtype.is_timestamp():
        raise DataError(
            f"'{ts_col}' in {label} holds {dtype} values, not timestamps; store it as a timestamp",
            source=plan.source,
            field=field,
        )


def _wanted_events(plan: Plan) -> list[tuple[str, str]]:
    """Each event name the plan reads, with the field that names it."""
    wanted: list[tuple[str, str]] = []
    for i, m in enumerate(plan.metrics):
        if m.type == "ratio":
            for side in ("numerator", "denominator"):
                spec = getattr(m, side)
                if isinstance(spec, EventAgg):
                    wanted.append((f"metrics[{i}].{side}.event", spec.event))
        elif m.event is not None:
            wanted.append((f"metrics[{i}].event", m.event))
    needs = plan.data_needs
    wanted += [(f"{needs.funnel_field}[{k}]", step) for k, step in enumerate(needs.funnel)]
    return wanted


def _check_events(plan: Plan, events: ir.Table, label: str, event_col: str) -> None:
    """Every event the plan names occurs in the event table (one ``SELECT DISTINCT``): a
    misspelt event would otherwise be analysed as a metric that is zero for everyone."""
    wanted = _wanted_events(plan)
    if not wanted:
        return
    names = events.select(e_=events[event_col].cast("string")).distinct().limit(100_000)
    present = {str(v) for v in fetch(names).column("e_").to_pylist() if v is not None}
    for field, name in wanted:
        if name not in present:
            shown = sorted(present)
            listed = ", ".join(shown[:12]) + (", ..." if len(shown) > 12 else "")
            raise DataError(
                f"{field} '{name}' does not occur in {label}{did_you_mean(name, present)}; "
                f"events there: {listed or 'none'}",
                source=plan.source,
            )


def open_events(plan: Plan, *, all_control: bool = False, scope: Scope | None = None) -> UnitSource:
    """Open the exposure and event tables and derive the unit-level table (lazily).

    ``all_control``: the exposures have no variant column and every unit counts as the
    plan's control (past visitors, :mod:`liftlab.history`).

    ``scope`` (:class:`~liftlab.sources.Scope`): its ``as_of`` cuts the exposure and event
    rows before anything is joined (units first exposed by then, events by then); its
    ``segment`` keeps the units whose first exposure holds those values. Data quality is
    counted over the rows up to ``as_of`` in every segment.
    """
    d = plan.data
    assert d.exposures is not None and d.events is not None
    e, ev, files = _exposures_and_events(plan, all_control)
    if scope is not None:
        check_segment(plan, scope, e, d.exposures)
        e, ev = e.filter(scope.before(e.exposed_at)), ev.filter(scope.before(ev.ts))
    per_unit = _first_exposures(plan, e)
    units = per_unit.filter(per_unit.kept_)

    quality, identity = _quality(plan, e, ev, per_unit, units)
    if scope is not None and scope.segment:
        units = units.filter(scope.within(units))

    right = units.select(u_=units.unit, exp_=units.exposed_at, variant_=units.variant)
    # Only the events some metric or funnel step reads are joined to the units (event
    # streams are mostly other events); the counts by exposure day read the full join.
    read = sorted({name for _, name in _wanted_events(plan)})
    mine = ev.filter(ev.event.isin(read)) if read else ev
    joined = mine.inner_join(right, mine.unit == right.u_)
    everything = ev.inner_join(right, ev.unit == right.u_)
    aggs, layout_cols = _unit_aggregates(plan, joined, _value_scale(plan, ev))
    per_metric = joined.group_by(k_=joined.unit).aggregate(**aggs)
    table = units.left_join(per_metric, units.unit == per_metric.k_).select(
        unit=units.unit,
        variant=units.variant,
        exposed_at=units.exposed_at,
        **{s: units[s] for s in d.segments},
        **{k: per_metric[k].fill_null(0) for k in aggs},
    )
    # Computed once: the statistics run several queries over the unit rows, each of which
    # would otherwise join the events again.
    table = computed(table)
    return UnitSource(
        table=table,
        label=f"{d.exposures} + {d.events}",
        files=files,
        identity=identity,
        layout=Layout(
            "unit",
            "variant",
            "exposed_at",
            layout_cols,
            derived=True,
            funnel=tuple(f"f{k}" for k in range(len(plan.data_needs.funnel))),
        ),
        quality=quality,
        extras={"events": everything.select("variant_", "event", "ts", "exp_")},
    )


def _exposures_and_events(
    plan: Plan, all_control: bool
) -> tuple[ir.Table, ir.Table, tuple[Path, ...]]:
    """The exposure and event tables, checked (columns, timestamp types, the events the plan
    names) and renamed to ``unit, variant, exposed_at, <segments>`` and
    ``unit, event, ts, value``, with the files they were read from."""
    con = connect(plan)
    d = plan.data
    assert d.exposures is not None and d.events is not None
    col = _columns(plan)
    exposures, exp_files = open_table(con, plan, d.exposures, "data.exposures")
    events, ev_files = open_table(con, plan, d.events, "data.events")
    _require(
        plan,
        exposures,
        d.exposures,
        "data.exposures",
        [col["unit"], *([] if all_control else [col["variant"]]), col["exposed_at"], *d.segments],
    )
    _require(
        plan, events, d.events, "data.events", [col["unit"], col["event"], col["ts"], col["value"]]
    )
    _check_types(plan, exposures, d.exposures, "data.exposures", col["exposed_at"])
    _check_types(plan, events, d.events, "data.events", col["ts"])
    _check_events(plan, events, d.events, col["event"])

    e = exposures.select(
        unit=exposures[col["unit"]].cast("string"),
        variant=(
            ibis.literal(plan.control_name)
            if all_control
            else exposures[col["variant"]].cast("string")
        ),
        exposed_at=exposures[col["exposed_at"]],
        **{s: exposures[s] for s in d.segments},
    )
    ev = events.select(
        unit=events[col["unit"]].cast("string"),
        event=events[col["event"]].cast("string"),
        ts=events[col["ts"]],
        value=events[col["value"]].cast("float64"),
    )
    return e, ev, tuple(sorted({*exp_files, *ev_files}))


def _first_exposures(plan: Plan, e: ir.Table) -> ir.Table:
    """One row per exposed unit, computed once in the engine (a temporary table): its first
    exposure time and that row's segments, how many variants it saw (0, 1 or 2 for two or
    more), its variant when it saw one, its exposure rows, and ``kept_`` (one variant, and
    one the plan names). The quality counts and the metric table read it instead of
    grouping the exposures again."""
    names = list(plan.variants)
    ef = e.filter(e.unit.notnull())
    first, last = ef.variant.min(), ef.variant.max()
    # 0, 1 or 2 (two or more) variants: from the least and greatest, which cost a fraction
    # of a count of distinct values
    n_variants = (first != last).ifelse(2, first.notnull().ifelse(1, 0))
    per_unit = ef.group_by("unit").aggregate(
        exposed_at=ef.exposed_at.min(),
        n_variants=n_variants,
        variant=first,
        rows=ef.count(),
        # kept: one variant, and one the plan names. A column of its own (not a filter
        # expression) so that PostgreSQL, which cannot estimate ``n_variants = 1 AND variant
        # IN (...)`` over an aggregate and guesses one row, does not plan nested loops.
        kept_=(n_variants == 1) & first.isin(names),
        **{s: ef[s].argmin(ef.exposed_at) for s in plan.data.segments},
    )
    return computed(per_unit)


def _unit_aggregates(
    plan: Plan, joined: ir.Table, scale: tuple[int, str]
) -> tuple[dict[str, Any], dict[str, tuple[str, str | None]]]:
    """Per unit, the aggregate columns of every metric (``m{i}_y``, and ``m{i}_x`` for a
    ratio's denominator or a pre-period covariate) and funnel step (``f{k}``), over the
    events joined to their units; with the metric layout (metric name to its y and x
    columns)."""
    aggs: dict[str, Any] = {}
    layout_cols: dict[str, tuple[str, str | None]] = {}
    for i, m in enumerate(plan.metrics):
        y_spec, x_spec, x_pre = _sides(m)
        aggs[f"m{i}_y"] = _aggregate(joined, y_spec, 0.0, m.window_days, scale)
        x_name = None
        if x_spec is not None:
            lo, hi = (-m.pre_days, 0.0) if x_pre else (0.0, m.window_days)
            aggs[f"m{i}_x"] = _aggregate(joined, x_spec, lo, hi, scale)
            x_name = f"m{i}_x"
        layout_cols[m.name] = (f"m{i}_y", x_name)
    funnel, window = plan.data_needs.funnel, plan.data_needs.funnel_window_days
    for k, step in enumerate(funnel):  # 0/1 per step; aggregate.py requires the earlier steps
        aggs[f"f{k}"] = _aggregate(
            joined, EventAgg(event=step, aggregate="any"), 0.0, window, scale
        )
    return aggs, layout_cols


def _sides(m: Metric) -> tuple[EventAgg, EventAgg | None, bool]:
    """The (y, x) event aggregates of a metric, and whether x is the pre-period covariate."""
    if m.type == "ratio":
        assert isinstance(m.numerator, EventAgg) and isinstance(m.denominator, EventAgg)
        return m.numerator, m.denominator, False
    assert m.event is not None
    y = EventAgg(event=m.event, aggregate=m.event_aggregate)  # type: ignore[arg-type]
    return y, (y if m.covariate == PRE_PERIOD else None), True


def _sum_events(metrics: Iterable[Metric]) -> list[str]:
    """The events whose ``value`` one of ``metrics`` adds up (``aggregate: sum``)."""
    return sorted(
        {
            s.event
            for m in metrics
            for s in _sides(m)[:2]
            if isinstance(s, EventAgg) and s.aggregate == "sum"
        }
    )


def _value_scale(plan: Plan, ev: ir.Table) -> tuple[int, str]:
    """The fixed-point scale of summed event values (from their largest magnitude, one
    small query; none without a ``sum`` metric) and the engine's backend name."""
    backend = backend_name(ev)
    events = _sum_events(plan.metrics)
    if not events:
        return 0, backend
    mine = ev.filter(ev.event.isin(events))
    row = fetch(mine.aggregate(lo=mine.value.min(), hi=mine.value.max())).to_pylist()[0]
    lo, hi = float(row["lo"] or 0.0), float(row["hi"] or 0.0)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise DataError(
            f"'{plan.data.column('value')}' in {plan.data.events} holds infinite or NaN values "
            f"for {', '.join(events)}; clean them",
            source=plan.source,
            field="data.events",
        )
    return scale_exponent(max(abs(lo), abs(hi))), backend


def _aggregate(
    j: ir.Table, spec: EventAgg, lo_days: float, hi_days: float, scale: tuple[int, str]
) -> ir.Scalar:
    """Per unit: ``spec.aggregate`` of ``spec.event`` with ``exp_ + lo <= ts < exp_ + hi``
    (a ``sum`` exactly, in fixed point at ``scale``: see :func:`_value_scale`)."""
    lo = j.exp_ + ibis.interval(seconds=round(lo_days * DAY_SECONDS))
    hi = j.exp_ + ibis.interval(seconds=round(hi_days * DAY_SECONDS))
    hit = (j.event == spec.event) & (j.ts >= lo) & (j.ts < hi)
    if spec.aggregate == "sum":
        k, backend = scale
        total = fixed_point_sum(hit.ifelse(j.value.fill_null(0.0), 0.0), k, backend)
        return total.cast("float64") * (2.0**-k)
    # Portable 0/1: PostgreSQL cannot cast boolean to bigint, and reads a bare ``1.0`` literal
    # as NUMERIC (whose sums come back as Decimal); integers, then one cast to float64.
    one = hit.ifelse(1, 0)
    if spec.aggregate == "repeat":  # two or more of the event in the window: 0/1
        return (one.sum() >= 2).ifelse(1, 0).cast("float64")
    return (one.sum() if spec.aggregate == "count" else one.max()).cast("float64")


def _quality(
    plan: Plan,
    e: ir.Table,
    ev: ir.Table,
    per_unit: ir.Table,
    units: ir.Table,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Data-quality counts over the raw tables (two small queries) and the tables' identity."""
    exp_row = _exposure_counts(plan, e, per_unit)
    checked = _sum_events(m for m in plan.metrics if not m.allow_negative)
    ev_row = _event_counts(ev, units, checked)

    def n(v: Any) -> int:
        return int(v or 0)

    quality: dict[str, Any] = {
        "exposures": {
            "rows": n(exp_row["rows"]),
            "units": n(exp_row["units"]),
            "null_unit_rows": n(exp_row["null_unit_rows"]),
            "duplicate_rows": n(exp_row["duplicate_rows"]),
            "multi_variant_units": n(exp_row["multi_variant_units"]),
            "unknown_variant_rows": n(exp_row["unknown_variant_rows"]),
            "unknown_variant_units": n(exp_row["unknown_variant_units"]),
        },
        "events": {
            "rows": n(ev_row["rows"]),
            "null_unit_rows": n(ev_row["null_unit_rows"]),
            "unexposed_unit_rows": n(ev_row["unexposed"]),
            "negative_value_rows": n(ev_row["negative"]),
            "negative_checked_events": checked,
        },
    }
    excluded = (
        quality["exposures"]["multi_variant_units"] + quality["exposures"]["unknown_variant_units"]
    )
    quality["excluded_units"] = excluded
    identity = {
        "exposures.rows": quality["exposures"]["rows"],
        "exposures.max_exposed_at": str(exp_row["max_exposed_at"]),
        "events.rows": quality["events"]["rows"],
        "events.max_ts": str(ev_row["max_ts"]),
    }
    return quality, identity


def _exposure_counts(plan: Plan, e: ir.Table, per_unit: ir.Table) -> dict[str, Any]:
    """The exposure rows' counts (rows, rows with no unit id or a variant the plan does not
    name, the latest exposure) and the per-unit ones (units, duplicate rows, units with more
    than one variant or one the plan does not name): one query."""
    names = list(plan.variants)
    raw = e.aggregate(
        rows=e.count(),
        null_unit_rows=e.unit.isnull().sum(),
        unknown_variant_rows=(~e.variant.isin(names) | e.variant.isnull()).sum(),
        max_exposed_at=e.exposed_at.max(),
    )
    pu = per_unit.aggregate(
        units=per_unit.count(),
        duplicate_rows=(per_unit.rows - 1).sum(),
        multi_variant_units=(per_unit.n_variants > 1).sum(),
        unknown_variant_units=((per_unit.n_variants == 1) & ~per_unit.variant.isin(names)).sum(),
    )
    row: dict[str, Any] = fetch(raw.cross_join(pu)).to_pylist()[0]
    return row


def _event_counts(ev: ir.Table, units: ir.Table, checked: list[str]) -> dict[str, Any]:
    """The event rows' counts: rows, rows with no unit id, rows of units never exposed (or
    excluded), negative values of the ``checked`` events, the latest event: one query."""
    if backend_name(ev) == "duckdb":
        # a membership test (a mark join) costs a fifth less than the left join in DuckDB;
        # PostgreSQL and Spark plan ``IN (subquery)`` in a select list badly or not at all
        lj, exposed = ev, ev.unit.isin(units.unit)
    else:
        seen = units.select(s_=units.unit, one_=ibis.literal(1))
        lj = ev.left_join(seen, ev.unit == seen.s_)
        exposed = lj.one_.notnull()
    row: dict[str, Any] = fetch(
        lj.aggregate(
            rows=lj.count(),
            null_unit_rows=lj.unit.isnull().sum(),
            unexposed=(lj.unit.notnull() & ~exposed).sum(),
            negative=(lj.event.isin(checked or [""]) & (lj.value < 0)).sum(),
            max_ts=lj.ts.max(),
        )
    ).to_pylist()[0]
    return row


def events_by_exposure_day(
    src: UnitSource, events: list[str], days: int
) -> dict[str, dict[str, list[int]]]:
    """Per variant and event, the count of ``events`` on each day since a unit's first
    exposure (day 0 = its first 24 hours, up to ``days - 1``), one grouped query.

    Only for event-table plans (``src.extras["events"]``, the events joined to kept units);
    the count of impressions and clicks by exposure day is what creative fatigue needs.
    """
    j = src.extras.get("events")
    if j is None:
        raise DataError("counts by exposure day need event tables (data.exposures, data.events)")
    day = ((j.ts.epoch_seconds() - j.exp_.epoch_seconds()) // DAY_SECONDS).cast("int64")
    hits = j.filter(j.event.isin(events) & (j.ts >= j.exp_)).mutate(day_=day)
    hits = hits.filter(hits.day_ < days)
    rows = fetch(
        hits.group_by(v_=hits.variant_, e_=hits.event, d_=hits.day_).aggregate(n=hits.count())
    ).to_pylist()
    out: dict[str, dict[str, list[int]]] = {}
    for r in rows:
        per = out.setdefault(str(r["v_"]), {e: [0] * days for e in events})
        per[str(r["e_"])][int(r["d_"])] += int(r["n"])
    return out
