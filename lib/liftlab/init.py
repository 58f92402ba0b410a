"""Drafting a plan from a table: ``liftlab init DATA``.

One engine query profiles every column of a CSV or Parquet file (its type, distinct values,
empty values, smallest and largest value, whether it holds only 0/1 or yes/no), and a second
counts the values of the columns that could hold the variants. From that profile the draft
proposes:

- the **variant column**: text, integer or boolean, 2 to 10 values, roughly balanced (the
  smallest arm at least half the size of the largest); a name such as ``variant``, ``group``
  or ``arm`` first, then the most balanced column that is not a 0/1 column;
- the **control**: a value named control, ctrl, a, baseline, holdout, none or 0 (or starting
  with "no "), else the most frequent value, and the draft says so;
- the **metrics**, from the columns after the variant column (the outcomes; a table that
  lists attributes first, as exports of tests usually do), or every column when none follows:
  0/1, boolean and yes/no columns as proportions, pairs of counts such as clicks and
  impressions as ratios, other non-negative numbers as means; columns with empty values are
  left out (analyse needs every unit's value). The first proportion whose name reads like an
  outcome (conversion, purchase, retention, ...) is the primary metric;
- the **unit** id: a text or integer column with one distinct value per row, preferring
  names with id, user or customer; without one each row is a unit;
- the **timestamp**: the first date or timestamp column without empty values.

The draft is YAML with comments (the column profile, and why each choice was made) that
validates and analyses as written; review it before the test is read.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liftlab.errors import DataError, did_you_mean
from liftlab.sources import FLAG_TEXT, duckdb_connect, fetch

VARIANT_NAMES = ("variant", "group", "arm", "treatment", "version", "bucket", "cohort", "test")
CONTROL_NAMES = ("control", "ctrl", "a", "baseline", "holdout", "none", "0", "false")
OUTCOME_WORDS = (
    "conver",
    "purchas",
    "order",
    "retention",
    "retained",
    "signup",
    "sign_up",
    "click",
    "visit",
    "success",
    "active",
)
ID_WORDS = ("user", "customer", "player", "visitor", "account", "member", "client", "uuid")
# Count pairs read as a ratio: numerator words, denominator words.
RATIO_PAIRS = (
    (("click",), ("impression", "view")),
    (("conversion", "order", "purchase", "signup"), ("click", "session", "visit")),
)
MIN_BALANCE = 0.5  # smallest arm / largest arm for a column to look like an assignment


@dataclass(frozen=True)
class Column:
    """One column's profile: its engine type and what one query learnt of its values."""

    name: str
    dtype: str
    kind: str  # "integer", "number", "boolean", "text", "time", "other"
    distinct: int
    empty: int
    low: float | None = None
    high: float | None = None
    flags: bool = False  # text holding only yes/no spellings (liftlab.sources.FLAG_TEXT)

    @property
    def zero_one(self) -> bool:
        """Holds 0/1 (or booleans, or yes/no text): a proportion."""
        if self.kind == "boolean" or self.flags:
            return True
        return self.kind in ("integer", "number") and self.low == 0 and self.high == 1

    def describe(self) -> str:
        span = f", {self.low:g} to {self.high:g}" if self.low is not None else ""
        empty = f", {self.empty:,} empty" if self.empty else ""
        return f"{self.name}: {self.dtype}, {self.distinct:,} distinct{span}{empty}"


@dataclass(frozen=True)
class Profile:
    """A table's rows and columns, from :func:`profile`."""

    path: Path
    rows: int
    columns: list[Column]
    table: Any  # the Ibis table, for the value counts of variant candidates

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _kind(dtype: Any) -> str:
    if dtype.is_boolean():
        return "boolean"
    if dtype.is_integer():
        return "integer"
    if dtype.is_numeric():
        return "number"
    if dtype.is_string():
        return "text"
    if dtype.is_timestamp() or dtype.is_date():
        return "time"
    return "other"


