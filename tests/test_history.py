"""read_history: each metric's moments from past data, against pandas/numpy on the same rows.

Every expected number is computed here from the rows themselves (pandas for the windows and
per-unit sums, numpy for means, ``ddof=1`` standard deviations, ``np.quantile`` for caps,
whose default linear interpolation is DuckDB's ``quantile_cont``, and ``np.corrcoef``); the
demo's truth (10% signup in control) comes from :mod:`liftlab.simulate`'s model.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from liftlab.aggregate import unit_statistics
from liftlab.errors import DataError, PlanError
from liftlab.history import History, read_history
from liftlab.plan import Plan, load_plan
from liftlab.stats.power import cuped_rho_from_moments, ratio_sd_from_moments
from liftlab.units import open_units
from tests.conftest import base_plan, write_plan, write_table

DAY = pd.Timedelta(days=1)


# ---- unit tables -------------------------------------------------------------------------------
def _plan(root: Path, raw: dict[str, Any]) -> Plan:
    return load_plan(write_plan(root / "experiments" / "plan.yaml", raw))


def _linearised_sd(num: np.ndarray, den: np.ndarray) -> float:
    """Delta method by hand: the sd of ``(num − R·den)/mean(den)`` with ``R = Σnum/Σden``."""
    r = num.sum() / den.sum()
    return float(np.std((num - r * den) / den.mean(), ddof=1))


def _check_unit_moments(h: History, rows: pd.DataFrame, label: str) -> None:
    assert h.units == len(rows)
    conv = h.moments["conversion"]
    assert conv.mean_y == pytest.approx(rows.converted.mean(), rel=1e-12)
    rev = h.moments["revenue"]
    assert rev.mean_y == pytest.approx(rows.revenue.mean(), rel=1e-12)
    assert math.sqrt(rev.var_y) == pytest.approx(rows.revenue.std(ddof=1), rel=1e-9)
    cuped = h.moments["revenue_cuped"]
    rho = np.corrcoef(rows.revenue, rows.pre_revenue)[0, 1]
    assert cuped_rho_from_moments(cuped) == pytest.approx(rho, rel=1e-9)
    ctr = h.moments["ctr"]
    assert ctr.sum_y / ctr.sum_x == pytest.approx(rows.clicks.sum() / rows.impressions.sum())
    assert ratio_sd_from_moments(ctr) == pytest.approx(
        _linearised_sd(rows.clicks.to_numpy(float), rows.impressions.to_numpy(float)), rel=1e-9
    )
    assert f"over the {len(rows):,} " in h.sources["revenue"]["baseline"]
    assert label in h.sources["ctr"]["sd"]
    assert set(h.sources["revenue_cuped"]) == {"baseline", "sd", "cuped_rho"}
    assert set(h.sources["revenue"]) == {"baseline", "sd"}


def test_unit_table_with_a_variant_column_uses_the_control_rows(tmp_path, units):
    plan = _plan(tmp_path, base_plan(str(units["path"])))
    h = read_history(plan, units["path"])
    df = pd.DataFrame(units["cols"])
    control = df[df.variant == "control"]
    assert h.control_only and h.label == str(units["path"]) and h.period is None
    assert 900 < h.units < 1_100  # a third of 3,000: the control arm, not every row
    _check_unit_moments(h, control, str(units["path"]))
    assert "control units" in h.sources["conversion"]["baseline"]


def test_unit_table_without_a_variant_column_uses_every_row(tmp_path, units):
    cols = {k: v for k, v in units["cols"].items() if k != "variant"}
    (tmp_path / "data").mkdir()
    write_table(tmp_path / "data" / "past.csv", cols)
    raw = base_plan("data/now.parquet")
    raw["data"]["timestamp"] = "exposed_at"
    plan = _plan(tmp_path, raw)
    h = read_history(plan, "data/past.csv")  # relative: resolved against the project root
    df = pd.DataFrame(cols)
    assert not h.control_only and h.units == len(df) == 3_000
    _check_unit_moments(h, df, "data/past.csv")
    assert h.period is not None
    assert pd.Timestamp(h.period[0]) == df.exposed_at.min()
    assert pd.Timestamp(h.period[1]) == df.exposed_at.max()


def test_caps_apply_to_history_as_in_the_analysis(tmp_path, units):
    raw = base_plan(str(units["path"]))
    raw["metrics"][1]["cap"] = {"quantile": 0.95}  # revenue, non-zero values
    raw["metrics"][2]["cap"] = {"quantile": 0.9, "among": "all"}  # and its covariate
    raw["metrics"][3]["cap"] = {"value": 6}  # clicks and impressions at 6
    plan = _plan(tmp_path, raw)
    h = read_history(plan, units["path"])
    df = pd.DataFrame(units["cols"])
    c = df[df.variant == "control"]
    q = np.quantile(c.revenue[c.revenue != 0], 0.95)
    assert h.caps["revenue"] == {"y": pytest.approx(q, rel=1e-12)}
    capped = np.minimum(c.revenue, q)
    assert h.moments["revenue"].mean_y == pytest.approx(capped.mean(), rel=1e-12)
    assert math.sqrt(h.moments["revenue"].var_y) == pytest.approx(capped.std(ddof=1), rel=1e-9)
    qy, qx = np.quantile(c.revenue, 0.9), np.quantile(c.pre_revenue, 0.9)
    assert h.caps["revenue_cuped"] == {
        "y": pytest.approx(qy, rel=1e-12),
        "x": pytest.approx(qx, rel=1e-12),
    }
    rho = np.corrcoef(np.minimum(c.revenue, qy), np.minimum(c.pre_revenue, qx))[0, 1]
    assert cuped_rho_from_moments(h.moments["revenue_cuped"]) == pytest.approx(rho, rel=1e-9)
    clicks, imps = np.minimum(c.clicks, 6.0), np.minimum(c.impressions, 6.0)
    assert h.caps["ctr"] == {"y": 6.0, "x": 6.0}
    assert ratio_sd_from_moments(h.moments["ctr"]) == pytest.approx(
        _linearised_sd(clicks.to_numpy(), imps.to_numpy()), rel=1e-9
    )
    assert "capped at" in h.sources["revenue"]["sd"]
    assert "quantile" in h.sources["revenue"]["sd"]


def test_a_table_in_the_plans_engine(tmp_path, units):
    (tmp_path / "data").mkdir()
    df = pd.DataFrame({k: v for k, v in units["cols"].items() if k != "variant"})
    con = duckdb.connect(str(tmp_path / "data" / "past.duckdb"))
    con.execute("CREATE TABLE past_units AS SELECT * FROM df")
    con.close()
    raw = base_plan("units_now")
    raw["data"]["engine"] = "duckdb://data/past.duckdb"
    h = read_history(_plan(tmp_path, raw), "past_units")
    _check_unit_moments(h, df, "past_units")


# ---- event tables: the demo's past visitors ------------------------------------------------
def _per_unit(con: duckdb.DuckDBPyConnection, exposures: str, events: str) -> pd.DataFrame:
    """Each unit's first exposure and its events, as pandas rows."""
    exp = con.execute(f"SELECT * FROM {exposures}").df()
    first = exp.groupby("user_id").exposed_at.min().rename("first").reset_index()
    if "variant" in exp:
        first = first.merge(exp.groupby("user_id").variant.agg(["nunique", "min"]), on="user_id")
        first = first[first["nunique"] == 1].rename(columns={"min": "variant"})
    ev = con.execute(f"SELECT * FROM {events}").df().merge(first, on="user_id")
    return first.set_index("user_id"), ev


