"""Ad-platform exports: rows per ad (and day) turned, in the engine, into a cluster table.

What growth teams get from an ad platform is not a unit table but one row per ad, usually per
day: date, campaign, ad set, ad, impressions, clicks, spend, conversions, conversion value,
sometimes age or gender breakdowns. A plan reads such a file with::

    data:
      aggregates: data/meta_export.csv      # CSV/Parquet file or glob, or a table in engine:
      preset: meta                          # meta | google_ads | tiktok (optional)
      columns: {arm: campaign}              # which column holds the arms; any role overridable
    randomization: none                     # the platform's delivery chose who saw what
    metrics:
      - {name: ctr, type: ctr, role: primary}     # clicks / impressions
      - {name: cpa, type: cpa}                    # spend / conversions

**Roles.** ``date``, ``campaign``, ``ad_set``, ``ad`` (grouping columns), ``impressions``,
``clicks``, ``spend``, ``conversions``, ``value`` (conversion value), ``units`` (randomised
units per row, only for the sample-ratio check under ``randomization: unit``) and ``arm``
(required: the grouping whose values are the plan's variants; a role name such as
``campaign`` or a column name). ``columns:`` maps any role to a column and may add roles of
its own (``columns: {video_views: "ThruPlays"}``); metrics name roles (``numerator:
clicks``), and the shorthand metric types of :data:`liftlab.plan.EXPORT_RATIOS` expand to
ratios of roles: ``ctr`` clicks/impressions, ``cvr`` conversions/clicks, ``cpc``
spend/clicks, ``cpm`` 1000·spend/impressions, ``cpa`` spend/conversions, ``roas``
value/spend, ``value_per_conversion`` value/conversions.

**Arms from the data.** ``variants: from_data`` (or no ``variants:``) with ``control:``
takes the arms from the arm column, and ``creative.group_by`` a column's partition of them
into groups; :func:`resolve_plan` writes both into the plan when it is analysed.

**Presets** (:data:`PRESETS`) name each role's column as the platform's exports spell it; the
first header present in the file wins, and ``columns:`` overrides any of them. They assume:

- ``meta``: Ads Manager "Export table data" (CSV/XLSX saved as CSV) with the Day breakdown:
  ``Day`` or ``Reporting starts``; ``Campaign name``, ``Ad set name``, ``Ad name``;
  ``Impressions``; ``Link clicks`` (else ``Clicks (all)``, which also counts likes, shares
  and profile taps); ``Amount spent (XXX)`` in the account currency (any three-letter code;
  else ``Amount spent`` beside a ``Currency`` column); ``Purchases`` (else ``Results``);
  ``Purchases conversion value`` (else ``Website purchases conversion value``); ``Reach``
  as units. ``Results`` counts each ad set's own optimisation event, named per row in
  ``Result indicator``: an export whose rows name more than one event (leads in one ad set,
  link clicks in another) is refused, since their sum is not a conversion count. Without the
  Day breakdown each row spans the report's period (``Reporting starts`` before ``Reporting
  ends``): the rows are then not days, so the date role is dropped (no fatigue, cumulative
  or ``as_of`` views) unless ``columns: {date: ...}`` names one. ``Reach`` counts people
  once per row: summed over daily rows it counts a person once per day seen, so for a
  sample-ratio check on people export without the Day breakdown.
- ``google_ads``: a report downloaded from the Google Ads interface with segment Day:
  ``Day``; ``Campaign``, ``Ad group``, ``Ad ID`` (else ``Ad``); ``Impr.`` (else
  ``Impressions``); ``Clicks``; ``Cost`` (else ``Cost (Converted currency)``, a
  manager account's view); ``Conversions``; ``Conv. value``. Its title lines above the
  header and its ``Total: …`` rows are skipped (and counted), ``--`` is empty. Download as
  "CSV" (UTF-8, commas); the "Excel .csv" download is UTF-16 with tabs: save it as UTF-8
  CSV first.
- ``tiktok``: TikTok Ads Manager's custom report by day: ``Date`` (else ``By Day``);
  ``Campaign name``, ``Ad group name``, ``Ad name``; ``Impressions``; ``Clicks
  (destination)`` (else ``Clicks (all)``, ``Clicks``); ``Cost`` (else ``Cost (XXX)``,
  ``Spend``); ``Conversions`` (else ``Complete payment``); ``Total purchase value`` (else
  ``Total complete payment value``).

These headers were checked against the platforms' column references and against exports
shared publicly as of 2026 (Meta's "Reporting starts/ends" day rows and "Amount spent
(USD)"; Google's "Campaign report" title, "Impr." and "Total: Account" rows; TikTok's
"Clicks (destination)" and "By Day"). Platforms rename columns and translate them with the
interface language, so a missing column is one error naming the column, its role and the
preset, with the closest header of the file, and ``columns:`` fixes it.

**Numbers as text.** Exports often write ``1,234`` or ``$1,234.50``. A numeric role read as
text is parsed in the engine: spaces, currency symbols (``$ € £ ¥ ₹``) and a leading or
trailing three-letter code are dropped, commas are read as thousands separators only in the
``1,234,567.89`` pattern, ``--`` and empty cells are empty. Anything else (``1.234,56``,
``12%``) is refused with the column, a count and an example.

**Clusters and variance.** Each row of the export is a cluster of impressions (an ad × day,
or whatever the row grain is). The derived table has one row per cluster (``unit``), its arm
(``variant``) and the sums of each role, so the unit-table machinery applies unchanged: a
ratio metric is ``Σnumerator/Σdenominator`` over an arm's clusters, with the delta-method
variance over clusters (:func:`liftlab.stats.frequentist.ratio_variance`), which carries the
over-dispersion between ads and days rather than treating every impression as an independent
trial. ``data.cluster`` names a coarser cluster: rows are added up per (arm, cluster) first
(``cluster: row`` keeps the rows).
The default is the ``ad`` when the arm is a coarser grouping than the ad (campaign, ad set or
another column) and the export has an ad column, because an ad's days share its creative and
audience and are not independent; when the arm *is* the ad (or there is no ad column) the
clusters are the rows. A cluster table has no days, so cumulative and sequential views need
row clusters.

**Data quality** (``results.json`` ``data_quality.export``, never silently dropped): rows,
clusters, total rows skipped, rows with conversions but no clicks (view-through conversions,
kept and counted), rows with negative spend and with missing spend (kept, spend counted as
given or 0), empty cells per numeric role (counted as 0).

**Design.** The plan's ``randomization`` says how arms were assigned. ``none`` (platform
delivery): no sample-ratio check (the report says why), the verdict is an observational
comparison. ``impression``: impressions were split at random by the planned weights; the
sample-ratio check compares impressions per arm (:func:`srm_counts`). ``unit``: the export
names the randomised units per row (``columns: {units: ...}``) and the check compares their
sums. Intervals are over clusters in every case.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from liftlab.aggregate import Layout
from liftlab.errors import DataError, did_you_mean
from liftlab.plan import FILE_SUFFIXES, Plan
from liftlab.sources import Scope, UnitSource, check_segment, connect, fetch, open_table

GROUP_ROLES = ("date", "campaign", "ad_set", "ad")
NUMBER_ROLES = ("impressions", "clicks", "spend", "conversions", "value", "units")
SPEND_PER_MILLE = "spend_per_mille"  # 1000 × spend, the numerator of cpm

# role -> the headers it may have in each platform's export, first present wins. A header
# ending in "(XXX)" matches any three-letter currency code.
PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    "meta": {
        "date": ("Day", "Reporting starts"),
        "campaign": ("Campaign name",),
        "ad_set": ("Ad set name",),
        "ad": ("Ad name",),
        "impressions": ("Impressions",),
        "clicks": ("Link clicks", "Clicks (all)"),
        "spend": ("Amount spent (XXX)", "Amount spent"),
        "conversions": ("Purchases", "Results"),
        "value": ("Purchases conversion value", "Website purchases conversion value"),
        "units": ("Reach",),
    },
    "google_ads": {
        "date": ("Day",),
        "campaign": ("Campaign",),
        "ad_set": ("Ad group",),
        "ad": ("Ad ID", "Ad"),
        "impressions": ("Impr.", "Impressions"),
        "clicks": ("Clicks",),
        "spend": ("Cost", "Cost (Converted currency)"),
        "conversions": ("Conversions",),
        "value": ("Conv. value", "Conv. value (Converted currency)"),
    },
    "tiktok": {
        "date": ("Date", "By Day"),
        "campaign": ("Campaign name",),
        "ad_set": ("Ad group name",),
        "ad": ("Ad name",),
        "impressions": ("Impressions",),
        "clicks": ("Clicks (destination)", "Clicks (all)", "Clicks"),
        "spend": ("Cost", "Cost (XXX)", "Spend"),
        "conversions": ("Conversions", "Complete payment"),
        "value": ("Total purchase value", "Total complete payment value"),
    },
}
# Without a preset a role's column is the role's own name.

_CURRENCY = re.compile(r"^(.*)\(XXX\)$")
_TEXT_NUMBER = r"^[-+]?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)?(\.[0-9]+)?([eE][-+]?[0-9]+)?$"
_STRIP = r"[\s\x{00a0}$€£¥₹]|^[A-Z]{3}|[A-Z]{3}$"
_HEAD_LINES = 20  # lines searched for the header under a title (Google Ads downloads)


@dataclass(frozen=True)
class ExportColumns:
    """The export's columns by role, as resolved from ``columns:``, the preset and the file.

    ``roles``: role -> column in the file; ``arm``: the arm column; ``cluster``: the column
    that clusters rows (``None``: each row is a cluster); ``numbers``: the numeric roles
    present, in a stable order.
    """

    roles: dict[str, str]
    arm: str
    cluster: str | None
    numbers: tuple[str, ...]


def resolve_columns(plan: Plan, names: list[str]) -> ExportColumns:
    """Each role's column among ``names`` (the file's headers); :class:`DataError` when a
    role the plan needs is missing, naming the column, the role and the preset."""
    d = plan.data
    preset = PRESETS.get(d.preset or "", {})
    roles: dict[str, str] = {}
    for role in (*GROUP_ROLES, *NUMBER_ROLES):
        col = _find(preset.get(role, (role,)), names)
        if col is not None:
            roles[role] = col
    for role, col in d.columns.items():
        if role in ("arm",):
            continue
        roles[role] = col
    arm_spec = d.columns["arm"]
    arm = roles.get(arm_spec, arm_spec)
    _require(plan, names, arm, "arm", "data.columns.arm")
    for role in _needed_roles(plan):
        if role == SPEND_PER_MILLE:
            role = "spend"
        col = roles.get(role) or _expected(plan, role)
        _require(plan, names, col, role, _field_of(plan, role))
        roles[role] = col
    if plan.randomization == "impression":
        roles.setdefault("impressions", _expected(plan, "impressions"))
        _require(plan, names, roles["impressions"], "impressions", "randomization")
    if plan.randomization == "unit":
        _require(plan, names, roles["units"], "units", "data.columns.units")
    for role, col in roles.items():
        if role in d.columns:
            _require(plan, names, col, role, f"data.columns.{role}")
    cluster = _cluster(plan, roles, arm, names)
    numbers = tuple(r for r in roles if r not in GROUP_ROLES and roles[r] not in (arm, cluster))
    return ExportColumns({r: c for r, c in roles.items() if c in names}, arm, cluster, numbers)


def _find(candidates: tuple[str, ...], names: list[str]) -> str | None:
    for want in candidates:
        m = _CURRENCY.match(want)
        for name in names:
            if name == want or (
                m is not None and re.fullmatch(re.escape(m.group(1)) + r"\([A-Z]{3}\)", name)
            ):
                return name
    return None


def _expected(plan: Plan, role: str) -> str:
    """The column a role would have: the preset's first header, else the role's name."""
    preset = PRESETS.get(plan.data.preset or "", {})
    return preset.get(role, (role,))[0]


def _needed_roles(plan: Plan) -> list[str]:
    """The roles the plan's metrics read, in metric order."""
    out: list[str] = []
    for m in plan.metrics:
        for col in m.columns:
            if col not in out:
                out.append(col)
    return out


