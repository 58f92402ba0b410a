"""Metric definitions compiled to Ibis aggregations that return sufficient statistics.

For a unit table the engine answers a few queries and sends back a few numbers per group,
never the rows:

1. the *checks*: row count, each metric column's nulls, least and greatest value (in DuckDB
   read from a Parquet file's metadata, without reading rows) and the number of distinct
   unit ids (a bitmap in DuckDB for integer ids, else ``COUNT(DISTINCT)``);
2. the *sums* query, grouped by variant (and by UTC day of ``data.timestamp`` when the plan
   names one). Each metric declares its sums (count, ``Σy``, ``Σy²``, ``Σx``, ``Σx²``,
   ``Σxy``, ``y`` the value or numerator, ``x`` the denominator or covariate, after the cap),
   so do its cap-sensitivity levels (no cap / p99 / p99.9) and the plan's kind (cross
   products); :class:`Sums` compiles their union, each distinct product once, into exact
   fixed-point sums that do not depend on the order rows are added in: the same results on
   one thread or many. This pass sums the uncapped products and also counts null ids,
   variants and timestamps, the values each cap's quantile is taken over, and (grouped by
   variant only, in DuckDB) the distinct unit ids;
3. the *tail*: in DuckDB, a block sample bounds each capped column's top few percent and
   one filtered scan writes those rows to a small temporary table, from which the caps
   follow exactly (``quantile_cont``, pooled over variants, of the non-zero values unless
   the cap says ``among: all``; see :class:`~liftlab.plan.Cap`); elsewhere the checks query
   computes the quantiles;
4. the *corrections*, over the rows above some cap only (the tail table, when it holds them
   all): the difference each cap makes to each capped sum, added to the uncapped sums
   exactly (:class:`Compiled`).

Per-variant totals are exact integer sums of the per-day groups, converted to floats once,
so the daily cumulative series for sequential monitoring costs no extra query. Only
resampling methods (bootstrap, rank tests) read unit-level values, through
:func:`metric_values`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import ibis
import ibis.expr.datatypes as idt
import ibis.expr.types as ir
import numpy as np

from liftlab.errors import DataError, did_you_mean
from liftlab.plan import Metric, Plan
from liftlab.sources import UnitSource, computed, fetch, forget, rows_are_units
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
        funnel = plan.data_needs.funnel  # 0/1 columns of the unit table
        return cls(
            unit=plan.unit,
            variant=plan.data.variant_column,
            timestamp=plan.data.timestamp,
            columns={m.name: _yx(m) for m in plan.metrics},
            funnel=funnel,
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
      :attr:`liftlab.plan.Plan.data_needs`), per variant, the sum over units of the product
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


def _num(col: ir.Column) -> ir.FloatingColumn:
    return col.cast("float64")


def _yx(m: Metric) -> tuple[str, str | None]:
    if m.type == "ratio":
        return str(m.numerator), str(m.denominator)
    return str(m.column), m.covariate


def _capped(col: ir.FloatingColumn, cap: float | None) -> ir.FloatingColumn:
    return col if cap is None else col.clip(upper=cap)


# ---- exact sums ------------------------------------------------------------------------------
SCALE_BITS = 59
"""Every term is scaled so that its largest possible value is below ``2**59`` (< 10**18)."""


def scale_exponent(bound: float) -> int:
    """The power of two ``k`` that scales values of magnitude up to ``bound`` into
    ``(-2**59, 2**59)``: ``bound < 2**e`` gives ``k = 59 - e`` (any ``k`` fits a bound of 0)."""
    if not bound:
        return 0
    return SCALE_BITS - math.frexp(bound)[1]


def fixed_point_sum(value: ir.NumericValue, k: int, backend: str) -> ir.NumericScalar:
    """``Σ int(value · 2**k)`` over the rows, summed as exact integers.

    ``value`` must stay within ``(-2**59, 2**59)`` once scaled (see :func:`scale_exponent`).
    Each scaled value becomes a 64-bit integer by the engine's own cast (to the nearest in
    DuckDB and PostgreSQL, toward zero in Spark: an error below one unit, ``2**-k``), and the
    integers add exactly in any order: DuckDB sums them in HUGEINT (overflow past ``2**127``,
    more than ``2**68`` rows), PostgreSQL in NUMERIC (no bound), Spark as ``DECIMAL(18, 0)``
    into ``DECIMAL(28, 0)`` (``10**28 / 2**59``: 1.7e10 rows per group). The result is a
    ``DECIMAL(38, 0)``; divide by ``2**k`` after the last exact addition.
    """
    return _fixed(value, k, backend).sum().cast(idt.Decimal(38, 0))


def backend_name(t: ir.Table) -> str:
    """The Ibis backend a table runs on (``duckdb``, ``postgres``, ``pyspark``, ...)."""
    try:
        return str(t._find_backend().name)
    except Exception:  # an unbound table: no engine to specialise for
        return ""


@dataclass(frozen=True)
class Side:
    """One value per unit: ``column`` (as a number) after an optional upper ``cap``."""

    column: str
    cap: float | None = None

    def key(self) -> tuple[str, float]:
        return (self.column, math.inf if self.cap is None else self.cap)


@dataclass(frozen=True)
class Span:
    """What the checks query found of one column: ``lo``/``hi`` its least and greatest
    value, ``integer`` whether the engine stores it as integers (or yes/no)."""

    lo: float
    hi: float
    integer: bool

    def bound(self, cap: float | None) -> float:
        """The largest magnitude of the column's values after capping at ``cap``."""
        lo, hi = (self.lo, self.hi) if cap is None else (min(self.lo, cap), min(self.hi, cap))
        return max(abs(lo), abs(hi))