def _window(first: pd.DataFrame, ev: pd.DataFrame, event: str, lo: float, hi: float):
    """Per unit (every unit of ``first``): count and sum of ``event`` in [first+lo, first+hi)."""
    hit = ev[
        (ev.event == event) & (ev.ts >= ev["first"] + lo * DAY) & (ev.ts < ev["first"] + hi * DAY)
    ]
    g = hit.groupby("user_id").value
    out = pd.DataFrame({"n": g.size(), "sum": g.apply(lambda v: v.fillna(0).sum())})
    return out.reindex(first.index, fill_value=0)


def _cap(values: pd.Series, q: float) -> pd.Series:
    return np.minimum(values, np.quantile(values[values != 0], q))


@pytest.fixture(scope="module")
def demo(project):
    plan = load_plan(project / "experiments" / "landing-headline.yaml")
    con = duckdb.connect(str(project / "data" / "shop.duckdb"), read_only=True)
    past = _per_unit(con, "landing_history", "landing_history_events")
    test = _per_unit(con, "landing_exposures", "landing_events")
    con.close()
    return plan, past, test


def _revenue(first, ev) -> tuple[pd.Series, pd.Series]:
    """Revenue in the 7 days after exposure and in the 14 before, each capped at its p99.9
    of non-zero values (the plan's cap)."""
    y = _window(first, ev, "purchase", 0, 7)["sum"]
    x = _window(first, ev, "purchase", -14, 0)["sum"]
    return _cap(y, 0.999), _cap(x, 0.999)