def _field_of(plan: Plan, role: str) -> str:
    for i, m in enumerate(plan.metrics):
        for attr in ("column", "numerator", "denominator", "covariate"):
            value = getattr(m, attr)
            if value == role or (role == "spend" and value == SPEND_PER_MILLE):
                return f"metrics[{i}].{attr}"
    return f"data.columns.{role}"


def _require(plan: Plan, names: list[str], col: str, role: str, field: str) -> None:
    if col in names:
        return
    preset = plan.data.preset
    how = f"the {preset} preset's column" if preset and role in PRESETS[preset] else "column"
    given = f"data.columns.{role}" if role in plan.data.columns else how
    raise DataError(
        f"'{col}' ({given} for {role}) is not a column of {plan.data.aggregates}"
        f"{did_you_mean(col, names)}; name the column with data.columns (e.g. columns: "
        f"{{{role}: ...}}); columns there: {_listed(names)}",
        source=plan.source,
        field=field,
    )


def _listed(names: list[str]) -> str:
    return ", ".join(names[:15]) + (", ..." if len(names) > 15 else "")


def _cluster(plan: Plan, roles: dict[str, str], arm: str, names: list[str]) -> str | None:
    """The clustering column: ``data.cluster`` (a role or a column), else the ad when the arm
    is not the ad, else none (the rows)."""
    spec = plan.data.cluster
    if spec == "row":
        return None
    if spec is not None:
        col = roles.get(spec, spec)
        _require(plan, names, col, "cluster", "data.cluster")
        return None if col == arm else col
    ad = roles.get("ad")
    if ad is None or ad == arm or ad not in names:
        return None
    return ad