def open_table(path: Path) -> Any:
    """The CSV or Parquet file at ``path`` as a table of an in-memory DuckDB."""
    source = str(path)
    if not path.is_file():
        raise DataError("not found; give a CSV or Parquet file", source=source)
    con = duckdb_connect()
    lower = path.name.lower()
    try:
        if lower.endswith((".parquet", ".pq")):
            return con.read_parquet(source)
        if lower.endswith((".csv", ".csv.gz")):
            return con.read_csv(source)
    except Exception as exc:  # the engine's own reader error
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read the file ({first}); check it", source=source) from None
    raise DataError("is neither CSV nor Parquet; give a .csv or .parquet file", source=source)


def profile(path: Path) -> Profile:
    """Every column's type, distinct and empty values, range and 0/1-ness: one query."""
    t = open_table(path)
    schema = t.schema()
    aggs: dict[str, Any] = {"rows_": t.count()}
    for i, name in enumerate(schema.names):
        col, kind = t[name], _kind(schema[name])
        aggs[f"d{i}"] = col.nunique()
        aggs[f"e{i}"] = col.isnull().sum()
        if kind in ("integer", "number"):
            aggs[f"lo{i}"] = col.cast("float64").min()
            aggs[f"hi{i}"] = col.cast("float64").max()
        elif kind == "text":
            off = col.notnull() & ~col.strip().lower().isin(list(FLAG_TEXT))
            aggs[f"f{i}"] = off.ifelse(1, 0).sum()
    row = fetch(t.aggregate(**aggs)).to_pylist()[0]
    rows = int(row["rows_"])
    if not rows:
        raise DataError("has no rows; give a table with one row per unit", source=str(path))
    columns = []
    for i, name in enumerate(schema.names):
        kind = _kind(schema[name])
        low, high = row.get(f"lo{i}"), row.get(f"hi{i}")
        columns.append(
            Column(
                name=name,
                dtype=str(schema[name]).removesuffix("!"),
                kind=kind,
                distinct=int(row[f"d{i}"]),
                empty=int(row[f"e{i}"] or 0),
                low=None if low is None else float(low),
                high=None if high is None else float(high),
                flags=kind == "text" and row.get(f"f{i}") == 0 and int(row[f"d{i}"]) <= 6,
            )
        )
    return Profile(path=path, rows=rows, columns=columns, table=t)


def _counts(p: Profile, names: list[str]) -> dict[str, dict[str, int]]:
    """Each candidate column's value counts (values as text, as analyse reads them)."""
    out = {}
    for name in names:
        t = p.table
        rows = fetch(t.group_by(v_=t[name].cast("string")).aggregate(n_=t.count()))
        out[name] = {
            str(v): int(n)
            for v, n in zip(
                rows.column("v_").to_pylist(), rows.column("n_").to_pylist(), strict=True
            )
            if v is not None
        }
    return out


def _named(name: str, words: tuple[str, ...]) -> bool:
    parts = re.split(r"[^a-z0-9]+", name.lower())
    return any(w in parts or name.lower() == w for w in words)


def choose_variant(p: Profile, given: str | None = None) -> tuple[str, dict[str, int], str]:
    """The variant column, its value counts and why it was chosen."""
    names = [c.name for c in p.columns]
    if given is not None:
        if given not in names:
            raise DataError(
                f"'{given}' is not a column of {p.path}{did_you_mean(given, names)}",
                source="liftlab init",
                field="--variant",
            )
        values = _counts(p, [given])[given]
        if not 2 <= len(values) <= 50:
            raise DataError(
                f"'{given}' has {len(values)} values; a variant column has 2 to 50",
                source="liftlab init",
                field="--variant",
            )
        return given, values, "given with --variant"
    candidates = [
        c
        for c in p.columns
        if c.kind in ("text", "integer", "boolean") and 2 <= c.distinct <= 10 and not c.empty
    ]
    counts = _counts(p, [c.name for c in candidates])

    def balance(c: Column) -> float:
        n = counts[c.name].values()
        return min(n) / max(n)

    ranked = sorted(
        (c for c in candidates if balance(c) >= MIN_BALANCE or _named(c.name, VARIANT_NAMES)),
        key=lambda c: (not _named(c.name, VARIANT_NAMES), c.zero_one, -balance(c)),
    )
    if not ranked:
        raise DataError(
            "no column looks like the variants (text or integer, 2 to 10 values, roughly "
            "balanced); name it with --variant COLUMN",
            source=str(p.path),
        )
    best = ranked[0]
    why = (
        "its name"
        if _named(best.name, VARIANT_NAMES)
        else f"{best.distinct} values in balanced counts (smallest/largest {balance(best):.2f})"
    )
    return best.name, counts[best.name], why