class Sums:
    """The union of the sums that metrics, cap levels and kinds need, each compiled once.

    A *term* is a product of one or two :class:`Side` values; ``need`` registers one and
    returns the name its sum comes back under, so that the same product asked for twice
    (a metric's cap and the sensitivity level with the same cap, ``x·y`` and ``y·x``) is one
    sum in the engine.

    Sums are exact and independent of row order (:func:`fixed_point_sum`), so results are
    byte-identical on any number of threads. A term over integer columns that no cap applies
    to, whose products stay below ``2**59``, is summed as integers (``k = 0``, no rounding at
    all). Any other term is scaled by ``2**k`` with ``k = 59 - e``, where ``B < 2**e`` bounds
    the term's magnitude (``B``: the product of each column's largest magnitude, from its
    least and greatest value before any quantile cap), and converted to an integer: an error
    below ``2**-k <= B·2**-58`` per row. So a sum ``S`` of ``n`` terms differs from the exact
    sum of the float64 terms by at most ``n·B·2**-58`` before its one final rounding to
    float64 (relative ``2**-53``). Relative to ``Σ|t|`` that is ``(B / mean|t|)·2**-58``:
    4e-16 when ``B`` is a hundred times the mean magnitude, 3.5e-12 when it is a million
    times; float64 summation in some thread order errs up to ``n·2**-53`` relative.
    """

    def __init__(self, cappable: frozenset[str] = frozenset()) -> None:
        self.names: dict[tuple[Side, ...], str] = {}
        self.cappable = cappable  # columns some cap may apply to: always scaled as floats

    def need(self, *sides: Side) -> str:
        term = tuple(sorted(sides, key=Side.key))
        return self.names.setdefault(term, f"t{len(self.names)}")

    def moments(self, y: Side, x: Side | None) -> tuple[str, ...]:
        """The names of ``Σy, Σy², Σx, Σx², Σxy`` (the first two without ``x``)."""
        names = (self.need(y), self.need(y, y))
        if x is None:
            return names
        return (*names, self.need(x), self.need(x, x), self.need(x, y))

    def compile(
        self, t: ir.Table, spans: dict[str, Span], backend: str, capped_only: bool = False
    ) -> Compiled:
        """The engine aggregates of every term (see :class:`Compiled`), or of the capped
        terms only (for a table of the rows above the caps). A base sum is named after its
        product and scale, so that two compilations of the same data agree."""
        out = Compiled()
        for term, name in self.names.items():
            if capped_only and all(s.cap is None for s in term):
                continue
            cols = tuple(s.column for s in term)
            sides = [spans[s.column] for s in term]
            pairs = zip(sides, term, strict=True)
            bound = math.prod(max(sp.bound(None), sp.bound(s.cap)) for sp, s in pairs)
            capped = [s for s in term if s.cap is not None]
            ints = (
                bound < 2.0**SCALE_BITS
                and all(sp.integer for sp in sides)
                and not set(cols) & self.cappable
            )
            k = out.scales[name] = 0 if ints else scale_exponent(bound)
            raw = _product(t, tuple(Side(c) for c in cols), ints)
            base = out.start[name] = f"b:{'*'.join(cols)}:{k}"
            out.base[base] = fixed_point_sum(raw, k, backend)
            value = _product(t, term, ints)
            out.direct[name] = fixed_point_sum(value, k, backend) if capped else None
            if capped:
                diff = _fixed(value, k, backend) - _fixed(raw, k, backend)
                out.tails[name] = diff.sum().cast(idt.Decimal(38, 0))
                for s in capped:
                    cap = float(s.cap) if s.cap is not None else math.inf
                    out.lowest[s.column] = min(out.lowest.get(s.column, math.inf), cap)
        for col, cap in out.lowest.items():  # above the lowest cap of a column: a tail row
            over = t[col] > cap
            out.where = over if out.where is None else out.where | over
        return out


@dataclass
class Compiled:
    """The engine aggregates of a :class:`Sums`.

    ``base``: one sum per distinct product of uncapped columns (and scale), over all rows;
    ``tails``: per capped term, ``Σ int(capped·2**k) - int(raw·2**k)`` over the rows where
    some capped column exceeds its cap (``where``; elsewhere the difference is 0), so a
    capped sum is its base plus its tail, exactly, and the expensive capped products run on
    the few rows above a cap instead of every row. ``start``: each term's base sum;
    ``scales``: each term's ``k``; ``direct``: a capped term's sum in one aggregate (for the
    segment query; None for uncapped terms, whose base is their sum); ``lowest``: each
    capped column's lowest cap.
    """

    base: dict[str, Any] = field(default_factory=dict)
    tails: dict[str, Any] = field(default_factory=dict)
    where: Any = None
    scales: dict[str, int] = field(default_factory=dict)
    start: dict[str, str] = field(default_factory=dict)
    direct: dict[str, Any] = field(default_factory=dict)
    lowest: dict[str, float] = field(default_factory=dict)

    def aggregate(self, name: str) -> Any:
        """The one aggregate that sums term ``name``."""
        direct = self.direct.get(name)
        return direct if direct is not None else self.base[self.start[name]]

    def resolve(self, row: dict[str, Any], tail: dict[str, Any] | None) -> dict[str, int]:
        """Each term's exact sum in one group: its base sum plus its tail correction."""
        out = {}
        for name, base in self.start.items():
            value = int(row[base] or 0)
            if tail is not None and name in self.tails:
                value += int(tail[name] or 0)
            out[name] = value
        return out