# ---- reading the file --------------------------------------------------------------------------
def header_skip(path: Path, preset: str | None) -> int:
    """Lines above the header of a CSV export (Google Ads writes a title and a date range
    first): the first of the first :data:`_HEAD_LINES` lines holding a header the preset
    knows, else 0."""
    if preset is None or not path.name.lower().endswith(".csv"):
        return 0
    known = {h for hs in PRESETS[preset].values() for h in hs}
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as fh:
            for k, line in enumerate(fh):
                if k >= _HEAD_LINES:
                    break
                cells = {c.strip().strip('"') for c in line.rstrip("\n").split(",")}
                if len(cells & known) >= 2:
                    return k
    except OSError:
        return 0
    return 0


def _read(plan: Plan) -> tuple[ir.Table, tuple[Path, ...]]:
    d = plan.data
    spec = str(d.aggregates)
    con = connect(plan)
    if not spec.lower().endswith(FILE_SUFFIXES):
        return open_table(con, plan, spec, "data.aggregates")
    table, files = open_table(con, plan, spec, "data.aggregates")
    if files and files[0].name.lower().endswith(".csv"):
        skip = header_skip(files[0], d.preset)
        if skip or _has_text_numbers(table):
            # all columns as text: the header under the title lines, numbers with separators
            table = con.read_csv([str(f) for f in files], skip=skip, all_varchar=True, header=True)
    return table, files


