"""``liftlab.sources.fetch``: query results straight from DuckDB, as Ibis would return them.

``fetch`` runs an expression's compiled SQL on the DuckDB connection and casts the Arrow
result to the expression's schema, skipping Ibis's result conversion (whose module imports
pandas). The reference is Ibis's own ``to_pyarrow`` of the same expression.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import ibis
import pyarrow as pa

from liftlab.sources import fetch

ROOT = Path(__file__).resolve().parents[1]


def _table() -> ibis.Table:
    con = ibis.duckdb.connect()
    return con.sql(
        """
        SELECT range::INTEGER AS i, (range % 3)::TINYINT AS small, range * 0.5 AS x,
               CASE WHEN range % 4 = 0 THEN NULL ELSE 'v' || (range % 2) END AS s,
               DATE '2026-03-01' + (range % 5)::INTEGER AS day,
               TIMESTAMP '2026-03-01 10:00:00' + INTERVAL (range) HOUR AS ts,
               (range * 1.25)::DECIMAL(18, 2) AS money
        FROM range(40)
        """
    )


def test_fetch_equals_ibis_to_pyarrow() -> None:
    """Grouped sums (HUGEINT in DuckDB, int64 in Ibis), counts, exact DECIMAL sums, strings
    with nulls, dates, timestamps and a scalar: the same schema and values as Ibis's."""
    t = _table()
    grouped = t.group_by(["s", "day"]).aggregate(
        n=t.count(),
        total=t.i.sum(),
        small=t.small.sum(),
        nulls=t.s.isnull().sum(),
        money=t.money.sum().cast("decimal(38, 0)"),
        mean=t.x.mean(),
        last=t.ts.max(),
    )
    for expr in (grouped.order_by(["s", "day"]), t.filter(t.i > 30), t.count(), t.s.nunique()):
        got, want = fetch(expr), expr.as_table().to_pyarrow()
        assert got.schema == want.schema
        assert got.to_pylist() == want.to_pylist()
    assert fetch(t.count()).column(0)[0].as_py() == 40
    rows = fetch(grouped.filter(grouped.s == "v1")).to_pylist()
    assert sum(r["n"] for r in rows) == 20 and isinstance(rows[0]["total"], int)
    assert isinstance(rows[0]["day"], dt.date)


def test_fetch_reads_in_memory_tables() -> None:
    """An in-memory table (no engine of its own) runs on Ibis's default DuckDB, registered
    first as Ibis would. (PostgreSQL and Spark take Ibis's own ``to_pyarrow``: the engine
    tests run every analysis there.)"""
    t = ibis.memtable(pa.table({"a": [1, 2, 3]}))
    assert fetch(t.a.sum()).column(0)[0].as_py() == 6


def test_analysing_unit_plans_loads_no_pandas_or_scipy_stats(project: Path) -> None:
    """The landing, pricing and creative demo plans analyse without importing pandas or
    scipy.stats (0.4 s and 0.3 s of every command's start-up)."""
    code = (
        "import sys\nfrom liftlab import analyze, load_plan\n"
        "for name in ('landing-headline', 'pricing-three-tiers', 'creative-tournament'):\n"
        "    analyze(load_plan(f'experiments/{name}.yaml')).to_json()\n"
        "print(sorted(m for m in ('pandas', 'scipy.stats') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["[]"]


def test_a_computed_table_keeps_every_row_and_the_connections_setting() -> None:
    """``computed`` writes its temporary table without keeping row order (DuckDB's
    ``preserve_insertion_order``, off only while it writes): the rows are all there, their
    sum exact, and the connection's own setting is back afterwards."""
    from liftlab.sources import computed, duckdb_connect

    con = duckdb_connect()
    setting = "SELECT current_setting('preserve_insertion_order')"
    t = con.sql("SELECT i % 7 AS k, i * 0.5 AS v FROM range(200000) r(i)")
    grouped = t.group_by("k").aggregate(n=t.count(), s=t.v.sum())
    for before in (True, False):
        con.con.execute(f"SET preserve_insertion_order = {str(before).lower()}")
        table = computed(grouped)
        rows = sorted(fetch(table).to_pylist(), key=lambda r: r["k"])
        assert [r["n"] for r in rows] == [len(range(k, 200000, 7)) for k in range(7)]
        assert sum(r["s"] for r in rows) == 0.5 * sum(range(200000))
        assert con.con.execute(setting).fetchone()[0] is before