def _fixed(value: ir.NumericValue, k: int, backend: str) -> ir.IntegerValue:
    """``value · 2**k`` as a 64-bit integer (``DECIMAL(18, 0)`` in Spark), by the engine's cast."""
    scaled = value if k == 0 else value * (2.0**k)
    return scaled.cast(idt.Decimal(18, 0)) if backend == "pyspark" else scaled.cast("int64")


def _product(t: ir.Table, term: tuple[Side, ...], ints: bool) -> ir.NumericValue:
    """The product of a term's sides: as 64-bit integers, or as float64 after the caps
    (``LEAST``: the checks query has ruled out empty values)."""
    value: Any = None
    for s in term:
        col = t[s.column]
        if ints:
            side = col.cast("int64")
        else:
            side = _num(col) if s.cap is None else ibis.least(_num(col), s.cap)
        value = side if value is None else value * side
    return value


def _exact(row: dict[str, Any], names: Iterator[str] | tuple[str, ...]) -> tuple[int, ...]:
    return tuple(int(row[k] or 0) for k in names)


def fixed_point_value(total: int, k: int) -> float:
    """An exact scaled integer sum (:func:`fixed_point_sum`) as the nearest float64: its
    one rounding."""
    return math.ldexp(float(total), -k)


@dataclass
class _Acc:
    """Exact integer sums of the terms, added group by group (order does not matter)."""

    scales: dict[str, int]
    n: int = 0
    totals: dict[str, int] = field(default_factory=dict)

    def add(self, row: dict[str, Any], names: tuple[str, ...]) -> None:
        self.n += int(row["n"])
        for name, value in zip(names, _exact(row, names), strict=True):
            self.totals[name] = self.totals.get(name, 0) + value

    def value(self, name: str) -> float:
        return fixed_point_value(self.totals.get(name, 0), self.scales[name])

    def moments(self, names: tuple[str, ...]) -> Moments:
        return Moments(self.n, *(self.value(k) for k in names))


def _row_moments(row: dict[str, Any], names: tuple[str, ...], scales: dict[str, int]) -> Moments:
    acc = _Acc(scales)
    acc.add(row, names)
    return acc.moments(names)


# ---- query 1: checks, quantiles and column spans ---------------------------------------------
def _quantile(col: ir.Column, qs: list[float], among: str) -> ir.Scalar:
    """The ``qs`` quantiles (``quantile_cont``: linear interpolation) of a column pooled over
    variants, of its non-zero values (``among="nonzero"``, the default, see
    :class:`liftlab.plan.Cap`) or of all of them; one engine aggregate per column."""
    values = _num(col)
    if among == "nonzero":
        values = values.nullif(0.0)
    return values.quantile(qs)


def _wanted_quantiles(plan: Plan, lay: Layout) -> dict[tuple[str, str], list[float]]:
    """Per (column, among): the quantiles the caps and the sensitivity levels need."""
    wanted: dict[tuple[str, str], set[float]] = {}
    for m in plan.metrics:
        among = m.cap.among if m.cap is not None else "nonzero"
        qs = {q for _, q in SENSITIVITY_LEVELS if q is not None} if m.type == "mean" else set()
        if m.cap is not None and m.cap.quantile is not None:
            qs.add(m.cap.quantile)
        for col in lay.columns[m.name]:
            if col is not None and qs:
                wanted.setdefault((col, among), set()).update(qs)
    return {key: sorted(qs) for key, qs in wanted.items()}


# Widest id range (max - min + 1) whose distinct ids are counted with a bitmap in DuckDB:
# 2**30 bits, 128 MiB per thread.
BITMAP_IDS = 2**30


def _distinct_units(col: ir.Column, span: dict[str, Any], backend: str) -> ir.IntegerScalar:
    """The number of distinct unit ids, exactly: in DuckDB, integer ids spanning at most
    :data:`BITMAP_IDS` (``span``: their least and greatest, ``unit_lo``/``unit_hi``) are
    counted with a bitmap (``bit_count(bitstring_agg(id, min, max))``, several times faster
    than a hash table); else ``COUNT(DISTINCT unit)``."""
    lo, hi = span.get("unit_lo"), span.get("unit_hi")
    if backend == "duckdb" and lo is not None and hi is not None and hi - lo < BITMAP_IDS:
        return _bit_count(_bitstring_agg(col.cast("int64"), int(lo), int(hi)))
    return col.nunique()


# The most bitmap bytes the sums query may hold for counting distinct ids (one bitmap per
# variant; see _bitmap_in_sums).
BITMAP_BYTES_IN_SUMS = 2**26


def _bitmap_in_sums(
    plan: Plan, lay: Layout, found: dict[str, Any], backend: str
) -> tuple[int, int] | None:
    """The id range ``(lo, hi)`` when the sums query itself can count distinct ids (saving
    a pass over the id column): DuckDB, integer ids of a table of its own, sums grouped by
    variant only (no days), and one bitmap per variant within :data:`BITMAP_BYTES_IN_SUMS`.
    Each group's bitmap of ids is OR-ed over the groups in the engine and its set bits
    counted: exactly ``COUNT(DISTINCT id)`` over the table (an id in two variants, or twice
    in one, is one bit)."""
    lo, hi = found.get("unit_lo"), found.get("unit_hi")
    if backend != "duckdb" or lay.derived or lay.timestamp is not None or lo is None or hi is None:
        return None
    width = int(hi) - int(lo) + 1
    if width > BITMAP_IDS or len(plan.variants) * width / 8 > BITMAP_BYTES_IN_SUMS:
        return None
    return int(lo), int(hi)