def _has_text_numbers(table: ir.Table) -> bool:
    return any(t.is_string() for t in table.schema().types)


def _number(col: ir.Column) -> ir.FloatingColumn:
    """A numeric role as float64: numbers as they are, text parsed (module docstring)."""
    if col.type().is_numeric() or col.type().is_boolean():
        return col.cast("float64")
    text = col.cast("string").re_replace(_STRIP, "")
    text = (text == "--").ifelse(ibis.null("string"), text)
    text = (text == "").ifelse(ibis.null("string"), text)
    return (
        text.re_search(_TEXT_NUMBER)
        .ifelse(text.replace(",", ""), ibis.null("string"))
        .cast("float64")
    )


def _checked_roles(plan: Plan) -> set[str]:
    """The numeric roles whose text must be numbers: those the metrics read, the split check
    counts, or ``columns:`` names. Other roles a preset found are read where they are numbers
    and left empty (counted) where not."""
    roles = {("spend" if r == SPEND_PER_MILLE else r) for r in _needed_roles(plan)}
    roles |= set(plan.data.columns)
    roles |= {"impression": {"impressions"}, "unit": {"units"}}.get(plan.randomization, set())
    return roles


def _check_numbers(plan: Plan, t: ir.Table, cols: ExportColumns, label: str) -> dict[str, Any]:
    """Refuse text in a numeric role that is not a number (one query, an example each), a
    day column that is not a date and Meta ``Results`` of mixed events; return the query's
    row (``span``: rows whose report period is longer than a day, see :func:`_period_checks`).
    """
    checks: dict[str, Any] = {}
    date_col = cols.roles.get("date")
    if date_col is not None and t[date_col].type().is_string():
        text = t[date_col].cast("string").strip()
        bad_day = text.notnull() & (text != "") & ~_is_total_text(text)
        bad_day = bad_day & text.left(10).try_cast("date").isnull()
        checks["nd"] = bad_day.ifelse(1, 0).sum()
        checks["ed"] = bad_day.ifelse(text, ibis.null("string")).min()
    wanted = _checked_roles(plan)
    for k, role in enumerate(cols.numbers):
        if role not in wanted:
            continue
        col = t[cols.roles[role]]
        if col.type().is_numeric() or col.type().is_boolean():
            continue
        text = col.cast("string").re_replace(_STRIP, "")
        bad = text.notnull() & (text != "") & (text != "--") & ~text.re_search(_TEXT_NUMBER)
        checks[f"n{k}"] = bad.ifelse(1, 0).sum()
        checks[f"e{k}"] = bad.ifelse(col.cast("string"), ibis.null("string")).min()
    checks.update(_period_checks(plan, t, cols))
    if not checks:
        return {}
    row: dict[str, Any] = fetch(t.aggregate(**checks)).to_pylist()[0]
    _refuse_mixed_results(plan, row, label)
    if row.get("nd"):
        raise DataError(
            f"'{date_col}' (date) in {label} holds {row['nd']} values that are not dates, e.g. "
            f"'{row['ed']}'; export days as YYYY-MM-DD",
            source=plan.source,
            field="data.columns.date",
        )
    for k, role in enumerate(cols.numbers):
        if row.get(f"n{k}"):
            raise DataError(
                f"'{cols.roles[role]}' ({role}) in {label} holds {row[f'n{k}']} values that are "
                f"not numbers, e.g. '{row[f'e{k}']}'; export numbers without separators, or "
                "with ',' for thousands and '.' for decimals",
                source=plan.source,
                field=f"data.columns.{role}",
            )
    return row


