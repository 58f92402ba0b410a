"""Precomputed sufficient statistics (from dbt or a warehouse job), accepted as they are.

A file with one row per metric × variant (× ``day``, optionally) and the columns ``metric``,
``variant``, ``n``, ``sum_y``, ``sum_y2`` and, where needed, ``sum_x``, ``sum_x2``,
``sum_xy`` (``y`` the value or a ratio's numerator; ``x`` a ratio's denominator or the CUPED
covariate). Rows of one metric and variant (several days) add up. The file is small, so it
is read whole through DuckDB.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from liftlab.aggregate import UnitStats
from liftlab.errors import DataError, did_you_mean
from liftlab.plan import Metric, Plan
from liftlab.sources import UnitSource, duckdb_connect, fetch, read_files
from liftlab.stats.moments import Moments

REQUIRED = ("metric", "variant", "n", "sum_y", "sum_y2")
OPTIONAL = ("sum_x", "sum_x2", "sum_xy")


Sums = dict[tuple[str, str, Any], Moments]


def read_statistics(plan: Plan) -> tuple[UnitStats, UnitSource]:
    """Read ``data.statistics`` into :class:`UnitStats`; raise DataError naming the fix."""
    spec = plan.data.statistics
    assert spec is not None
    table, files = read_files(
        duckdb_connect(), spec, plan.resolve(spec), plan=plan, field_name="data.statistics"
    )
    names = list(table.schema().names)
    _check_columns(plan, spec, names)
    rows: list[dict[str, Any]] = fetch(table).to_pylist()
    metrics = {m.name: m for m in plan.metrics}
    sums = _sum_rows(plan, spec, rows, by_day="day" in names)
    missing = [m for m in metrics if not any(k[0] == m for k in sums)]
    if missing:
        in_file = sorted({str(r["metric"]) for r in rows} - set(metrics))
        raise DataError(
            f"{spec} has no rows for metric '{missing[0]}'{did_you_mean(missing[0], in_file)}; "
            "add them, rename the metric or remove it",
            source=plan.source,
            field="data.statistics",
        )
    return _unit_stats(plan, sums), UnitSource(table=table, label=spec, files=files)


def _check_columns(plan: Plan, spec: str, names: list[str]) -> None:
    """The file has every column of :data:`REQUIRED`."""
    for col in REQUIRED:
        if col not in names:
            raise DataError(
                f"'{col}' is not a column of {spec}{did_you_mean(col, names)}; the file needs "
                f"{', '.join(REQUIRED)} (and {', '.join(OPTIONAL)} for ratio and CUPED metrics)",
                source=plan.source,
                field="data.statistics",
            )


def _sum_rows(plan: Plan, spec: str, rows: list[dict[str, Any]], *, by_day: bool) -> Sums:
    """The rows' moments added up per (metric, variant, day), ``day`` None without a ``day``
    column; rows of metrics the plan does not read are skipped (other metrics of the same
    model are fine)."""
    metrics = {m.name: m for m in plan.metrics}
    sums: Sums = defaultdict(lambda: Moments(0, 0.0, 0.0))
    for r in rows:
        metric, variant = str(r["metric"]), str(r["variant"])
        if metric not in metrics:
            continue  # other metrics of the same model are fine
        if variant not in plan.variants:
            raise DataError(
                f"{spec} has variant '{variant}' that the plan does not name"
                f"{did_you_mean(variant, plan.variants)}; add it to variants or filter the file",
                source=plan.source,
                field="variants",
            )
        key = (metric, variant, r["day"] if by_day else None)
        sums[key] = sums[key] + _row_moments(plan, spec, r, metrics[metric])
    return sums


def _row_moments(plan: Plan, spec: str, r: dict[str, Any], m: Metric) -> Moments:
    """One row's moments; a ratio or CUPED metric needs the ``x`` sums, and every sum a
    number."""
    metric, variant = str(r["metric"]), str(r["variant"])
    needs_x = m.type == "ratio" or m.covariate is not None
    if needs_x and any(r.get(c) is None for c in OPTIONAL):
        raise DataError(
            f"metric '{metric}' is a {'ratio' if m.type == 'ratio' else 'CUPED'} metric: "
            f"{spec} needs sum_x, sum_x2 and sum_xy for it",
            source=plan.source,
            field="data.statistics",
        )
    try:
        return Moments(
            int(r["n"]),
            float(r["sum_y"]),
            float(r["sum_y2"]),
            *(float(r.get(c) or 0.0) for c in OPTIONAL),
        )
    except (TypeError, ValueError):
        raise DataError(
            f"row for metric '{metric}', variant '{variant}' in {spec} has an empty or "
            "non-numeric n or sum; fill it in",
            source=plan.source,
            field="data.statistics",
        ) from None


def _unit_stats(plan: Plan, sums: Sums) -> UnitStats:
    """Per metric and variant, the moments over all days (and each day's when the file has
    a ``day`` column); the unit counts are those of the plan's first metric."""
    metrics = [m.name for m in plan.metrics]
    zero = Moments(0, 0.0, 0.0)
    days: list[dt.date] = sorted({k[2] for k in sums if k[2] is not None})
    moments = {
        m: {
            v: _total((s for (mm, vv, _), s in sums.items() if mm == m and vv == v), zero)
            for v in plan.variants
        }
        for m in metrics
    }
    first = metrics[0]
    counts = {v: moments[first][v].n for v in plan.variants}
    daily: dict[str, dict[str, list[Moments]]] = {}
    daily_counts: dict[str, list[int]] = {}
    if days:
        daily = {
            m: {v: [sums.get((m, v, d), zero) for d in days] for v in plan.variants}
            for m in metrics
        }
        daily_counts = {v: [s.n for s in daily[first][v]] for v in plan.variants}
    return UnitStats(
        counts=counts, moments=moments, days=days, daily=daily, daily_counts=daily_counts
    )


def _total(items: Any, zero: Moments) -> Moments:
    acc = zero
    for m in items:
        acc = acc + m
    return acc