@ibis.udf.agg.builtin(name="bit_or")
def _bit_or(arg: idt.binary) -> idt.binary:  # type: ignore[empty-body]
    """DuckDB's bitwise OR of bitstrings."""


@ibis.udf.agg.builtin(name="bitstring_agg")
def _bitstring_agg(arg: idt.int64, lo: idt.int64, hi: idt.int64) -> idt.binary:  # type: ignore[empty-body]
    """DuckDB's bitmap of the integers in ``[lo, hi]`` that occur."""


@ibis.udf.scalar.builtin(name="bit_count")
def _bit_count(arg: idt.binary) -> idt.int64:  # type: ignore[empty-body]
    """DuckDB's count of set bits."""


def _span_aggregates(plan: Plan, t: ir.Table, lay: Layout) -> dict[str, Any]:
    """Row count, each metric column's non-null count, least and greatest value, and the
    least and greatest integer unit id: plain ``COUNT``/``MIN``/``MAX`` of stored columns,
    which DuckDB answers from a Parquet file's metadata without reading the rows."""
    aggs: dict[str, Any] = {"rows": t.count()}
    if lay.unit in t.columns and not lay.derived and t[lay.unit].type().is_integer():
        aggs |= {"unit_lo": t[lay.unit].min(), "unit_hi": t[lay.unit].max()}
    for col in _metric_columns(plan, lay):
        aggs |= {f"n_{col}": t[col].count(), f"lo_{col}": t[col].min(), f"hi_{col}": t[col].max()}
    return aggs


def _checks(
    plan: Plan, t: ir.Table, lay: Layout, backend: str
) -> tuple[dict[str, Any], dict[tuple[str, str], list[float]], dict[int, float]]:
    """The checks over all units before the sums: row count, distinct ids, each metric
    column's nulls, least and greatest value, and its quantiles (each column's list of
    quantiles in one aggregate). In DuckDB, on a table of its own, counts and extremes come
    from the file's metadata and quantiles from the tail of each column (see
    :func:`_tail_quantiles`); elsewhere all is one query. Null ids, variants and timestamps
    are counted by the sums query (:func:`_null_counts`)."""
    spans = _span_aggregates(plan, t, lay)
    checks: dict[str, Any] = {}
    found: dict[str, Any] = {}
    if backend == "duckdb" and not lay.derived:
        found = fetch(t.aggregate(**spans)).to_pylist()[0]
    else:
        checks |= spans
    in_sums = _bitmap_in_sums(plan, lay, found, backend) is not None  # counted there
    if not in_sums and lay.unit in t.columns and not lay.derived:  # derived: one row per unit
        checks["distinct_units"] = _distinct_units(t[lay.unit], found, backend)
    wanted = _wanted_quantiles(plan, lay)
    bounds = _sample_bounds(t, wanted, found) if found else {}
    for j, ((col, among), qs) in enumerate(wanted.items()):
        if j not in bounds:  # else from the tail (_tail_table, _tail_quantiles)
            checks[f"q{j}"] = _quantile(t[col], qs, among)
    row = found | (fetch(t.aggregate(**checks)).to_pylist()[0] if checks else {})
    return row, wanted, bounds


def _tail_counts(
    t: ir.Table, wanted: dict[tuple[str, str], list[float]], bounds: dict[int, float]
) -> dict[str, Any]:
    """Per column with a sample bound, the count its quantiles' ranks are taken over (an
    aggregate of the sums query, per group)."""
    return {
        f"k{j}": _considered(t[col], among).count()
        for j, (col, among) in enumerate(wanted)
        if j in bounds
    }


def _tail_table(
    t: ir.Table,
    lay: Layout,
    cols: list[str],
    wanted: dict[tuple[str, str], list[float]],
    bounds: dict[int, float],
) -> ir.Table | None:
    """The rows at or above some column's sample bound (a few percent of the rows; the
    variant, the timestamp and ``cols``) in one filtered scan, computed once into a
    temporary table in the engine (:func:`liftlab.sources.computed`), from which the
    quantiles' values and the capped sums' corrections are read. None without bounds.
    Dropped by :func:`_drop`."""
    where = None
    for j, (col, _) in enumerate(wanted):
        if j in bounds:
            over = t[col] >= bounds[j]
            where = over if where is None else where | over
    if where is None:
        return None
    keep = list(dict.fromkeys([lay.variant, *([lay.timestamp] if lay.timestamp else []), *cols]))
    return computed(t.filter(where).select(*keep))


def _tail_columns(plan: Plan, lay: Layout) -> list[str]:
    """The columns a capped sum can involve: those of metrics that have a cap or cap levels
    (means), and of the metrics in the kind's cross products."""
    crossed = {side.split(".")[0] for pair in plan.data_needs.cross_products for side in pair}
    return [
        c
        for m in plan.metrics
        if m.cap is not None or m.type == "mean" or m.name in crossed
        for c in lay.columns[m.name]
        if c is not None
    ]


def _drop(tail: ir.Table | None) -> None:
    if tail is not None:
        forget(tail)


# Quantiles from the tail (DuckDB, tables of their own): a sample of about this many rows
# places a lower bound below the smallest quantile asked for, with this margin in rank.
TAIL_SAMPLE_ROWS = 50_000
TAIL_MARGIN = 0.02


def _considered(col: ir.Column, among: str) -> ir.FloatingColumn:
    values = _num(col)
    return values.nullif(0.0) if among == "nonzero" else values