RESULT_INDICATOR = "Result indicator"  # Meta: the event each row's "Results" counts
REPORTING_ENDS = "Reporting ends"  # Meta: a row's last day ("Reporting starts" its first)


def _period_checks(plan: Plan, t: ir.Table, cols: ExportColumns) -> dict[str, Any]:
    """Aggregates for two Meta pitfalls, merged into the numbers query: the distinct events
    behind a ``Results`` conversion column, and rows whose period is longer than a day when
    the date role is ``Reporting starts`` taken from the preset."""
    names = set(t.schema().names)
    out: dict[str, Any] = {}
    if cols.roles.get("conversions") == "Results" and RESULT_INDICATOR in names:
        events = t[RESULT_INDICATOR].cast("string").strip().nullif("")
        out["ri_n"] = events.nunique()
        out["ri_lo"] = events.min()
        out["ri_hi"] = events.max()
    start = cols.roles.get("date")
    if start == "Reporting starts" and REPORTING_ENDS in names and "date" not in plan.data.columns:
        first = t[start].cast("string").strip().left(10)
        last = t[REPORTING_ENDS].cast("string").strip().left(10)
        out["span"] = (first.notnull() & last.notnull() & (first != last)).ifelse(1, 0).sum()
    return out


def _refuse_mixed_results(plan: Plan, row: dict[str, Any], label: str) -> None:
    if (row.get("ri_n") or 0) > 1:
        raise DataError(
            f"'Results' (conversions) in {label} counts {row['ri_n']} different events in "
            f"'{RESULT_INDICATOR}' (e.g. '{row['ri_lo']}' and '{row['ri_hi']}'), so their "
            "sum is not a conversion count; export the event's own column (e.g. Purchases) "
            "and name it with data.columns (columns: {conversions: Purchases})",
            source=plan.source,
            field="data.columns.conversions",
        )


def open_export(plan: Plan, *, scope: Scope | None = None) -> UnitSource:
    """Open the plan's export and derive its cluster table (lazily, in the engine).

    The table has ``unit`` (the cluster id), ``variant`` (the arm, as text), ``date`` (with
    row clusters and a date role), one float64 column per numeric role (empty cells as 0),
    ``spend_per_mille`` when there is spend, and the plan's segment columns. ``scope``
    keeps rows up to its ``as_of`` (by the date role) and in its segments.

    ``extras["export"]`` is that table (kinds read it: the creative tournament's fatigue
    uses its ``date`` and role columns when each row is a cluster); ``extras["export_columns"]``
    the resolved :class:`ExportColumns`.
    """
    label = str(plan.data.aggregates)
    raw, files = _read(plan)
    cols = _checked_columns(plan, raw, label)
    skipped_total = _is_total(raw, cols)
    t = raw.filter(~skipped_total)
    if scope is not None:
        t = _in_scope(plan, t, scope, cols, label)
    rows, numbers = _role_rows(plan, t, cols)
    quality = _quality(plan, raw, skipped_total, rows, cols)
    table, timestamp = _cluster_table(plan, rows, cols, numbers)
    quality["export"]["clusters"] = int(fetch(table.count()).column(0)[0].as_py())
    layout = Layout(
        "unit",
        "variant",
        timestamp,
        {m.name: _yx(m) for m in plan.metrics},
        derived=False,
    )
    identity = {} if files else {f"{label}.rows": quality["export"]["rows"]}
    return UnitSource(
        table=table,
        label=label,
        files=files,
        identity=identity,
        layout=layout,
        quality=quality,
        extras={"export": table, "export_columns": cols},
    )


