"""Event-table plans: the engine's derived unit table equals an independent pandas flattening.

The fixture writes exposures and events with every data-quality problem the semantics name
(duplicate exposures, units in two variants, a variant the plan does not know, events before
exposure and after the window, events of units never exposed, negative values). The expected
unit table is built here with pandas, following the semantics in ``liftlab.events``'s
docstring; the same metrics on that unit table must give the same sufficient statistics and
results (relative 1e-9), and the data-quality counts must match pandas' counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liftlab import analyze
from liftlab.aggregate import unit_statistics
from liftlab.plan import load_plan
from liftlab.units import open_units
from tests.conftest import write_plan

DAY = pd.Timedelta(days=1)
START = pd.Timestamp("2026-05-01")


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    rng = np.random.default_rng(42)
    root = tmp_path_factory.mktemp("shop")
    n = 4_000
    units = np.arange(n)
    variant = np.where(rng.random(n) < 0.5, "control", "treat")
    first = START + pd.to_timedelta(rng.integers(0, 10 * 86_400, n), unit="s")
    exp = pd.DataFrame(
        {
            "user_id": units,
            "variant": variant,
            "exposed_at": first,
            "device": np.where(rng.random(n) < 0.6, "mobile", "desktop"),
        }
    )
    dup = exp.sample(300, random_state=1).assign(exposed_at=lambda d: d.exposed_at + 2 * DAY)
    flip = exp.sample(40, random_state=2).assign(
        variant=lambda d: np.where(d.variant == "control", "treat", "control"),
        exposed_at=lambda d: d.exposed_at + DAY,
    )
    ghost = pd.DataFrame(
        {
            "user_id": np.arange(n, n + 25),
            "variant": "mystery",
            "exposed_at": START,
            "device": "mobile",
        }
    )
    exposures = pd.concat([exp, dup, flip, ghost], ignore_index=True)

    rows = []
    for _ in range(5 * n):
        u = int(rng.integers(0, n + 60))  # some units never exposed
        kind = rng.choice(["impression", "click", "purchase"], p=[0.6, 0.3, 0.1])
        ts = START + pd.Timedelta(seconds=int(rng.integers(-14 * 86_400, 25 * 86_400)))
        value = float(np.round(rng.lognormal(3, 1), 2)) if kind == "purchase" else np.nan
        if kind == "purchase" and rng.random() < 0.02:
            value = -value  # refunds recorded as negative purchases
        rows.append((u, kind, ts, value))
    events = pd.DataFrame(rows, columns=["user_id", "event", "ts", "value"])
    exposures.to_parquet(root / "exposures.parquet")
    events.to_parquet(root / "events.parquet")
    return root, exposures, events


def _metrics(on_events: bool):
    if on_events:
        return [
            {
                "name": "buyers",
                "role": "primary",
                "type": "proportion",
                "event": "purchase",
                "window_days": 7,
            },
            {
                "name": "revenue",
                "type": "mean",
                "event": "purchase",
                "aggregate": "sum",
                "window_days": 7,
                "covariate": "pre_period",
                "pre_days": 14,
                "cap": {"quantile": 0.99},
            },
            {
                "name": "clicks",
                "type": "mean",
                "event": "click",
                "aggregate": "count",
                "window_days": 3,
            },
            {
                "name": "ctr",
                "type": "ratio",
                "window_days": 7,
                "numerator": {"event": "click", "aggregate": "count"},
                "denominator": {"event": "impression", "aggregate": "count"},
            },
        ]
    return [
        {"name": "buyers", "role": "primary", "type": "proportion", "column": "buyers"},
        {
            "name": "revenue",
            "type": "mean",
            "column": "revenue",
            "covariate": "pre_revenue",
            "cap": {"quantile": 0.99},
        },
        {"name": "clicks", "type": "mean", "column": "clicks"},
        {"name": "ctr", "type": "ratio", "numerator": "clicks7", "denominator": "impressions7"},
    ]


def _plan(root, data, on_events):
    raw = {
        "name": "shop",
        "kind": "landing_page",
        "hypothesis": "h",
        "unit": "user_id",
        "variants": {"control": {}, "treat": {}},
        "data": data,
        "metrics": _metrics(on_events),
    }
    return load_plan(write_plan(root / f"{'ev' if on_events else 'unit'}.yaml", raw))


def flatten(exposures: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """The semantics of liftlab.events, written independently with pandas."""
    g = exposures.groupby("user_id")
    first = g.agg(
        exposed_at=("exposed_at", "min"), n_var=("variant", "nunique"), variant=("variant", "min")
    )
    first = first[(first.n_var == 1) & first.variant.isin(["control", "treat"])].drop(
        columns="n_var"
    )
    ev = events.merge(first[["exposed_at"]], left_on="user_id", right_index=True)
    since = ev.ts - ev.exposed_at

    def agg(event, lo, hi, how):
        hit = ev[(ev.event == event) & (since >= lo * DAY) & (since < hi * DAY)]
        per = hit.groupby("user_id")
        s = {
            "count": per.size(),
            "sum": per.value.sum(min_count=0),
            "any": (per.size() > 0).astype(float),
        }[how]
        return s.reindex(first.index, fill_value=0).astype(float)

    out = first.copy()
    out["buyers"] = agg("purchase", 0, 7, "any")
    out["revenue"] = agg("purchase", 0, 7, "sum")
    out["pre_revenue"] = agg("purchase", -14, 0, "sum")
    out["clicks"] = agg("click", 0, 3, "count")
    out["clicks7"] = agg("click", 0, 7, "count")
    out["impressions7"] = agg("impression", 0, 7, "count")
    return out.reset_index()


def test_event_plan_equals_flattened_unit_table(shop):
    root, exposures, events = shop
    ev_plan = _plan(root, {"exposures": "exposures.parquet", "events": "events.parquet"}, True)
    flat = flatten(exposures, events)
    flat.to_parquet(root / "flat.parquet")
    unit_plan = _plan(root, {"units": "flat.parquet", "timestamp": "exposed_at"}, False)

    a = unit_statistics(ev_plan, open_units(ev_plan))
    b = unit_statistics(unit_plan, open_units(unit_plan))
    assert a.counts == b.counts
    for m in ("buyers", "revenue", "clicks", "ctr"):
        for v in ("control", "treat"):
            ma, mb = a.moments[m][v], b.moments[m][v]
            assert ma.n == mb.n
            for f in ("sum_y", "sum_y2", "sum_x", "sum_x2", "sum_xy"):
                assert getattr(ma, f) == pytest.approx(getattr(mb, f), rel=1e-9, abs=1e-9), (
                    m,
                    v,
                    f,
                )
    assert a.days == b.days
    # the p99 caps, computed in the engine over the derived columns, agree
    assert a.caps["revenue"]["m1_y"] == pytest.approx(b.caps["revenue"]["revenue"], rel=1e-12)
    assert a.caps["revenue"]["m1_x"] == pytest.approx(b.caps["revenue"]["pre_revenue"], rel=1e-12)
    ra, rb = analyze(ev_plan), analyze(unit_plan)
    for m in ("buyers", "revenue", "clicks", "ctr"):
        assert ra.metric(m).comparison("treat").effect.p_value == pytest.approx(
            rb.metric(m).comparison("treat").effect.p_value, rel=1e-9
        )


def test_data_quality_counts_match_pandas(shop):
    root, exposures, events = shop
    plan = _plan(root, {"exposures": "exposures.parquet", "events": "events.parquet"}, True)
    q = analyze(plan).to_dict()["data_quality"]
    per_unit = exposures.groupby("user_id").variant.agg(["nunique", "min", "size"])
    assert q["exposures"]["rows"] == len(exposures)
    assert q["exposures"]["units"] == len(per_unit)
    assert q["exposures"]["duplicate_rows"] == int((per_unit["size"] - 1).sum())
    assert q["exposures"]["multi_variant_units"] == int((per_unit["nunique"] > 1).sum()) == 40
    assert q["exposures"]["unknown_variant_units"] == 25
    assert q["exposures"]["unknown_variant_rows"] == 25
    kept = per_unit[(per_unit["nunique"] == 1) & per_unit["min"].isin(["control", "treat"])].index
    assert q["events"]["rows"] == len(events)
    assert q["events"]["unexposed_unit_rows"] == int((~events.user_id.isin(kept)).sum())
    assert q["events"]["negative_value_rows"] == int(
        ((events.event == "purchase") & (events.value < 0)).sum()
    )
    assert q["excluded_units"] == 65


def test_missing_variants_and_ids_are_counted_like_pandas(tmp_path):
    """Exposure rows with no variant or no unit id, and events with no unit id: the units
    kept and the data-quality counts equal pandas' (``nunique`` and ``min`` skip nulls)."""
    exposures = pd.DataFrame(
        [
            ("u1", "control"),
            ("u2", "control"),
            ("u2", None),  # a second row without a variant: still one variant
            ("u3", None),  # no variant at all: neither kept nor a known or unknown variant
            ("u4", "control"),
            ("u4", "treat"),  # two variants: excluded
            ("u5", "mystery"),  # a variant the plan does not name: excluded
            ("u6", "treat"),
            ("u7", "treat"),
            (None, "control"),  # no unit id
        ],
        columns=["user_id", "variant"],
    ).assign(exposed_at=lambda d: START + pd.to_timedelta(range(len(d)), unit="h"))
    ids = ["u1", "u2", "u3", "u4", "u5", "u6", "u7", "u9", None, "u2", "u6"]
    kinds = ["purchase", "click", "impression"] * 4
    events = pd.DataFrame(
        {
            "user_id": ids,
            "event": kinds[: len(ids)],
            "ts": START + DAY,
            "value": [5.0 if k == "purchase" else np.nan for k in kinds[: len(ids)]],
        }
    )
    exposures.to_parquet(tmp_path / "exposures.parquet")
    events.to_parquet(tmp_path / "events.parquet")
    src = open_units(
        _plan(tmp_path, {"exposures": "exposures.parquet", "events": "events.parquet"}, True)
    )
    q = src.quality
    per_unit = exposures.groupby("user_id").variant.agg(["nunique", "min", "size"])
    one = per_unit["nunique"] == 1
    known = per_unit["min"].isin(["control", "treat"])
    assert q["exposures"]["units"] == len(per_unit) == 7
    assert q["exposures"]["null_unit_rows"] == int(exposures.user_id.isna().sum()) == 1
    assert q["exposures"]["multi_variant_units"] == int((per_unit["nunique"] > 1).sum()) == 1
    assert q["exposures"]["unknown_variant_units"] == int((one & ~known).sum()) == 1
    unknown_rows = ~exposures.variant.isin(["control", "treat"]) | exposures.variant.isna()
    assert q["exposures"]["unknown_variant_rows"] == int(unknown_rows.sum()) == 3
    kept = per_unit[one & known]
    got = src.table.group_by("variant").aggregate(n=src.table.count()).to_pandas()
    assert dict(zip(got.variant, got.n, strict=True)) == kept["min"].value_counts().to_dict()
    assert q["events"]["null_unit_rows"] == int(events.user_id.isna().sum()) == 1
    unexposed = events.user_id.notna() & ~events.user_id.isin(kept.index)
    assert q["events"]["unexposed_unit_rows"] == int(unexposed.sum()) == 4