def _sample_bounds(
    t: ir.Table, wanted: dict[tuple[str, str], list[float]], found: dict[str, Any]
) -> dict[int, float]:
    """Per wanted column, a value below its smallest quantile asked for, from a block sample
    (``TABLESAMPLE system``, seeded): the quantile ``2·q - 1 - 0.02`` of the sample (0.96 for
    a p99), so that the exact quantiles sit among the few rows above it. None for a column
    whose bound is its least value (a column mostly of one value: no short tail)."""
    rows = int(found["rows"])
    if not wanted or rows < 4 * TAIL_SAMPLE_ROWS:
        return {}
    sample = t.sample(TAIL_SAMPLE_ROWS / rows, method="block", seed=1)
    aggs = {
        f"l{j}": _considered(sample[col], among).quantile(
            min(1.0, max(0.5, 2 * min(qs) - 1 - TAIL_MARGIN))
        )
        for j, ((col, among), qs) in enumerate(wanted.items())
    }
    row = fetch(sample.aggregate(**aggs)).to_pylist()[0]
    bounds = {}
    for j, (col, _) in enumerate(wanted):
        bound, least = row[f"l{j}"], found[f"lo_{col}"]
        if bound is not None and (least is None or bound > least):
            bounds[j] = float(bound)
    return bounds


def _tail_quantiles(
    t: ir.Table,
    tail: ir.Table | None,
    wanted: dict[tuple[str, str], list[float]],
    bounds: dict[int, float],
    counts: dict[str, int],
) -> dict[str, Any]:
    """The exact quantiles of each column with a sample bound, from its values at or above
    that bound (in ``tail``, :func:`_tail_table`) and the count of all values considered
    (``counts``, from the sums query), by ``quantile_cont``'s rule to the last bit:
    ``h = (n - 1)·q``, ``d = h - ⌊h⌋``, ``v[⌊h⌋]·(1 - d) + v[⌈h⌉]·d``. A column whose tail
    turns out too short is computed by the engine's ``quantile_cont`` instead."""
    if tail is None:
        return {}
    cols = list(dict.fromkeys(col for j, (col, _) in enumerate(wanted) if j in bounds))
    found = fetch(tail.select(*(_num(tail[c]).name(c) for c in cols)))
    out: dict[str, Any] = {}
    for j, ((col, among), qs) in enumerate(wanted.items()):
        if j not in bounds:
            continue
        values = _values(found.column(col).combine_chunks(), np.float64)
        values = values[values >= bounds[j]]
        if among == "nonzero":
            values = values[values != 0.0]
        exact = _order_quantiles(values, counts[f"k{j}"], qs)
        out[f"q{j}"] = exact if exact is not None else _quantile_now(t, col, qs, among)
    return out


def _order_quantiles(top: np.ndarray, n: int, qs: list[float]) -> list[float] | None:
    """``quantile_cont`` of ``n`` values of which ``top`` (in any order) are the largest;
    None when an order statistic needed lies below them. Only the order statistics needed
    are put in place (``np.partition``), not the whole tail sorted."""
    first = n - len(top)  # the rank of the least of top among all n
    ranks = []
    for q in qs:
        h = (n - 1) * q
        lo, hi = math.floor(h), math.ceil(h)
        if n == 0 or lo < first:
            return None
        ranks.append((lo - first, hi - first, h - lo))
    placed = np.partition(top, sorted({r for lo, hi, _ in ranks for r in (lo, hi)}))
    out = []
    for lo, hi, d in ranks:
        a, b = float(placed[lo]), float(placed[hi])
        out.append(a if lo == hi else a * (1 - d) + b * d)  # DuckDB's order of operations
    return out


def _quantile_now(t: ir.Table, col: str, qs: list[float], among: str) -> Any:
    return fetch(t.aggregate(q=_quantile(t[col], qs, among))).to_pylist()[0]["q"]


def _metric_columns(plan: Plan, lay: Layout) -> list[str]:
    cols: dict[str, None] = {}
    for m in plan.metrics:
        cols |= {c: None for c in lay.columns[m.name] if c is not None}
    return list(cols)


def _spans(plan: Plan, src: UnitSource, lay: Layout, row: dict[str, Any]) -> dict[str, Span]:
    """Each metric column's :class:`Span`; a DataError for empty or infinite values."""
    schema = src.table.schema()
    spans: dict[str, Span] = {}
    for i, m in enumerate(plan.metrics):
        y_attr, x_attr = (
            ("numerator", "denominator") if m.type == "ratio" else ("column", "covariate")
        )
        for col, attr in zip(lay.columns[m.name], (y_attr, x_attr), strict=True):
            if col is None or col in spans:
                continue
            nulls = int(row["rows"]) - int(row[f"n_{col}"])
            if nulls:
                raise DataError(
                    f"'{col}' has {nulls} empty values in {src.label}; fill them "
                    "(0 where nothing happened) or drop those units",
                    source=plan.source,
                    field=f"metrics[{i}].{attr}",
                )
            lo, hi = row[f"lo_{col}"], row[f"hi_{col}"]
            lo, hi = (0.0, 0.0) if lo is None else (float(lo), float(hi))
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise DataError(
                    f"'{col}' in {src.label} holds infinite or NaN values; clean them",
                    source=plan.source,
                    field=f"metrics[{i}].{attr}",
                )
            dtype = schema[col]
            spans[col] = Span(lo, hi, dtype.is_integer() or dtype.is_boolean())
    return spans


