"""Where data lives: connections and tables, through Ibis.

DuckDB (embedded, in memory) is the default engine: it reads the plan's CSV or Parquet files
in place, so rows never pass through pandas. A plan may name another engine by its Ibis URL
(``data.engine``): ``duckdb://data/shop.duckdb`` is a DuckDB file relative to the project
root (opened read-only), ``duckdb:///srv/shop.duckdb`` an absolute path, and any other URL
(``postgres://host/db``, ...) goes to :func:`ibis.connect` as it is; credentials come from
the environment (e.g. ``PGUSER``/``PGPASSWORD``), never from plan files. Spark runs through
PySpark: ``pyspark://local[2]`` is a local SparkSession with two worker threads (the stand-in
for a cluster), ``pyspark://yarn`` or ``pyspark://host:7077`` (a standalone master, also
written ``spark://host:7077``) a real cluster; the process keeps one SparkSession and reuses
it, and its tables are the session's tables and views. Everything
downstream works on Ibis table expressions, which is what lets the same metric code run on
every backend.

Reproducibility: floating-point sums depend on the order rows are added in, and a parallel
aggregate adds them in whatever order its threads finish. So liftlab never sums floats in the
engine: :mod:`liftlab.aggregate` sums values scaled to fixed-point integers, exactly, and a
re-run gives a byte-identical ``results.json`` on any number of threads. Engines therefore
use all cores by default; the environment variable ``LIFTLAB_THREADS`` limits them (``N`` =
N DuckDB threads, or N - 1 parallel PostgreSQL workers per query; ``0`` or unset = the
engine's default). Spark keeps its own parallelism.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
from ibis.expr.types import Table

from liftlab.engine_settings import (  # re-exported: the data layer's names too
    THREADS_DEFAULT,
    THREADS_ENV,
    redact,
    scrub,
)
from liftlab.errors import DataError, PlanError, did_you_mean
from liftlab.plan import FILE_SUFFIXES, Plan

if TYPE_CHECKING:
    import pyarrow as pa

    from liftlab.aggregate import Layout


@dataclass(frozen=True)
class UnitSource:
    """A unit-level table (read from a file, or derived from event tables in the engine).

    ``label`` names it in messages; ``files`` are the data files behind it (empty for engine
    tables); ``identity`` describes engine tables for the fingerprint (row counts, latest
    timestamp) where there are no files to hash. ``layout`` says which columns are the unit,
    variant, day and metrics when they are not the plan's own names (derived tables);
    ``quality`` holds the data-quality findings made while deriving it.
    """

    table: Table
    label: str
    files: tuple[Path, ...] = ()
    identity: dict[str, Any] = field(default_factory=dict)
    layout: Layout | None = None
    quality: dict[str, Any] | None = None
    # Lazy engine tables an analysis kind may query further (event plans: "events").
    extras: dict[str, Any] = field(default_factory=dict, compare=False)

    def fingerprint(self) -> str:
        """SHA-256 over the data files' names and SHA-256s (sorted), or the tables' identity."""
        return str(self.describe()["fingerprint"])

    def describe(self) -> dict[str, Any]:
        """The fingerprint and what it covers, reading each file once.

        ``{"fingerprint", "files": [{"path", "bytes", "sha256"}], "tables": identity}``;
        the fingerprint is SHA-256 over each file's name and SHA-256 (in path order), then
        the identity's ``key=value`` pairs in key order.
        """
        digest = hashlib.sha256()
        files = []
        for f in self.files:
            own = hashlib.sha256()
            size = 0
            with f.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    own.update(block)
                    size += len(block)
            digest.update(f"{f.name}:{own.hexdigest()}\n".encode())
            files.append({"path": str(f), "bytes": size, "sha256": own.hexdigest()})
        for key in sorted(self.identity):
            digest.update(f"{key}={self.identity[key]}".encode())
        return {
            "fingerprint": digest.hexdigest(),
            "files": files,
            "tables": {k: self.identity[k] for k in sorted(self.identity)},
        }


@dataclass(frozen=True)
class Scope:
    """The slice of the data an analysis reads: the data as of a day, and some segments.

    ``as_of``: a :class:`datetime.date` keeps what happened up to the end of that day
    (timestamps before the next midnight); a :class:`datetime.datetime` keeps what happened up
    to and including that moment. Timestamps are compared as the data store them (no time
    zone); an aware datetime is first converted to UTC. ``segment``: column -> the values
    kept. Build it with :meth:`of`, which checks what the analyst typed.
    """

    as_of: dt.date | None = None
    segment: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, plan: Plan, as_of: Any = None, segment: Any = None) -> Scope | None:
        """The scope of ``as_of`` (a date, a datetime or an ISO string such as
        ``"2026-11-10"``) and ``segment`` (a mapping of column to a value or a list of
        values); ``None`` when neither is given. Raises :class:`PlanError` in one line."""
        if as_of is None and not segment:
            return None
        if plan.data.statistics is not None:
            raise PlanError(
                "as_of and segment need rows to filter, and a statistics file holds only "
                "precomputed sums; analyse the units or event tables instead",
                source=plan.source,
                field="data.statistics",
            )
        return cls(_as_of(plan, as_of), _segment(plan, segment))

    def before(self, column: Any) -> Any:
        """The Ibis condition ``column`` (a timestamp or date) is within :attr:`as_of`."""
        if self.as_of is None:
            return ibis.literal(True)
        if column.type().is_date():
            column = column.cast("timestamp")
        if isinstance(self.as_of, dt.datetime):
            return column <= self.as_of
        return column < dt.datetime.combine(self.as_of + dt.timedelta(days=1), dt.time())

    def within(self, table: Table) -> Any:
        """The Ibis condition a row of ``table`` is in :attr:`segment` (true without one)."""
        cond = ibis.literal(True)
        for col, values in self.segment.items():
            cond = cond & table[col].isin(list(values))
        return cond

    def to_dict(self) -> dict[str, Any]:
        """``{"as_of": "2026-11-10", "segment": {"device": ["mobile"]}}``, what is set."""
        out: dict[str, Any] = {}
        if self.as_of is not None:
            out["as_of"] = self.as_of.isoformat()
        if self.segment:
            out["segment"] = {k: list(v) for k, v in self.segment.items()}
        return out

    def text(self) -> str:
        """The slice in words: ``as of 2026-11-10, device = mobile``."""
        parts = [f"as of {self.as_of.isoformat()}"] if self.as_of is not None else []
        for col, values in self.segment.items():
            shown = ", ".join(str(v) for v in values)
            parts.append(f"{col} = {shown}" if len(values) == 1 else f"{col} in {shown}")
        return ", ".join(parts)


def _as_of(plan: Plan, value: Any) -> dt.date | None:
    """``value`` as a date or a naive datetime (UTC when it had a time zone)."""
    if value is None or isinstance(value, dt.date):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = (
                dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
            )
        except ValueError:
            raise PlanError(
                f"{value!r} is not a date; give one as YYYY-MM-DD (e.g. '2026-11-10') or a "
                "datetime as YYYY-MM-DDTHH:MM",
                source=plan.source,
                field="as_of",
            ) from None
    else:
        raise PlanError(
            f"{value!r} is not a date; give a date, a datetime or a string 'YYYY-MM-DD'",
            source=plan.source,
            field="as_of",
        )
    if isinstance(parsed, dt.datetime) and parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    if parsed is not None and plan.data.units is not None and plan.data.timestamp is None:
        raise PlanError(
            "as_of needs the exposure-time column of the unit table; name it in "
            "data.timestamp (e.g. data: {timestamp: exposed_at})",
            source=plan.source,
            field="data.timestamp",
        )
    return parsed


def _segment(plan: Plan, value: Any) -> dict[str, tuple[Any, ...]]:
    """``value`` as column -> values; for event plans a column must be one of data.segments
    (the columns of the unit table are checked when it is opened)."""
    if not value:
        return {}
    if not isinstance(value, Mapping):
        raise PlanError(
            f"{value!r} is not a mapping; give the column and its value(s), e.g. "
            "{'device': 'mobile'}",
            source=plan.source,
            field="segment",
        )
    out: dict[str, tuple[Any, ...]] = {}
    for col, values in value.items():
        if plan.data.on_events and col not in plan.data.segments:
            listed = ", ".join(plan.data.segments) or "none"
            raise PlanError(
                f"'{col}' is not one of data.segments{did_you_mean(str(col), plan.data.segments)}; "
                f"segments: {listed}",
                source=plan.source,
                field="segment",
            )
        kept = tuple(values) if isinstance(values, list | tuple | set | frozenset) else (values,)
        if not kept:
            raise PlanError(f"'{col}' has no values to keep", source=plan.source, field="segment")
        out[str(col)] = (
            tuple(sorted(kept, key=str)) if isinstance(values, set | frozenset) else kept
        )
    return out


def check_segment(plan: Plan, scope: Scope, table: Table, label: str) -> None:
    """Each segment column is a column of ``table`` and each value occurs in it (one
    ``SELECT DISTINCT`` per column), else a one-line :class:`DataError` naming it."""
    names = list(table.columns)
    for col, values in scope.segment.items():
        if col not in names:
            raise DataError(
                f"'{col}' is not a column of {label}{did_you_mean(col, names)}",
                source=plan.source,
                field="segment",
            )
        rows = fetch(table.select(v_=table[col]).distinct().limit(1000))
        present = [v for v in rows.column("v_").to_pylist() if v is not None]
        for v in values:
            if v not in present:
                shown = sorted(str(p) for p in present)
                listed = ", ".join(shown[:12]) + (", ..." if len(shown) > 12 else "")
                raise DataError(
                    f"{col} {v!r} does not occur in {label}"
                    f"{did_you_mean(str(v), shown)}; values there: {listed or 'none'}",
                    source=plan.source,
                    field="segment",
                )


SPARK_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.memory": "1g",
    "spark.ui.showConsoleProgress": "false",
    "spark.default.parallelism": "2",
    # Timestamps without a time zone stay so (as in DuckDB and PostgreSQL), not UTC instants.
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
}

_spark: dict[str, Any] = {}  # master -> the process's one SparkSession


def spark_master(url: str) -> str:
    """The Spark master URL of a ``pyspark://`` or ``spark://`` engine URL.

    ``pyspark://local[2]`` -> ``local[2]``; ``pyspark://yarn`` -> ``yarn``;
    ``pyspark://host:7077`` and ``spark://host:7077`` -> ``spark://host:7077``;
    ``pyspark://k8s://https://host:443`` -> ``k8s://https://host:443``.
    """
    if url.startswith("spark://"):
        return url
    rest = url.removeprefix("pyspark://").rstrip("/")
    if rest in ("", "local") or rest.startswith(("local[", "yarn", "k8s://", "spark://")):
        return rest or "local[*]"
    return f"spark://{rest}"


def spark_session(master: str = "local[2]") -> Any:
    """The process's SparkSession (created on first use with :data:`SPARK_CONF`), reused after.

    A JVM holds one SparkContext, so a second, different master in the same process is an
    error rather than a silent reuse of the first.
    """
    if master in _spark and not _spark[master]._jsc.sc().isStopped():
        return _spark[master]
    from pyspark.sql import SparkSession  # imported lazily: it is heavy and starts nothing

    active = SparkSession.getActiveSession()
    if active is not None and active.sparkContext.master != master:
        raise DataError(
            f"this process already runs Spark on '{redact(str(active.sparkContext.master))}'; "
            f"one process can use one Spark master, not also '{redact(master)}'",
            field="data.engine",
        )
    builder = SparkSession.builder.master(master).appName("liftlab")
    for key, value in SPARK_CONF.items():
        builder = builder.config(key, value)
    if master.startswith("local"):  # not ./spark-warehouse in the working folder
        builder = builder.config(
            "spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="liftlab-spark-warehouse-")
        )
    _spark.clear()
    _spark[master] = builder.getOrCreate()
    return _spark[master]


def engine_threads() -> int | None:
    """Threads an engine may use for one query: ``LIFTLAB_THREADS``; ``0``, ``all`` or unset
    (the default) return None: the engine's own default, all cores.

    Results do not depend on it (sums are exact, see :mod:`liftlab.aggregate`); it only
    limits the load, e.g. on a shared machine.
    """
    raw = os.environ.get(THREADS_ENV, THREADS_DEFAULT).strip().lower()
    if raw in ("0", "all", ""):
        return None
    try:
        n = int(raw)
    except ValueError:
        raise DataError(
            f"{raw!r} is not a number; set it to 0 (all cores, the default) or N threads",
            source="environment",
            field=THREADS_ENV,
        ) from None
    if n < 0:
        raise DataError(f"must be 0 or more, not {n}", source="environment", field=THREADS_ENV)
    return n


def fetch(expr: Any) -> pa.Table:
    """``expr``'s result as an Arrow table (a scalar's as a one-row table), from its engine.

    On DuckDB the compiled query runs on the backend's own connection and its Arrow result
    is cast to the expression's schema: the rows, names, types and values of Ibis's
    ``to_pyarrow``, without Ibis's result conversion, whose module imports pandas (about
    0.4 s of every command that reads data). Other engines: ``to_pyarrow``.
    """
    table = expr.as_table()
    con = table._find_backend(use_default=True)
    if getattr(con, "name", None) != "duckdb":
        return table.to_pyarrow()
    hooks = getattr(con, "_run_pre_execute_hooks", None)  # registers in-memory tables
    if hooks is not None:
        hooks(table)
    result = con.con.sql(con.compile(table))
    got = result.to_arrow_table() if hasattr(result, "to_arrow_table") else result.arrow()
    want = table.schema().to_pyarrow()
    return got if got.schema == want else got.cast(want)


def computed(table: Table) -> Table:
    """``table`` computed once in its engine: a temporary table (gone with the connection,
    or at :func:`forget`), or in Spark, which has none, a cached DataFrame."""
    con = table._find_backend()
    if con.name == "pyspark":
        return table.cache()
    return con.create_table(ibis.util.gen_name("liftlab"), table, temp=True)


def forget(table: Table) -> None:
    """Drop a temporary table made by :func:`computed` before its connection ends (Ibis's
    ``drop_table`` misquotes temporary tables), or release Spark's cached DataFrame."""
    con = table._find_backend()
    if con.name == "pyspark":
        table.release()  # a CachedTable
        return
    con.raw_sql(f'DROP TABLE IF EXISTS temp.main."{table.op().name}"')