def test_event_history_of_past_visitors_matches_pandas(demo):
    plan, (first, ev), _ = demo
    h = read_history(plan, "landing_history + landing_history_events")
    assert not h.control_only and h.units == len(first) == 40_000
    assert h.label == "landing_history + landing_history_events"
    assert pd.Timestamp(h.period[0]) == first["first"].min()
    assert pd.Timestamp(h.period[1]) == first["first"].max() < pd.Timestamp("2026-11-02")
    signup = (_window(first, ev, "signup", 0, 7)["n"] > 0).mean()
    assert h.moments["signup_rate"].mean_y == pytest.approx(signup, rel=1e-12)
    # the control's true rate is 10%: within 4 binomial standard errors
    assert abs(h.moments["signup_rate"].mean_y - 0.10) < 4 * math.sqrt(0.09 / h.units)
    bounce = (_window(first, ev, "bounce", 0, 1)["n"] > 0).mean()
    assert h.moments["bounce_rate"].mean_y == pytest.approx(bounce, rel=1e-12)
    repeat = (_window(first, ev, "purchase", 0, 14)["n"] >= 2).mean()
    assert h.moments["repeat_purchase_rate"].mean_y == pytest.approx(repeat, rel=1e-12)
    y, x = _revenue(first, ev)
    rev = h.moments["revenue_per_visitor"]
    assert rev.mean_y == pytest.approx(y.mean(), rel=1e-9)
    assert math.sqrt(rev.var_y) == pytest.approx(y.std(ddof=1), rel=1e-9)
    assert cuped_rho_from_moments(rev) == pytest.approx(np.corrcoef(y, x)[0, 1], rel=1e-9)
    words = h.sources["signup_rate"]["baseline"]
    assert "40,000 units in landing_history + landing_history_events" in words
    assert "signup event in the 7 days after their first exposure" in words
    assert "14 days before it" in h.sources["revenue_per_visitor"]["cuped_rho"]


def _bootstrap_se(y: np.ndarray, x: np.ndarray, draws: int = 200) -> float:
    """Standard error of the correlation by the nonparametric bootstrap (fixed seed)."""
    rng = np.random.default_rng(1)
    idx = rng.integers(0, len(y), size=(draws, len(y)))
    return float(np.std([np.corrcoef(y[i], x[i])[0, 1] for i in idx], ddof=1))


def test_cuped_correlation_from_history_is_the_tests(demo):
    """Past visitors come from the control's model: their ρ is the test control's, within
    sampling error (both arms' ρ estimated on their own rows, each with a bootstrap SE)."""
    plan, _, (first, ev) = demo
    h = read_history(plan, "landing_history + landing_history_events")
    rho_h = cuped_rho_from_moments(h.moments["revenue_per_visitor"])
    control = first[first.variant == "control"]
    y, x = _revenue(control, ev[ev.variant == "control"])
    rho_t = float(np.corrcoef(y, x)[0, 1])
    hy, hx = _revenue(*demo[1])
    se = math.hypot(
        _bootstrap_se(y.to_numpy(), x.to_numpy()), _bootstrap_se(hy.to_numpy(), hx.to_numpy())
    )
    assert abs(rho_h - rho_t) < 4 * se
    assert 0 < se < 0.05


def test_event_history_with_a_variant_column_uses_the_control(demo):
    """The test's own exposures as history: the control arm, with the analysis's numbers."""
    plan, _, (first, ev) = demo
    h = read_history(plan, "landing_exposures+landing_events")  # spaces are optional
    stats = unit_statistics(plan, open_units(plan))
    assert h.control_only and h.units == stats.counts["control"]
    for name in ("signup_rate", "bounce_rate", "repeat_purchase_rate"):
        assert h.moments[name] == stats.moments[name]["control"]
    control = first[first.variant == "control"]
    y, _ = _revenue(control, ev[ev.variant == "control"])  # capped over the control alone
    assert h.moments["revenue_per_visitor"].mean_y == pytest.approx(y.mean(), rel=1e-9)