def _caps(
    plan: Plan,
    lay: Layout,
    row: dict[str, Any],
    wanted: dict[tuple[str, str], list[float]],
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, dict[str, float]]]]:
    """The caps of each metric's columns, and of each sensitivity level of a mean metric."""
    found: dict[tuple[str, str, float], float | None] = {}
    for j, ((col, among), qs) in enumerate(wanted.items()):
        values = row[f"q{j}"] or [None] * len(qs)  # None: every value is 0, nothing to cap
        found |= {(col, among, q): v for q, v in zip(qs, values, strict=True)}
    caps: dict[str, dict[str, float]] = {}
    levels: dict[str, dict[str, dict[str, float]]] = {}
    for m in plan.metrics:
        among = m.cap.among if m.cap is not None else "nonzero"
        cols = [c for c in lay.columns[m.name] if c is not None]

        def at(q: float, cols: list[str] = cols, among: str = among) -> dict[str, float]:
            got = {c: found[(c, among, q)] for c in cols}
            return {c: float(v) for c, v in got.items() if v is not None}

        if m.cap is not None:
            fixed = m.cap.value
            capped = {c: float(fixed) for c in cols} if fixed is not None else None
            caps[m.name] = capped if capped is not None else at(float(m.cap.quantile or 0))
            if not caps[m.name]:
                del caps[m.name]
        if m.type == "mean":
            levels[m.name] = {label: {} if q is None else at(q) for label, q in SENSITIVITY_LEVELS}
    return caps, levels


# ---- query 2: the sums, per variant (× day) --------------------------------------------------
@dataclass
class _Needs:
    """The names of each metric's moments, per cap level, and of each cross product."""

    sums: Sums = field(default_factory=Sums)
    main: dict[str, tuple[str, ...]] = field(default_factory=dict)
    levels: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    cross: dict[str, str] = field(default_factory=dict)


def _needs(
    plan: Plan,
    lay: Layout,
    caps: dict[str, dict[str, float]],
    levels: dict[str, dict[str, dict[str, float]]],
    sums: Sums | None = None,
) -> _Needs:
    """Every sum the metrics, their cap levels and the plan's kind declare, as one union
    (added to ``sums`` when given)."""
    cappable = frozenset(
        c
        for m in plan.metrics
        if m.cap is not None or m.type == "mean"
        for c in lay.columns[m.name]
        if c is not None
    )
    needs = _Needs(sums=sums if sums is not None else Sums(cappable))
    sides: dict[str, Side] = {}
    for m in plan.metrics:
        y_col, x_col = lay.columns[m.name]
        cap = caps.get(m.name, {})
        y = Side(y_col, cap.get(y_col))
        x = Side(x_col, cap.get(x_col)) if x_col is not None else None
        sides[f"{m.name}.y"] = y
        if x is not None:
            sides[f"{m.name}.x"] = x
        needs.main[m.name] = needs.sums.moments(y, x)
        for label, level in levels.get(m.name, {}).items():
            ys = Side(y_col, level.get(y_col))
            xs = Side(x_col, level.get(x_col)) if x_col is not None else None
            needs.levels.setdefault(m.name, {})[label] = needs.sums.moments(ys, xs)
    for a_side, b_side in plan.data_needs.cross_products:
        needs.cross[f"{a_side}*{b_side}"] = needs.sums.need(sides[a_side], sides[b_side])
    return needs


def _first_sums(plan: Plan, lay: Layout) -> Sums:
    """The sums that need no quantile: every product uncapped, and under fixed caps (a
    quantile-capped sum is its uncapped base plus a tail, :class:`Compiled`)."""
    fixed = {
        m.name: {c: float(m.cap.value) for c in lay.columns[m.name] if c is not None}
        for m in plan.metrics
        if m.cap is not None and m.cap.value is not None
    }
    first = _needs(plan, lay, {}, {})
    _needs(plan, lay, fixed, {}, first.sums)
    return first.sums


def _group_keys(t: ir.Table, lay: Layout) -> list[Any]:
    keys = [t[lay.variant].cast("string").name("_variant")]
    if lay.timestamp is not None:
        ts = t[lay.timestamp]
        keys.append((ts if ts.type().is_date() else ts.date()).name("_day"))
    return keys


def _funnel_aggs(t: ir.Table, lay: Layout) -> dict[str, Any]:
    aggs: dict[str, Any] = {}
    reached = None
    for k, col in enumerate(lay.funnel):
        step = _num(t[col]).fill_null(0.0) > 0
        reached = step if reached is None else reached & step
        aggs[f"f{k}"] = reached.ifelse(1, 0).sum()
    return aggs


def _base_rows(
    t: ir.Table, lay: Layout, aggs: dict[str, Any], bitmap: tuple[int, int] | None = None
) -> list[dict[str, Any]]:
    """The sums query, grouped by variant (× day): the count, the uncapped base sums and
    ``aggs``, the funnel steps and the null unit ids of each group; with ``bitmap`` (an id
    range, :func:`_bitmap_in_sums`), the distinct ids of the whole table (``_distinct``)."""
    aggs = {"n": t.count(), **aggs, **_funnel_aggs(t, lay)}
    if lay.unit in t.columns and not lay.derived:
        aggs["_null_units"] = t[lay.unit].isnull().sum()
    if bitmap is not None:
        aggs["_bits"] = _bitstring_agg(t[lay.unit].cast("int64"), *bitmap)
    sums = t.group_by(_group_keys(t, lay)).aggregate(**aggs)
    if bitmap is not None:
        every = _bit_count(_bit_or(sums["_bits"]).over(ibis.window()))
        sums = sums.mutate(_distinct=every).drop("_bits")
    return fetch(sums).to_pylist()


