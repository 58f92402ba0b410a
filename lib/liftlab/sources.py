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
"""

from __future__ import annotations

import glob
import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
from ibis.expr.types import Table

from liftlab.errors import DataError, did_you_mean
from liftlab.plan import FILE_SUFFIXES, Plan

if TYPE_CHECKING:
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

    def fingerprint(self) -> str:
        """SHA-256 over the data files' names and bytes (sorted), or the tables' identity."""
        digest = hashlib.sha256()
        for f in self.files:
            digest.update(f.name.encode())
            with f.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        for key in sorted(self.identity):
            digest.update(f"{key}={self.identity[key]}".encode())
        return digest.hexdigest()


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
            f"this process already runs Spark on '{active.sparkContext.master}'; "
            f"one process can use one Spark master, not also '{master}'",
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


def connect(plan: Plan) -> Any:
    """An Ibis connection for the plan's ``data.engine`` (in-memory DuckDB by default)."""
    url = plan.data.engine
    if url is None:
        return ibis.duckdb.connect()
    if url.startswith(("pyspark://", "spark://")):
        try:
            return ibis.pyspark.connect(spark_session(spark_master(url)))
        except DataError:
            raise
        except Exception as exc:  # no Java, an unreachable master, ...
            raise DataError(
                f"cannot start Spark for {_redact(url)} ({_first_line(exc)}); check that Java "
                "is installed (JAVA_HOME) and the master is reachable",
                source=plan.source,
                field="data.engine",
            ) from None
    if url.startswith("duckdb://"):
        rest = url.removeprefix("duckdb://")
        if rest in ("", ":memory:"):
            return ibis.duckdb.connect()
        path = Path(rest) if rest.startswith("/") else plan.root / rest
        if not path.is_file():
            raise DataError(
                f"DuckDB file '{path}' not found; check the path or run `liftlab simulate`",
                source=plan.source,
                field="data.engine",
            )
        return ibis.duckdb.connect(str(path), read_only=True)
    try:
        return ibis.connect(url)
    except Exception as exc:  # the driver's own message, without credentials
        raise DataError(
            f"cannot connect to {_redact(url)} ({_first_line(exc)}); check the URL and the "
            "credentials in the environment",
            source=plan.source,
            field="data.engine",
        ) from None


def _redact(url: str) -> str:
    """The URL without any password (``user:secret@`` becomes ``user@``)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_files(
    con: Any, spec: str, path: Path, *, plan: Plan, field_name: str | None
) -> tuple[Table, tuple[Path, ...]]:
    """Read CSV/Parquet file(s) at ``path`` (a glob allowed) into the DuckDB connection."""
    where = plan.source if field_name else None
    files = tuple(sorted(Path(p) for p in glob.glob(str(path)))) if _is_glob(spec) else (path,)
    if not files or not all(f.is_file() for f in files):
        hint = " or run `liftlab simulate` for the demo data" if "data" in Path(spec).parts else ""
        raise DataError(f"'{spec}' not found; check the path{hint}", source=where, field=field_name)
    names = [str(f) for f in files]
    lower = names[0].lower()
    try:
        if lower.endswith((".parquet", ".pq")):
            return con.read_parquet(names), files
        if lower.endswith((".csv", ".csv.gz")):
            return con.read_csv(names), files
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
            f"table '{spec}' not found in {_redact(plan.data.engine or 'duckdb')}"
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


def open_units(plan: Plan, data: str | Path | None = None) -> UnitSource:
    """Open the plan's unit table (or ``data``, a path overriding ``data.units``).

    Files are read by the plan's engine (DuckDB by default); a name without a file suffix is
    a table in ``data.engine`` (e.g. a PostgreSQL table), opened lazily like event tables.
    """
    if data is not None:
        if plan.data.on_events:
            raise DataError(
                "--data replaces a unit table, but this plan reads event tables; "
                "change data.exposures/data.events instead",
                source=plan.source,
                field="data",
            )
        spec = str(data)
        table, files = read_files(
            ibis.duckdb.connect(), spec, Path(spec), plan=plan, field_name=None
        )
        return UnitSource(table=table, label=spec, files=files)
    if plan.data.on_events:
        from liftlab.events import open_events

        return open_events(plan)
    units = plan.data.units
    assert units is not None
    con = connect(plan)
    table, files = open_table(con, plan, units, "data.units")  # a file, or a table in the engine
    return UnitSource(table=table, label=units, files=files)


def _is_glob(spec: str) -> bool:
    return any(ch in spec for ch in "*?[")
