"""Where data lives: connections and tables, through Ibis.

DuckDB (embedded, in memory) is the default engine: it reads the plan's CSV or Parquet unit
table in place, so rows never pass through pandas. Everything downstream works on an Ibis
table expression, which is what lets the same metric code run on other Ibis backends.
"""

from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass
from pathlib import Path

import ibis
from ibis.expr.types import Table

from liftlab.errors import DataError
from liftlab.plan import Plan


@dataclass(frozen=True)
class UnitSource:
    """An opened unit table: the Ibis table, what to call it in messages, and its files."""

    table: Table
    label: str
    files: tuple[Path, ...]

    def fingerprint(self) -> str:
        """SHA-256 over the data files' names and bytes, in sorted order."""
        digest = hashlib.sha256()
        for f in self.files:
            digest.update(f.name.encode())
            with f.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()


def open_units(plan: Plan, data: str | Path | None = None) -> UnitSource:
    """Open the plan's unit table (or ``data``, a path overriding ``data.units``) in DuckDB."""
    spec = str(data) if data is not None else plan.data.units
    label = spec
    path = Path(spec) if data is not None else plan.resolve(spec)
    files = tuple(sorted(Path(p) for p in glob.glob(str(path)))) if _is_glob(spec) else (path,)
    field = "data.units" if data is None else None
    where = plan.source if data is None else None
    if not files or not all(f.is_file() for f in files):
        hint = "run `liftlab simulate` for the demo data" if "data" in Path(spec).parts else ""
        raise DataError(
            f"'{label}' not found; check the path" + (f" or {hint}" if hint else ""),
            source=where,
            field=field,
        )
    con = ibis.duckdb.connect()
    names = [str(f) for f in files]
    lower = names[0].lower()
    try:
        if lower.endswith((".parquet", ".pq")):
            table = con.read_parquet(names)
        elif lower.endswith((".csv", ".csv.gz")):
            table = con.read_csv(names)
        else:
            raise DataError(
                f"'{label}' is neither CSV nor Parquet; give a .csv or .parquet file",
                source=where,
                field=field,
            )
    except DataError:
        raise
    except Exception as exc:  # the engine's own reader error, e.g. a corrupt file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"cannot read '{label}' ({first}); check the file", source=where, field=field
        ) from None
    return UnitSource(table=table, label=label, files=files)


def _is_glob(spec: str) -> bool:
    return any(ch in spec for ch in "*?[")