def choose_control(counts: dict[str, int], given: str | None = None) -> tuple[str, str]:
    """The control value and why."""
    if given is not None:
        if given not in counts:
            raise DataError(
                f"'{given}' is not a value of the variant column{did_you_mean(given, counts)}; "
                f"values: {', '.join(sorted(counts))}",
                source="liftlab init",
                field="--control",
            )
        return given, "given with --control"
    for value in counts:
        low = value.strip().lower()
        if low in CONTROL_NAMES or low.startswith(("no ", "no-", "no_")):
            return value, "its name"
    top = max(counts, key=lambda v: (counts[v], v))
    return top, "the most frequent value (no value is named control); check it"


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return slug if slug[:1].isalpha() else f"m_{slug}"


def _ratios(outcomes: list[Column]) -> list[tuple[Column, Column]]:
    pairs = []
    counts = [c for c in outcomes if c.kind == "integer" and (c.low or 0) >= 0 and not c.empty]
    for top_words, bottom_words in RATIO_PAIRS:
        top = next((c for c in counts if _named_like(c.name, top_words)), None)
        bottom = next((c for c in counts if _named_like(c.name, bottom_words)), None)
        if top is not None and bottom is not None and top is not bottom and not top.zero_one:
            pairs.append((top, bottom))
    return pairs


def _named_like(name: str, words: tuple[str, ...]) -> bool:
    return any(w in name.lower() for w in words)


@dataclass(frozen=True)
class Draft:
    """A drafted plan: its YAML text and the choices worth a second look."""

    text: str
    notes: list[str]


def choose_metrics(p: Profile, variant: str, skip: set[str]) -> tuple[list[dict[str, Any]], str]:
    """The metrics (plan entries, the first primary) and which columns they came from."""
    names = [c.name for c in p.columns]
    after = p.columns[names.index(variant) + 1 :]
    outcomes, where = (after, f"the columns after '{variant}'") if after else (p.columns, "")
    outcomes = [c for c in outcomes if c.name not in skip and c.name != variant]
    metrics: list[dict[str, Any]] = []
    used: set[str] = set()
    for top, bottom in _ratios(outcomes):
        name = f"{_slug(top.name)}_per_{_slug(bottom.name)}"
        metrics.append(
            {"name": name, "type": "ratio", "numerator": top.name, "denominator": bottom.name}
        )
        used |= {top.name, bottom.name}
    for c in outcomes:
        if c.name in used or c.empty:
            continue
        if c.zero_one:
            metrics.append({"name": _slug(c.name), "type": "proportion", "column": c.name})
        elif c.kind in ("integer", "number") and c.low is not None and c.low >= 0:
            metrics.append({"name": _slug(c.name), "type": "mean", "column": c.name})
    seen: set[str] = set()
    for m in metrics:  # unique names
        base, k = m["name"], 2
        while m["name"] in seen:
            m["name"], k = f"{base}_{k}", k + 1
        seen.add(m["name"])
    if not metrics:
        raise DataError(
            f"no column{' after ' + repr(variant) if after else ''} holds 0/1 values or "
            "non-negative numbers without empty values to compare; add an outcome column",
            source=str(p.path),
        )
    props = [m for m in metrics if m["type"] == "proportion"]
    named = [m for m in props if _named_like(m["name"], OUTCOME_WORDS)]
    primary = (named or props or metrics)[0]
    metrics.remove(primary)
    metrics.insert(0, primary)
    for m in metrics:
        m["role"] = "primary" if m is primary else "secondary"
    return metrics, where


def choose_unit(p: Profile, variant: str) -> str | None:
    """A column with one distinct value per row: text, or an integer with an id-like name
    (an integer outcome can be all distinct on a small table), id-like names first."""
    unique = [
        c
        for c in p.columns
        if c.distinct == p.rows and not c.empty and c.name != variant
        if c.kind == "text" or (c.kind == "integer" and _id_like(c.name))
    ]
    unique.sort(key=lambda c: not _id_like(c.name))
    return unique[0].name if unique else None