def duckdb_connect(path: Path | None = None, *, read_only: bool = False) -> Any:
    """A DuckDB connection (in memory, or the file at ``path``) on :func:`engine_threads`."""
    threads = engine_threads()
    config: dict[str, Any] = {} if threads is None else {"threads": threads}
    if path is None:
        return ibis.duckdb.connect(**config)
    return ibis.duckdb.connect(str(path), read_only=read_only, **config)


def _postgres_threads(con: Any) -> Any:
    """Limit a PostgreSQL session's parallel workers when ``LIFTLAB_THREADS`` says so."""
    threads = engine_threads()
    if threads is not None and getattr(con, "name", "") == "postgres":
        workers = max(threads - 1, 0)
        with con.raw_sql(f"SET max_parallel_workers_per_gather = {workers}"):
            pass
    return con


def connect(plan: Plan) -> Any:
    """An Ibis connection for the plan's ``data.engine`` (in-memory DuckDB by default)."""
    url = plan.data.engine
    if url is None:
        return duckdb_connect()
    if url.startswith(("pyspark://", "spark://")):
        try:
            return ibis.pyspark.connect(spark_session(spark_master(url)))
        except DataError:
            raise
        except Exception as exc:  # no Java, an unreachable master, ...
            raise DataError(
                f"cannot start Spark for {redact(url)} ({scrub(_first_line(exc), url)}); "
                "check that Java is installed (JAVA_HOME) and the master is reachable",
                source=plan.source,
                field="data.engine",
            ) from None
    if url.startswith("duckdb://"):
        rest = url.removeprefix("duckdb://")
        if rest in ("", ":memory:"):
            return duckdb_connect()
        path = Path(rest) if rest.startswith("/") else plan.root / rest
        if path.is_dir():
            raise DataError(
                f"'{path}' is a directory; point data.engine at a DuckDB file "
                "(e.g. duckdb://data/shop.duckdb)",
                source=plan.source,
                field="data.engine",
            )
        if not path.is_file():
            raise DataError(
                f"DuckDB file '{path}' not found; check the path or run `liftlab simulate`",
                source=plan.source,
                field="data.engine",
            )
        try:
            return duckdb_connect(path, read_only=True)
        except Exception as exc:  # not a DuckDB database, a newer format, a locked file
            raise DataError(
                f"'{path}' is not a DuckDB database it can open ({_first_line(exc)[:160]}); "
                "point data.engine at a .duckdb file (e.g. duckdb://data/shop.duckdb)",
                source=plan.source,
                field="data.engine",
            ) from None
    try:
        return _postgres_threads(ibis.connect(url))
    except Exception as exc:  # the driver's own message, without credentials
        raise DataError(
            f"cannot connect to {redact(url)} ({scrub(_first_line(exc), url)}); check the URL "
            "and the credentials in the environment",
            source=plan.source,
            field="data.engine",
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read_each(con: Any, reader: str, names: list[str]) -> Table:
    """The files as one table: one call with the list where the engine takes a list (DuckDB,
    PostgreSQL's reader); on Spark, whose Ibis readers take one path (a list would become
    the path "['…']"), one read per file, stacked with ``UNION ALL``."""
    read = getattr(con, reader)
    if getattr(con, "name", "") != "pyspark":
        return read(names)
    tables = [read(n) for n in names]
    return tables[0] if len(tables) == 1 else tables[0].union(*tables[1:], distinct=False)


def read_files(
    con: Any, spec: str, path: Path, *, plan: Plan, field_name: str | None
) -> tuple[Table, tuple[Path, ...]]:
    """Read CSV/Parquet file(s) at ``path`` (a glob allowed) into the DuckDB connection."""
    where = plan.source if field_name else None
    files = tuple(sorted(Path(p) for p in glob.glob(str(path)))) if _is_glob(spec) else (path,)
    folder = next((f for f in files if f.is_dir()), None)
    if folder is not None:
        raise DataError(
            f"'{folder}' is a directory; give a .csv or .parquet file, or a glob of them "
            f"such as '{Path(spec) / '*.parquet'}'",
            source=where,
            field=field_name,
        )
    if not files or not all(f.is_file() for f in files):
        hint = " or run `liftlab simulate` for the demo data" if "data" in Path(spec).parts else ""
        raise DataError(f"'{spec}' not found; check the path{hint}", source=where, field=field_name)
    names = [str(f) for f in files]
    lower = names[0].lower()
    try:
        if lower.endswith((".parquet", ".pq")):
            return _read_each(con, "read_parquet", names), files
        if lower.endswith((".csv", ".csv.gz")):
            for f in files:
                _check_csv(f, spec, where, field_name)
            return _read_each(con, "read_csv", names), files
    except DataError:
        raise
    except Exception as exc:  # the engine's own reader error, e.g. a corrupt file
        raise DataError(
            f"cannot read '{spec}' ({_first_line(exc)}); check the file",
            source=where,
            field=field_name,
        ) from None
    raise DataError(
        f"'{spec}' is neither CSV nor Parquet; give a .csv or .parquet file",
        source=where,
        field=field_name,
    )


def _check_csv(path: Path, spec: str, where: str | None, field_name: str | None) -> None:
    """A CSV file's first bytes: refuse an empty file, a binary one and a header without rows
    (the reader would otherwise guess types and complain about a column instead)."""
    import gzip

    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(64 * 1024)
    except OSError as exc:
        raise DataError(
            f"cannot read '{path}' ({exc}); check the file", source=where, field=field_name
        ) from None
    name = str(path) if str(path) != spec else spec
    if not head.strip():
        raise DataError(
            f"'{name}' is empty; give a CSV with a header row and one row per unit",
            source=where,
            field=field_name,
        )
    if b"\x00" in head:
        raise DataError(
            f"'{name}' is not a CSV (it holds binary data); give a text CSV, or a .parquet "
            "file named .parquet",
            source=where,
            field=field_name,
        )
    rows = [line for line in head.splitlines() if line.strip()]
    if len(rows) == 1 and len(head) < 64 * 1024:
        raise DataError(
            f"'{name}' has a header but no rows; give a CSV with one row per unit",
            source=where,
            field=field_name,
        )


def open_table(con: Any, plan: Plan, spec: str, field_name: str) -> tuple[Table, tuple[Path, ...]]:
    """A table by name in the engine, or a file path (resolved against the project root)."""
    if spec.lower().endswith(FILE_SUFFIXES):
        return read_files(con, spec, plan.resolve(spec), plan=plan, field_name=field_name)
    try:
        names = list(con.list_tables())
    except Exception:  # some backends cannot list; fall through to the lookup
        names = []
    if names and spec not in names:
        raise DataError(
            f"table '{spec}' not found in {redact(plan.data.engine or 'duckdb')}"
            f"{did_you_mean(spec, names)}; tables: {', '.join(sorted(names)[:12])}",
            source=plan.source,
            field=field_name,
        )
    try:
        return con.table(spec), ()
    except Exception as exc:
        raise DataError(
            f"cannot open table '{spec}' ({_first_line(exc)})", source=plan.source, field=field_name
        ) from None


# The spellings of yes/no a 0/1 column may hold as text (compared trimmed, in lower case).
FLAG_TEXT = {"true": 1, "false": 0, "yes": 1, "no": 0, "1": 1, "0": 0}
ROWS_AS_UNITS = (
    "the table has no unit id column, so each row counts as one unit and duplicate units "
    "could not be checked"
)


def rows_are_units(plan: Plan, table: Table) -> bool:
    """Whether each row of a unit table is a unit: the plan names no ``unit:`` column and the
    table has no column called ``unit``."""
    return "unit" not in plan.model_fields_set and plan.unit not in table.columns


def flag_columns(plan: Plan, table: Table) -> dict[str, str]:
    """The text columns that proportion metrics read (column or covariate), each with the
    plan field that names it: they hold yes/no as text and are read as 0/1."""
    schema = table.schema()
    out: dict[str, str] = {}
    for i, m in enumerate(plan.metrics):
        if m.type != "proportion" or m.on_events:
            continue
        for attr in ("column", "covariate"):
            col = getattr(m, attr)
            if isinstance(col, str) and col in schema and schema[col].is_string():
                out.setdefault(col, f"metrics[{i}].{attr}")
    return out


def check_flags(
    plan: Plan, table: Table, label: str, columns: dict[str, str], rows: int | None = None
) -> None:
    """Each text flag column holds only :data:`FLAG_TEXT` spellings (or nothing): one query
    per column (over its first ``rows`` rows when given), else a DataError naming a bad value."""
    for col, field_name in columns.items():
        t = table if rows is None else table.limit(rows)
        text = t[col].strip().lower()
        bad = t.filter(t[col].notnull() & ~text.isin(list(FLAG_TEXT))).select(v_=t[col]).limit(1)
        found = fetch(bad).column("v_").to_pylist()
        if found:
            raise DataError(
                f"'{col}' in {label} holds '{found[0]}', which is not a yes/no value; a "
                "proportion column holds 0/1, true/false or yes/no (use type: mean for amounts)",
                source=plan.source,
                field=field_name,
            )


def as_flags(table: Table, columns: dict[str, str]) -> Table:
    """``table`` with each text flag column read as 0/1 (see :data:`FLAG_TEXT`)."""
    if not columns:
        return table
    changed = {}
    for col in columns:
        text = table[col].strip().lower()
        changed[col] = text.substitute(
            {k: ibis.literal(v, "int8") for k, v in FLAG_TEXT.items()}, else_=ibis.null("int8")
        )
    return table.mutate(**changed)


def unit_table(plan: Plan, src: UnitSource, *, rows: int | None = None) -> UnitSource:
    """A plan's own unit table as the analysis reads it: yes/no text columns of proportion
    metrics read as 0/1 (checked over ``rows`` rows, or all), and, when the table has no
    unit id column, a data-quality note that each row is a unit."""
    if src.layout is not None or plan.data.units is None:
        return src
    flags = flag_columns(plan, src.table)
    check_flags(plan, src.table, src.label, flags, rows)
    quality = src.quality
    if rows_are_units(plan, src.table):
        quality = {**(quality or {}), "notes": [ROWS_AS_UNITS]}
    return replace(src, table=as_flags(src.table, flags), quality=quality)


def table_identity(table: Table, timestamp: str | None, *, prefix: str) -> dict[str, Any]:
    """What identifies an engine table's contents without reading it all: its row count and,
    when it has the timestamp column, the latest timestamp (one small query)."""
    aggs: dict[str, Any] = {f"{prefix}.rows": table.count()}
    if timestamp is not None and timestamp in table.columns:
        aggs[f"{prefix}.max_{timestamp}"] = table[timestamp].max()
    row = fetch(table.aggregate(**aggs)).to_pylist()[0]
    return {k: (int(v) if k.endswith(".rows") else str(v)) for k, v in row.items()}


def _is_glob(spec: str) -> bool:
    return any(ch in spec for ch in "*?[")