# ---- errors ----------------------------------------------------------------------------------
def _write(tmp_path: Path, name: str, cols: dict[str, Any]) -> Path:
    return write_table(tmp_path / name, cols)


def test_unit_history_errors(tmp_path, units):
    plan = _plan(tmp_path, base_plan(str(units["path"])))
    cols = dict(units["cols"])

    def fails(error: type[Exception], match: str, table: dict[str, Any] | str) -> None:
        path = table if isinstance(table, str) else _write(tmp_path, "bad.parquet", table)
        with pytest.raises(error, match=match):
            read_history(plan, path)

    fails(DataError, r"'nope\.parquet' not found; check the path", "nope.parquet")
    renamed = {("revenu" if k == "revenue" else k): v for k, v in cols.items()}
    fails(
        DataError,
        r"metrics\[1\]\.column: 'revenue' is not a column of the history .*bad\.parquet "
        r"\(did you mean 'revenu'\?\); history needs the plan's metric columns",
        renamed,
    )
    no_variant = {k: v for k, v in cols.items() if k != "variant"}
    empty = pa.table(no_variant).slice(0, 0)
    pq.write_table(empty, tmp_path / "empty.parquet")
    fails(
        DataError,
        r"history: the history .*empty\.parquet has no rows",
        str(tmp_path / "empty.parquet"),
    )
    others = {**cols, "variant": np.where(cols["variant"] == "control", "b", cols["variant"])}
    fails(
        DataError,
        r"has no rows of the control 'control' in its 'variant' column \(variants there: b, c\)",
        others,
    )
    flat = {**cols, "converted": np.zeros(3_000, dtype=np.int64)}
    n_control = int((cols["variant"] == "control").sum())
    fails(
        DataError,
        rf"metrics\[0\]: 'conversion' does not vary in the history .*: all {n_control:,} units "
        "have 0; a test cannot be sized from it",
        flat,
    )
    fails(
        DataError,
        r"metrics\[3\]: the history .* cannot size 'ctr' \(.*zero denominator",
        {**cols, "impressions": np.zeros(3_000, dtype=np.int64)},
    )
    holes = pa.array([None, *cols["revenue"][1:]], type=pa.float64())
    table = pa.table({**cols, "variant": np.full(3_000, "control"), "revenue": holes})
    pq.write_table(table, tmp_path / "holes.parquet")
    fails(
        DataError,
        r"metrics\[1\]\.column: 'revenue' has 1 empty values",
        str(tmp_path / "holes.parquet"),
    )
    fails(
        DataError,
        r"metrics\[0\]\.column: 'converted' in the history .* holds values other than 0 and 1 "
        r"\(from 0 to 2\)",
        {**cols, "converted": np.full(3_000, 2) * (np.arange(3_000) % 2)},
    )
    raw = base_plan("x.parquet")
    raw["data"] = {"statistics": "stats.csv"}
    for m in raw["metrics"]:
        for key in ("column", "numerator", "denominator"):
            m.pop(key, None)
    with pytest.raises(PlanError, match=r"data\.statistics: history needs a plan over a unit"):
        read_history(_plan(tmp_path / "pre", raw), "past.parquet")


def test_event_history_errors(demo, tmp_path):
    plan = demo[0]
    with pytest.raises(
        DataError,
        match=r"history: table 'landing_histroy' not found in .* \(did you mean 'landing_history'\?\)",
    ):
        read_history(plan, "landing_histroy")
    with pytest.raises(
        DataError,
        match=r"is not a history of event tables; give an exposures table, or 'EXPOSURES \+ EVENTS'",
    ):
        read_history(plan, "a + b + c")
    with pytest.raises(
        DataError, match=r"history: 'exposed_at' is not a column of the history landing_events"
    ):
        read_history(plan, "landing_events")
    # past visitors whose events are not in the plan's events table: nothing happens to them
    with pytest.raises(
        DataError,
        match=r"metrics\[0\]: 'signup_rate' does not vary in the history landing_history: all "
        r"40,000 units have 0; are these units' events in landing_events\? give 'EXPOSURES \+ EVENTS'",
    ):
        read_history(plan, "landing_history")
