"""Kinds declare what they need from the data (``Plan.data_needs``); the data layer compiles
it without knowing any kind.

The reference for each count and sum is numpy over the same unit table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from liftlab.aggregate import unit_statistics
from liftlab.plan import DataNeeds, Plan, parse_plan
from liftlab.units import open_units
from tests.conftest import base_plan


def _general(units: dict[str, Any]) -> Plan:
    raw = base_plan(str(units["path"]))
    raw["kind"] = "general"
    return parse_plan(raw)


def test_the_data_layer_computes_what_the_kind_declares(units, monkeypatch) -> None:
    """A general plan whose options declared a funnel and a cross product gets both from the
    data layer, exactly as numpy counts and sums them: the data layer reads the declaration,
    not the kind."""
    plan = _general(units)
    assert plan.data_needs == DataNeeds()
    plain = unit_statistics(plan, open_units(plan))
    assert plain.funnel_counts == {} and plain.cross_sums == {}
    needs = DataNeeds(
        cross_products=(("conversion.y", "ctr.x"),),
        funnel=("converted", "clicks"),
        funnel_field="test.funnel",
    )
    monkeypatch.setattr(Plan, "data_needs", property(lambda self: needs))
    stats = unit_statistics(plan, open_units(plan))
    cols = units["cols"]
    for v in plan.variants:
        keep = cols["variant"] == v
        converted, clicked = cols["converted"][keep] > 0, cols["clicks"][keep] > 0
        assert stats.funnel_counts[v] == [
            int(keep.sum()),
            int(converted.sum()),
            int((converted & clicked).sum()),
        ]
        want = float(np.sum(cols["converted"][keep] * cols["impressions"][keep]))
        assert stats.cross_sums["conversion.y*ctr.x"][v] == want


@pytest.mark.parametrize(
    ("kind", "options", "want"),
    [
        (
            "landing_page",
            {"funnel": ["a", "b"]},
            DataNeeds((), ("a", "b"), "landing_page.funnel", 7.0),
        ),
        ("creative", {"ctr": "ctr"}, DataNeeds()),
        (
            "creative",
            {"ctr": "ctr", "conversion": "conversion"},
            DataNeeds((("conversion.y", "ctr.y"), ("conversion.y", "ctr.x"))),
        ),
        ("pricing", {"conversion": "conversion", "revenue": "revenue"}, DataNeeds()),
    ],
)
def test_each_kind_declares_its_needs(units, kind, options, want) -> None:
    raw = base_plan(str(units["path"]))
    raw["kind"] = kind
    raw[kind] = options
    if kind == "pricing":
        raw["variants"] = {
            v: {**w, "price": p}
            for (v, w), p in zip(raw["variants"].items(), (9, 10, 11), strict=True)
        }
    assert parse_plan(raw).data_needs == want