def _checked_columns(plan: Plan, raw: ir.Table, label: str) -> ExportColumns:
    """The export's resolved columns, once its segments and numbers are checked; without
    the date role when each row spans the report's period (no Day breakdown)."""
    d = plan.data
    names = list(raw.schema().names)
    cols = resolve_columns(plan, names)
    for s in d.segments:
        _require(plan, names, s, "segment", "data.segments")
    if cols.cluster is not None and d.segments:
        raise DataError(
            f"segments need row clusters, but the rows are added up per {cols.cluster}; "
            "set data.cluster to a row-level column or remove data.segments",
            source=plan.source,
            field="data.segments",
        )
    if _check_numbers(plan, raw, cols, label).get("span"):
        # each row spans the report's period (no Day breakdown): the rows are not days
        cols = replace(cols, roles={r: c for r, c in cols.roles.items() if r != "date"})
    return cols


def _in_scope(plan: Plan, t: ir.Table, scope: Scope, cols: ExportColumns, label: str) -> ir.Table:
    """The rows up to ``scope.as_of`` (by the date role, which it needs) and in its
    segments."""
    check_segment(plan, scope, t, label)
    date_col = cols.roles.get("date")
    if scope.as_of is not None:
        if date_col is None:
            raise DataError(
                "as_of needs the export's day column (columns: {date: ...})",
                source=plan.source,
                field="data.columns.date",
            )
        t = t.filter(scope.before(_day(t[date_col])))
    if scope.segment:
        t = t.filter(scope.within(t))
    return t


def _role_rows(plan: Plan, t: ir.Table, cols: ExportColumns) -> tuple[ir.Table, list[str]]:
    """The export's rows by role: ``variant``, ``cluster_``, ``date`` (with a date role), the
    segments, each numeric role (empty cells as 0, and ``null_<role>`` 0/1 marking them) and
    ``spend_per_mille`` with spend; with the numeric columns a cluster adds up."""
    date_col = cols.roles.get("date")
    values = {role: _number(t[cols.roles[role]]) for role in cols.numbers}
    rows = t.select(
        variant=t[cols.arm].cast("string"),
        cluster_=(t[cols.cluster].cast("string") if cols.cluster else ibis.literal("")),
        **({"date": _day(t[date_col])} if date_col is not None else {}),
        **{s: t[s] for s in plan.data.segments},
        **{role: v.fill_null(0.0) for role, v in values.items()},
        **{f"null_{role}": v.isnull().ifelse(1, 0) for role, v in values.items()},
    )
    numbers = list(cols.numbers)
    if "spend" in numbers:
        rows = rows.mutate(**{SPEND_PER_MILLE: rows.spend * 1000.0})
        numbers.append(SPEND_PER_MILLE)
    return rows, numbers


def _cluster_table(
    plan: Plan, rows: ir.Table, cols: ExportColumns, numbers: list[str]
) -> tuple[ir.Table, str | None]:
    """One row per cluster (``unit``: the arm and cluster value, the ``numbers`` summed
    exactly) or, with row clusters, one per row (``unit``: its row number, with its date and
    segments); with the timestamp column (``date`` for row clusters with a date role)."""
    if cols.cluster is not None:
        table = rows.group_by(["variant", "cluster_"]).aggregate(
            **{role: exact_sum(rows[role]) for role in numbers}
        )
        table = table.select(
            unit=table.variant.concat(ibis.literal("\x1f"), table.cluster_),
            variant=table.variant,
            **{role: table[role] for role in numbers},
        )
        return table, None
    dated = cols.roles.get("date") is not None
    table = rows.select(
        unit=ibis.row_number().cast("string"),
        variant=rows.variant,
        **({"date": rows.date} if dated else {}),
        **{s: rows[s] for s in plan.data.segments},
        **{role: rows[role] for role in numbers},
    )
    return table, ("date" if dated else None)


CLUSTER_DECIMALS = 9
"""Decimal places to which an export's values are summed per cluster (exports give at most
four); see :func:`exact_sum`."""


