"""Open a plan's data, whatever its shape, as one unit-level source.

The one module that knows every shape of data: a unit table (a file or an engine's table,
:mod:`liftlab.sources`), event tables (:mod:`liftlab.events`), an ad-platform export
(:mod:`liftlab.exports`) or precomputed sums (:mod:`liftlab.precomputed`). The modules below
it know none of each other, so the data layer has no import cycle (a layers contract in
``pyproject.toml`` keeps it so): :mod:`liftlab.sources` opens files and tables, then
:mod:`liftlab.aggregate` turns unit rows into sums, then each shape's module derives unit
rows, then this module picks the shape.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from liftlab.aggregate import check_columns
from liftlab.errors import DataError, did_you_mean
from liftlab.events import open_events
from liftlab.exports import open_export
from liftlab.plan import Plan
from liftlab.precomputed import read_statistics
from liftlab.sources import (
    Scope,
    UnitSource,
    check_segment,
    connect,
    duckdb_connect,
    open_table,
    read_files,
    table_identity,
    unit_table,
)


def open_units(
    plan: Plan, data: str | Path | None = None, *, scope: Scope | None = None
) -> UnitSource:
    """Open the plan's unit table (or ``data``, a path overriding ``data.units``).

    Files are read by the plan's engine (DuckDB by default); a name without a file suffix is
    a table in ``data.engine`` (e.g. a PostgreSQL table), opened lazily like event tables.
    ``scope`` keeps the units exposed up to its ``as_of`` (by ``data.timestamp``) and in its
    segments; event tables are cut by :func:`liftlab.events.open_events`.
    """
    if data is not None:
        if plan.data.on_events or plan.data.on_aggregates:
            raise DataError(
                "--data replaces a unit table, but this plan reads "
                + ("event tables" if plan.data.on_events else "an ad-platform export")
                + "; change data.exposures/data.events or data.aggregates instead",
                source=plan.source,
                field="data",
            )
        spec = str(data)
        table, files = read_files(duckdb_connect(), spec, Path(spec), plan=plan, field_name=None)
        return _scoped(plan, UnitSource(table=table, label=spec, files=files), scope)
    if plan.data.on_events:
        return open_events(plan, scope=scope)
    if plan.data.on_aggregates:
        return open_export(plan, scope=scope)
    units = plan.data.units
    assert units is not None
    con = connect(plan)
    table, files = open_table(con, plan, units, "data.units")  # a file, or a table in the engine
    identity = {} if files else table_identity(table, plan.data.timestamp, prefix=units)
    return _scoped(
        plan, UnitSource(table=table, label=units, files=files, identity=identity), scope
    )


def _scoped(plan: Plan, src: UnitSource, scope: Scope | None) -> UnitSource:
    """``src`` with its rows cut to ``scope`` (its as_of by ``data.timestamp``, its segments)."""
    src = unit_table(plan, src)
    if scope is None:
        return src
    table = src.table
    check_segment(plan, scope, table, src.label)
    if scope.as_of is not None:
        ts = plan.data.timestamp
        assert ts is not None  # Scope.of checked it
        if ts not in table.columns:
            raise DataError(
                f"'{ts}' is not a column of {src.label}{did_you_mean(ts, list(table.columns))}",
                source=plan.source,
                field="data.timestamp",
            )
        table = table.filter(scope.before(table[ts]))
    if scope.segment:
        table = table.filter(scope.within(table))
    return replace(src, table=table)


def check_data(plan: Plan, *, rows: int = 1000) -> None:
    """Open the plan's data as :func:`liftlab.analysis.analyze` would and check what its
    schema and first ``rows`` rows can tell: the columns the plan names exist and hold numbers
    (yes/no text for proportions), without reading the whole table. Raises DataError."""
    d = plan.data
    if d.statistics is not None:
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


__all__ = ["check_data", "open_units"]
