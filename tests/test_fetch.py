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
