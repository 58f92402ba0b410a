"""What the growth kinds get from the engine, against pandas; and their plan options.

- ``UnitStats.segment_moments``: every metric's moments per segment level and variant (one
  query grouped by variant and all segment columns, marginalised in Python);
- :func:`liftlab.events.events_by_exposure_day`: event counts by day since first exposure;
- the ``pricing:``, ``creative:`` and ``landing_page:`` (or top-level ``funnel:``) options.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liftlab.aggregate import unit_statistics
from liftlab.errors import PlanError
from liftlab.events import events_by_exposure_day
from liftlab.plan import parse_plan
from liftlab.stats.moments import Moments
from liftlab.units import open_units
from tests.conftest import base_plan, write_plan, write_table
from tests.test_events import DAY, _plan, flatten, shop  # noqa: F401  (shop is a fixture)


def test_segment_moments_equal_pandas(tmp_path):
    rng = np.random.default_rng(3)
    n = 5_000
    cols = {
        "user_id": np.arange(n),
        "variant": np.asarray(["control", "b", "c"])[rng.integers(0, 3, n)],
        "converted": (rng.random(n) < 0.2).astype(np.int64),
        "revenue": rng.gamma(2.0, 10.0, n),
        "pre_revenue": rng.gamma(2.0, 10.0, n),
        "clicks": rng.poisson(1, n),
        "impressions": 1 + rng.poisson(4, n),
        "device": np.where(rng.random(n) < 0.6, "mobile", "desktop"),
        "channel": np.asarray(["paid", "organic", "email"])[rng.integers(0, 3, n)],
    }
    cols["channel"] = np.where(rng.random(n) < 0.02, None, cols["channel"])  # a missing level
    path = write_table(tmp_path / "units.parquet", cols)
    raw = base_plan(str(path))
    raw["data"]["segments"] = ["device", "channel"]
    raw["metrics"][1].pop("role")
    plan = parse_plan(raw, source="seg.yaml")
    stats = unit_statistics(plan, open_units(plan))
    df = pd.DataFrame(cols)
    df["channel"] = df["channel"].fillna("(missing)")
    metrics = {
        "conversion": ("converted", None),
        "revenue": ("revenue", None),
        "revenue_cuped": ("revenue", "pre_revenue"),
        "ctr": ("clicks", "impressions"),
    }
    for seg in ("device", "channel"):
        assert sorted(stats.segment_moments[seg]) == sorted(df[seg].unique())
        for level, part in df.groupby(seg):
            for name, (y, x) in metrics.items():
                for v in ("control", "b", "c"):
                    rows = part[part.variant == v]
                    want = Moments.from_arrays(rows[y], None if x is None else rows[x])
                    got = stats.segment_moments[seg][level][name][v]
                    assert got.n == want.n == stats.segment_counts[seg][level][v]
                    for f in ("sum_y", "sum_y2", "sum_x", "sum_x2", "sum_xy"):
                        assert getattr(got, f) == pytest.approx(getattr(want, f), rel=1e-12)
        # the levels of one segment add up to the whole
        for v in ("control", "b", "c"):
            total = sum(
                (stats.segment_moments[seg][lv]["revenue"][v] for lv in stats.segment_moments[seg]),
                Moments(0, 0.0, 0.0),
            )
            assert total.n == stats.moments["revenue"][v].n
            assert total.sum_y == pytest.approx(stats.moments["revenue"][v].sum_y, rel=1e-12)


def test_events_by_exposure_day_equal_pandas(shop):  # noqa: F811
    root, exposures, events = shop
    plan = _plan(root, {"exposures": "exposures.parquet", "events": "events.parquet"}, True)
    src = open_units(plan)
    got = events_by_exposure_day(src, ["impression", "click"], 5)
    first = flatten(exposures, events)[["user_id", "variant", "exposed_at"]]
    ev = events.merge(first, on="user_id")
    ev = ev[ev.event.isin(["impression", "click"]) & (ev.ts >= ev.exposed_at)]
    ev["day"] = ((ev.ts - ev.exposed_at) // DAY).astype(int)
    ev = ev[ev.day < 5]
    want = ev.groupby(["variant", "event", "day"]).size()
    assert set(got) == {"control", "treat"}
    for (v, e, d), count in want.items():
        assert got[v][e][d] == count
    assert sum(sum(x) for per in got.values() for x in per.values()) == int(want.sum())


def test_events_by_exposure_day_needs_event_tables(tmp_path, units):
    plan = parse_plan(base_plan(str(units["path"])), source="p.yaml")
    with pytest.raises(Exception, match="event tables"):
        events_by_exposure_day(open_units(plan), ["click"], 3)


def _kind_plan(kind: str, **extra):
    raw = base_plan("units.parquet")
    raw["kind"] = kind
    raw.update(extra)
    return raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            _kind_plan("landing_page", pricing={"conversion": "conversion", "revenue": "revenue"}),
            "pricing: options for kind pricing, but this plan is kind landing_page",
        ),
        (
            _kind_plan("pricing", pricing={"conversion": "conversion", "revenue": "ctr"}),
            "pricing.revenue: 'ctr' is a ratio metric; it must be mean",
        ),
        (
            _kind_plan("pricing", pricing={"conversion": "convresion", "revenue": "revenue"}),
            "pricing.conversion: 'convresion' is not a metric of this plan (did you mean",
        ),
        (
            _kind_plan("pricing", pricing={"conversion": "conversion", "revenue": "revenue"}),
            "variants.control: kind pricing needs a price on every variant",
        ),
        (
            _kind_plan("creative", creative={"ctr": "revenue"}),
            "creative.ctr: 'revenue' is a mean metric; it must be ratio",
        ),
        (_kind_plan("landing_page", funnel=["signup"]), "a funnel needs at least two steps"),
        (
            _kind_plan("landing_page", funnel=["a", "b"], landing_page={"funnel": ["a", "b"]}),
            "give the funnel once",
        ),
    ],
)
def test_kind_options_fail_in_one_line(tmp_path, raw, message):
    path = write_plan(tmp_path / "plan.yaml", raw)
    with pytest.raises(PlanError) as err:
        from liftlab.plan import load_plan

        load_plan(path)
    text = str(err.value)
    assert message in text
    assert "\n" not in text and text.startswith(str(path))


def test_funnel_shorthand_and_options(tmp_path):
    plan = parse_plan(_kind_plan("landing_page", funnel=["view", "signup", "buy"]), source="p")
    assert plan.landing_page is not None
    assert plan.landing_page.funnel == ["view", "signup", "buy"]
    assert plan.landing_page.funnel_window_days == 7.0
    raw = _kind_plan("pricing", pricing={"conversion": "conversion", "revenue": "revenue"})
    for i, v in enumerate(raw["variants"].values()):
        v["price"] = 10 + 5 * i
    plan = parse_plan(raw, source="p")
    assert plan.pricing is not None and plan.pricing.link == "logit"