def _with_tails(
    t: ir.Table,
    lay: Layout,
    rows: list[dict[str, Any]],
    compiled: Compiled,
    capped: Compiled | None = None,
) -> list[dict[str, Any]]:
    """The sums query's rows with every term's exact integer sum: its base, plus, when some
    term is capped, its correction from the tail query over the rows of ``t`` above a cap.
    ``t`` is the table (``compiled`` against it), or the tail table when that holds every
    such row (:func:`_covers`; ``capped``: the capped terms compiled against it)."""
    tails: dict[tuple[Any, Any], dict[str, Any]] = {}
    capped = capped or compiled
    if capped.tails:
        over = t.filter(capped.where)
        found = over.group_by(_group_keys(over, lay)).aggregate(**capped.tails)
        tails = {(r["_variant"], r.get("_day")): r for r in fetch(found).to_pylist()}
    return [r | compiled.resolve(r, tails.get((r["_variant"], r.get("_day")))) for r in rows]


def _pooled_counts(rows: list[dict[str, Any]], bounds: dict[int, float]) -> dict[str, int]:
    """The count of values each quantile is taken over, added over the sums query's groups."""
    return {f"k{j}": sum(int(r[f"k{j}"] or 0) for r in rows) for j in bounds}


def _covers(
    wanted: dict[tuple[str, str], list[float]], bounds: dict[int, float], lowest: dict[str, float]
) -> bool:
    """Whether the tail table holds every row above a cap: each capped column has a sample
    bound at or below its lowest cap."""
    floor: dict[str, float] = {}
    for j, (col, _) in enumerate(wanted):
        if j in bounds:
            floor[col] = min(floor.get(col, math.inf), bounds[j])
    return all(col in floor and floor[col] <= cap for col, cap in lowest.items())


def unit_statistics(plan: Plan, src: UnitSource) -> UnitStats:
    """Run the checks, the sums query and the tail query; validate; return the moments.

    All sums are exact and independent of the order rows are added in (see :class:`Sums`),
    so the result is the same on one thread or many. The uncapped sums do not wait for the
    caps: the sums query runs beside the tail that the quantile caps are read from (in
    DuckDB), and the caps then only correct the sums over the rows above them.
    """
    lay = src.layout or Layout.of(plan)
    if src.layout is None:
        check_columns(plan, src)
    t = src.table
    backend = backend_name(t)
    row, wanted, bounds = _checks(plan, t, lay, backend)
    spans = _spans(plan, src, lay, row)
    _check_proportions(plan, src, lay, spans, None)
    if backend == "pyspark" and int(row["rows"]) >= 10**28 // 2**SCALE_BITS:
        raise DataError(
            f"{src.label} has {row['rows']} rows, more than Spark's exact DECIMAL(28, 0) sums "
            "hold; analyse it in slices (as_of, segment) or on DuckDB",
            source=plan.source,
        )
    first = _first_sums(plan, lay).compile(t, spans, backend)
    tail = _tail_table(t, lay, _tail_columns(plan, lay), wanted, bounds)
    try:
        bitmap = _bitmap_in_sums(plan, lay, row, backend)
        rows = _base_rows(t, lay, first.base | _tail_counts(t, wanted, bounds), bitmap)
        if bitmap is not None:
            row["distinct_units"] = int(rows[0]["_distinct"]) if rows else 0
        _check_rows(plan, src, row | _null_counts(rows), lay)
        _check_variants(plan, src, rows)
        row |= _tail_quantiles(t, tail, wanted, bounds, _pooled_counts(rows, bounds))
        caps, sens_caps = _caps(plan, lay, row, wanted)
        needs = _needs(plan, lay, caps, sens_caps)
        compiled = needs.sums.compile(t, spans, backend)
        if tail is not None and _covers(wanted, bounds, compiled.lowest):
            capped = needs.sums.compile(tail, spans, backend, capped_only=True)
            rows = _with_tails(tail, lay, rows, compiled, capped)
        else:
            rows = _with_tails(t, lay, rows, compiled)
    finally:
        _drop(tail)
    stats = _assemble(plan, lay, rows, needs, compiled.scales, caps, sens_caps)
    _check_proportions(plan, src, lay, spans, stats)
    main = {"n": t.count()} | {k: compiled.aggregate(k) for v in needs.main.values() for k in v}
    seg_counts, seg_moments = _segment_stats(plan, t, t[lay.variant], main, needs, compiled)
    return replace(stats, segment_counts=seg_counts, segment_moments=seg_moments)


def _assemble(
    plan: Plan,
    lay: Layout,
    rows: list[dict[str, Any]],
    needs: _Needs,
    scales: dict[str, int],
    caps: dict[str, dict[str, float]],
    sens_caps: dict[str, dict[str, dict[str, float]]],
) -> UnitStats:
    """Per-variant totals (exact integer additions over the days), daily moments, cap
    levels, funnel counts and cross products, from the rows of the sums query."""
    every = tuple(scales)
    totals = {v: _Acc(scales) for v in plan.variants}
    for r in rows:
        totals[r["_variant"]].add(r, every)
    days = sorted({r["_day"] for r in rows}) if lay.timestamp is not None else []
    day_index = {d: k for k, d in enumerate(days)}
    zero = Moments(0, 0.0, 0.0)
    daily: dict[str, dict[str, list[Moments]]] = {}
    daily_counts: dict[str, list[int]] = {v: [0] * len(days) for v in plan.variants}
    if days:
        daily = {m.name: {v: [zero] * len(days) for v in plan.variants} for m in plan.metrics}
        for r in rows:
            k = day_index[r["_day"]]
            daily_counts[r["_variant"]][k] = int(r["n"])
            for name, names in needs.main.items():
                daily[name][r["_variant"]][k] = _row_moments(r, names, scales)
    funnel_counts: dict[str, list[int]] = {}
    if lay.funnel:
        funnel_counts = {v: [0] * (len(lay.funnel) + 1) for v in plan.variants}
        for r in rows:
            acc = funnel_counts[r["_variant"]]
            acc[0] += int(r["n"])
            for k in range(len(lay.funnel)):
                acc[k + 1] += int(r[f"f{k}"] or 0)
    return UnitStats(
        counts={v: totals[v].n for v in plan.variants},
        moments={
            name: {v: totals[v].moments(names) for v in plan.variants}
            for name, names in needs.main.items()
        },
        caps=caps,
        days=days,
        daily=daily,
        daily_counts=daily_counts if days else {},
        sensitivity={
            name: {
                label: (sens_caps[name][label], {v: totals[v].moments(n) for v in plan.variants})
                for label, n in per.items()
            }
            for name, per in needs.levels.items()
        },
        funnel_counts=funnel_counts,
        cross_sums={
            key: {v: totals[v].value(name) for v in plan.variants}
            for key, name in needs.cross.items()
        },
    )