def _id_like(name: str) -> bool:
    """``id``, ``user_id``, ``userid``, ``customer``, ``player`` ... (not ``paid``)."""
    for part in re.split(r"[^a-z0-9]+", name.lower()):
        if part in ("id", *ID_WORDS) or (part.endswith("id") and part[:-2] in ID_WORDS):
            return True
    return False


def choose_timestamp(p: Profile) -> str | None:
    return next((c.name for c in p.columns if c.kind == "time" and not c.empty), None)


def _q(text: str) -> str:
    """A YAML scalar for ``text``: bare when YAML reads it back as the same text."""
    import yaml

    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", text):
        try:
            if yaml.safe_load(text) == text:
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text, ensure_ascii=False)


def _data_path(data: Path, root: Path) -> str:
    """``data`` as the plan writes it: relative to the project root when inside it."""
    full = data.resolve()
    try:
        return full.relative_to(root.resolve()).as_posix()
    except ValueError:
        return os.fspath(full)


def draft(
    data: Path,
    *,
    name: str | None = None,
    root: Path | None = None,
    variant: str | None = None,
    control: str | None = None,
) -> Draft:
    """Profile ``data`` and draft a plan for it (see the module's docstring). ``root`` is
    the project root the plan's paths are relative to (default: the working folder)."""
    p = profile(data)
    var, counts, var_why = choose_variant(p, variant)
    ctrl, ctrl_why = choose_control(counts, control)
    unit = choose_unit(p, var)
    ts = choose_timestamp(p)
    metrics, where = choose_metrics(p, var, {x for x in (unit, ts) if x})
    slug = name or re.sub(r"[^a-z0-9]+", "-", data.name.split(".")[0].lower()).strip("-")
    slug = slug or "test"
    notes = [f"variant column '{var}': {var_why}", f"control '{ctrl}': {ctrl_why}"]
    arms = [ctrl, *sorted(v for v in counts if v != ctrl)]
    lines = [
        f"# Drafted by `liftlab init` from {data.name} ({p.rows:,} rows); review before use.",
        "# Columns (type, distinct values):",
        *(f"#   {c.describe()}" for c in p.columns),
        f"name: {_q(slug)}",
        "# kind: general (the default); landing_page, pricing or creative add their analyses",
        "hypothesis: >-",
        f"  {', '.join(arms[1:])} change{'s' if len(arms) == 2 else ''} "
        f"{metrics[0]['name']} against {ctrl}.",
        "# Each row is a unit: no column has one distinct value per row, so duplicate units"
        " cannot be checked."
        if unit is None
        else f"unit: {_q(unit)}      # one distinct value per row",
        f"control: {_q(ctrl)}      # {ctrl_why}",
        f"variants:                # {var_why}",
        *(f"  {_q(v)}: {{}}      # {counts[v]:,} rows" for v in arms),
        "data:",
        f"  units: {_q(_data_path(data, root or Path.cwd()))}",
        f"  variant_column: {_q(var)}",
    ]
    if ts is not None:
        lines.append(f"  timestamp: {_q(ts)}      # daily looks and traffic")
    lines.append(f"metrics:                 # from {where}" if where else "metrics:")
    for m in metrics:
        fields = ", ".join(
            f"{k}: {_q(str(m[k]))}"
            for k in ("name", "role", "type", "column", "numerator", "denominator")
            if k in m
        )
        lines.append(f"  - {{{fields}}}")
    return Draft(text="\n".join(lines) + "\n", notes=notes)


def write_draft(text: str, out: Path, *, force: bool = False) -> None:
    """Write a drafted plan to ``out``; refuse to overwrite a file unless ``force``."""
    if out.exists() and not force:
        raise DataError(
            "already exists; give another --out or --force to overwrite it", source=str(out)
        )
    if out.is_dir():
        raise DataError(
            "is a directory; give a plan file such as experiments/<name>.yaml", source=str(out)
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