def test_event_plan_errors(shop, tmp_path):
    root, _, _ = shop
    from liftlab.errors import DataError, PlanError

    with pytest.raises(PlanError, match="'exposures' is a table name, which needs engine:"):
        _plan(tmp_path, {"exposures": "exposures", "events": "events.parquet"}, True)
    bad = _plan(
        root,
        {
            "exposures": "exposures.parquet",
            "events": "events.parquet",
            "columns": {"ts": "timestamp"},
        },
        True,
    )
    with pytest.raises(
        DataError,
        match=r"data\.events: 'timestamp' is not a column of events\.parquet; rename it with data\.columns",
    ):
        analyze(bad)
    with pytest.raises(PlanError, match=r"metrics\[0\]: the data is event tables"):
        raw_metrics = _metrics(False)
        load_plan(
            write_plan(
                tmp_path / "m.yaml",
                {
                    "name": "x",
                    "kind": "landing_page",
                    "hypothesis": "h",
                    "variants": {"a": {}, "b": {}},
                    "data": {"exposures": "e.parquet", "events": "v.parquet"},
                    "metrics": raw_metrics,
                },
            )
        )


def test_srm_per_segment_matches_pandas_and_scipy(shop):
    from scipy import stats as sps

    root, exposures, _ = shop
    data = {"exposures": "exposures.parquet", "events": "events.parquet", "segments": ["device"]}
    res = analyze(_plan(root, data, True))
    # the segment is the one on each kept unit's first exposure row
    first = exposures.sort_values("exposed_at").groupby("user_id").first()
    per_unit = exposures.groupby("user_id").variant.agg(["nunique", "min"])
    kept = first[(per_unit["nunique"] == 1) & per_unit["min"].isin(["control", "treat"])]
    table = kept.groupby(["device", "variant"]).size()
    out = res.to_dict()["data_quality"]["srm_by_segment"]["device"]
    for device in ("mobile", "desktop"):
        counts = out[device]["counts"]
        assert counts == {v: int(table[(device, v)]) for v in ("control", "treat")}
        ref = sps.chisquare([counts["control"], counts["treat"]])
        assert out[device]["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