def exact_sum(col: ir.NumericColumn) -> ir.FloatingScalar:
    """A cluster's sum of one role, the same in any order: each value rounded to
    :data:`CLUSTER_DECIMALS` places and added as ``DECIMAL(38, 9)`` (exact; room for 10²⁹),
    then read as float64. Float addition in the engine's thread order would change last
    bits between runs and thread counts, and so ``results.json``."""
    return col.cast(dt.Decimal(38, CLUSTER_DECIMALS)).sum().cast("float64")


def _yx(m: Any) -> tuple[str, str | None]:
    if m.type == "ratio":
        return str(m.numerator), str(m.denominator)
    return str(m.column), m.covariate


def _day(col: ir.Column) -> ir.Column:
    """The date role as a date: dates as they are, timestamps' day, text parsed as ISO."""
    if col.type().is_date():
        return col
    if col.type().is_timestamp():
        return col.date()
    return col.cast("string").strip().left(10).try_cast("date")


def _is_total_text(text: ir.StringValue) -> ir.BooleanValue:
    return (text.startswith("Total:") | (text == "Total")).fill_null(False)


def _is_total(t: ir.Table, cols: ExportColumns) -> ir.BooleanColumn:
    """Summary rows (``Total: Account``, ``Total``) in the date or arm column."""
    cond = ibis.literal(False)
    for col in {cols.arm, cols.roles.get("date"), cols.roles.get("campaign")} - {None}:
        assert col is not None
        if t[col].type().is_string():
            text = t[col].strip()
            cond = cond | _is_total_text(text)
    return cond


def _quality(
    plan: Plan, raw: ir.Table, total: ir.BooleanColumn, rows: ir.Table, cols: ExportColumns
) -> dict[str, Any]:
    """Counts of the export's data-quality findings (two small queries)."""
    head = raw.aggregate(rows=raw.count(), totals=total.ifelse(1, 0).sum())
    h = fetch(head).to_pylist()[0]
    aggs: dict[str, Any] = {"kept": rows.count()}
    has = set(cols.numbers)
    if {"clicks", "conversions"} <= has:
        vt = (rows.clicks == 0) & (rows.conversions > 0)
        aggs["vt_rows"] = vt.ifelse(1, 0).sum()
        aggs["vt_conv"] = vt.ifelse(rows.conversions, 0.0).sum()
    if "spend" in has:
        aggs["neg_spend"] = (rows.spend < 0).ifelse(1, 0).sum()
        aggs["null_spend"] = rows.null_spend.sum()
    for role in cols.numbers:
        aggs[f"null_{role}"] = rows[f"null_{role}"].sum()
    r = fetch(rows.aggregate(**aggs)).to_pylist()[0]

    def n(v: Any) -> int:
        return int(v or 0)

    return {
        "export": {
            "rows": n(h["rows"]),
            "total_rows_skipped": n(h["totals"]),
            "rows_analysed": n(r["kept"]),
            "zero_click_conversion_rows": n(r.get("vt_rows")),
            "zero_click_conversions": float(r.get("vt_conv") or 0.0),
            "negative_spend_rows": n(r.get("neg_spend")),
            "missing_spend_rows": n(r.get("null_spend")),
            "empty_cells": {role: n(r[f"null_{role}"]) for role in cols.numbers},
            "columns": dict(cols.roles) | {"arm": cols.arm},
            "cluster": cols.cluster or "row",
        }
    }


# ---- arms and groups read from the export -----------------------------------------------------
def resolve_plan(plan: Plan) -> Plan:
    """The plan with the arms and groups it reads from its export written in, so that
    everything downstream (statistics, provenance, ``results.json``, the report) sees an
    ordinary plan; any other plan is returned as it is, without reading data.

    - ``variants: from_data`` (or no ``variants:``): the arms are the distinct values of the
      arm column (as text; empty cells and ``Total`` rows left out), control first, then
      the others in Python's string order (code points: ``Ad 10`` before ``Ad 9``), so the
      same export gives the same plan. ``control:`` must be one of them.
    - ``creative.group_by``: each arm's group is its one value of that column (a role such
      as ``campaign`` or a column name); the groups, in string order with their arms in the
      plan's order, become ``creative.groups``. An arm with two values of the column, or an
      empty one, is an error: the groups must be a partition of the arms.

    The resolved plan keeps the file's path, root and SHA-256 (it is the plan on disk, read
    with its data). One query over the export's rows.
    """
    by = plan.creative.group_by if plan.creative is not None else None
    if not plan.data.on_aggregates or (not plan.arms_from_data and by is None):
        return plan
    pairs = _arm_values(plan, by)
    arms = _arms(plan, pairs)
    changes: dict[str, Any] = {}
    if plan.arms_from_data:
        changes["variants"] = {a: {} for a in arms}
    if by is not None:
        changes["creative"] = {"group_by": None, "groups": _groups(plan, pairs, arms, by)}
    resolved = plan.with_(**changes)
    return resolved.with_source(plan.path, plan.root, plan.sha256)