def _segment_stats(
    plan: Plan,
    t: ir.Table,
    variant: ir.Column,
    sums: dict[str, Any],
    needs: _Needs,
    compiled: Compiled,
) -> tuple[
    dict[str, dict[str, dict[str, int]]], dict[str, dict[str, dict[str, dict[str, Moments]]]]
]:
    """Units and metric moments per segment value and variant, for every ``data.segments``
    column, from one query grouped by variant and all segment columns (exact sums added
    over the other columns' levels)."""
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
    rows = fetch(t.group_by(keys).aggregate(**sums)).to_pylist()
    every = tuple(k for k in sums if k != "n")
    accs: dict[str, dict[str, dict[str, _Acc]]] = {s: {} for s in segments}
    for r in rows:
        v = r["_variant"]
        for j, s in enumerate(segments):
            value = "(missing)" if r[f"_seg_{j}"] is None else str(r[f"_seg_{j}"])
            per = accs[s].setdefault(value, {name: _Acc(compiled.scales) for name in plan.variants})
            if v in per:
                per[v].add(r, every)
    counts = {
        s: {value: {v: a.n for v, a in per.items()} for value, per in sorted(levels.items())}
        for s, levels in accs.items()
    }
    moments = {
        s: {
            value: {
                m: {v: a.moments(names) for v, a in per.items()} for m, names in needs.main.items()
            }
            for value, per in sorted(levels.items())
        }
        for s, levels in accs.items()
    }
    return counts, moments


def _check_variants(plan: Plan, src: UnitSource, rows: list[dict[str, Any]]) -> None:
    seen: dict[str, int] = {}
    for r in rows:
        seen[r["_variant"]] = seen.get(r["_variant"], 0) + int(r["n"])
    unknown = sorted(set(seen) - set(plan.variants))
    if unknown:
        bad = unknown[0]
        raise DataError(
            f"{src.label} has variant '{bad}' ({seen[bad]} units) that the plan does not "
            f"name{did_you_mean(bad, plan.variants)}; add it to variants or filter the data",
            source=plan.source,
            field="variants",
        )


def _check_proportions(
    plan: Plan, src: UnitSource, lay: Layout, spans: dict[str, Span], stats: UnitStats | None
) -> None:
    """A proportion's column holds only 0 and 1: its least and greatest value are in [0, 1]
    and, once the sums are in (``stats``), ``Σy = Σy²`` in every variant (only 0/1 give it)."""
    for i, m in enumerate(plan.metrics):
        if m.type != "proportion":
            continue
        y_col = lay.columns[m.name][0]
        span = spans[y_col]
        fractions = stats is not None and any(
            mo.sum_y != mo.sum_y2 for mo in stats.moments[m.name].values()
        )
        if fractions or span.lo < 0 or span.hi > 1:
            raise DataError(
                f"'{y_col}' in {src.label} holds values other than 0 and 1 (from {span.lo:g} "
                f"to {span.hi:g}); use type: mean for amounts",
                source=plan.source,
                field=f"metrics[{i}].column",
            )


def _null_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Rows with no variant or no timestamp (the sums query's groups whose key is null) and
    with no unit id (counted per group), from the sums query's rows."""
    return {
        "null_variants": sum(int(r["n"]) for r in rows if r["_variant"] is None),
        "null_ts": sum(int(r["n"]) for r in rows if "_day" in r and r["_day"] is None),
        "null_units": sum(int(r.get("_null_units") or 0) for r in rows),
    }


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
    table = fetch(t.select(_v=t[lay.variant].cast("string"), _y=y))
    arms = table.column("_v").combine_chunks().dictionary_encode()
    codes = _values(arms.indices, np.int32)  # no nulls: rows without a variant were refused
    index = {name: k for k, name in enumerate(arms.dictionary.to_pylist())}
    values = _values(table.column("_y").combine_chunks(), np.float64)
    return {v: values[codes == index.get(v, -1)] for v in plan.variants}


def _values(array: Any, dtype: type[np.generic]) -> np.ndarray:
    """A numeric Arrow array of ``dtype`` without nulls as a NumPy array, read from its
    values buffer (pyarrow's ``to_numpy`` imports pandas: 0.4 s of start-up)."""
    raw = np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array) + array.offset)
    return raw[array.offset :]


__all__ = [
    "SCALE_BITS",
    "SENSITIVITY_LEVELS",
    "Layout",
    "Span",
    "Sums",
    "UnitStats",
    "check_columns",
    "fixed_point_sum",
    "fixed_point_value",
    "metric_values",
    "scale_exponent",
    "unit_statistics",
]