def _arm_values(plan: Plan, by: str | None) -> list[tuple[str, str | None]]:
    """The distinct (arm, group value) pairs of the export's rows (group ``None`` without
    ``by``), Total rows and empty arms left out."""
    raw, _ = _read(plan)
    names = list(raw.schema().names)
    cols = resolve_columns(plan, names)
    t = raw.filter(~_is_total(raw, cols) & raw[cols.arm].notnull())
    group: Any = ibis.null("string")
    if by is not None:
        found = cols.roles.get(by, by)  # a role (campaign, ad_set...) or a column's name
        _require(plan, names, found, by, "creative.group_by")
        group = t[found].cast("string")
    rows = t.select(arm=t[cols.arm].cast("string"), group=group).distinct()
    got = fetch(rows).to_pylist()
    return [(str(r["arm"]), r["group"]) for r in got if str(r["arm"]).strip()]


def _arms(plan: Plan, pairs: list[tuple[str, str | None]]) -> list[str]:
    """The plan's arms: its variants, or the export's (control first, then string order);
    a control missing from the export is one error with the closest arms."""
    present = sorted({a for a, _ in pairs})
    if not plan.arms_from_data:
        return list(plan.variants)
    control = plan.control_name
    if control not in present:
        close = difflib.get_close_matches(control, present, n=3, cutoff=0.5)
        hint = f" (closest: {', '.join(repr(c) for c in close)})" if close else ""
        raise DataError(
            f"'{control}' is not an arm of {plan.data.aggregates}: none of its "
            f"{len(present):,} values of the arm column is that{hint}; name one of them",
            source=plan.source,
            field="control",
        )
    if len(present) < 2:
        raise DataError(
            f"{plan.data.aggregates} holds one arm ('{control}'); a comparison needs two",
            source=plan.source,
            field="variants",
        )
    return [control, *(a for a in present if a != control)]


def _groups(
    plan: Plan, pairs: list[tuple[str, str | None]], arms: list[str], by: str
) -> dict[str, list[str]]:
    """Each group value's arms (the arms in plan order); an arm in two groups or none is an
    error naming the arm and its values."""
    of: dict[str, set[str | None]] = {}
    for arm, value in pairs:
        of.setdefault(arm, set()).add(value)
    groups: dict[str, list[str]] = {}
    for arm in arms:
        values = of.get(arm, set())
        if len(values) != 1 or None in values:
            shown = ", ".join(sorted(repr(v) for v in values if v is not None)) or "none"
            raise DataError(
                f"'{arm}' has {len(values - {None})} values of '{by}' in "
                f"{plan.data.aggregates} ({shown}{', and empty cells' if None in values else ''})"
                "; group by a column that holds one value per ad, or list the groups under "
                "creative.groups",
                source=plan.source,
                field="creative.group_by",
            )
        groups.setdefault(str(next(iter(values))), []).append(arm)
    return {g: groups[g] for g in sorted(groups)}


def srm_counts(plan: Plan, src: UnitSource) -> dict[str, int] | None:
    """What the sample-ratio check counts per arm on an export: the impressions
    (``randomization: impression``) or the ``units`` role (``unit``); ``None`` for
    ``randomization: none`` or a source that is not an export."""
    table = src.extras.get("export")
    if table is None or plan.randomization == "none":
        return None
    role = "impressions" if plan.randomization == "impression" else "units"
    if role not in table.columns:
        return None
    rows = fetch(table.group_by("variant").aggregate(n=table[role].sum())).to_pylist()
    got = {str(r["variant"]): round(float(r["n"] or 0)) for r in rows}
    return {v: got.get(v, 0) for v in plan.variants}


__all__ = [
    "PRESETS",
    "ExportColumns",
    "header_skip",
    "open_export",
    "resolve_columns",
    "resolve_plan",
    "srm_counts",
]
