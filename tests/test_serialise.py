"""The one serialiser of results (:func:`liftlab.jsonsafe.clean`): a dataclass is written as
the fields its class declares in ``json_fields`` (renames, attribute paths, merged mappings),
or as all its fields in order; NaN becomes null, tuples lists, dates ISO strings."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from typing import ClassVar

from liftlab.jsonsafe import clean, fields_of
from liftlab.monitor import Look
from liftlab.stats.rank import mann_whitney


@dataclasses.dataclass(frozen=True)
class _Inner:
    x: float
    y: float


@dataclasses.dataclass(frozen=True)
class _Declared:
    name: str
    inner: _Inner
    hidden: list[float]
    extra: dict[str, float]

    json_fields: ClassVar = ("name", ("x_of_inner", "inner.x"), ("label", "name"), ("*", "extra"))


def test_declared_fields_rename_read_through_and_merge_in_order() -> None:
    obj = _Declared("a", _Inner(1.5, 2.5), [9.0], {"b": 3.0, "c": math.nan})
    out = clean(obj)
    assert list(out) == ["name", "x_of_inner", "label", "b", "c"]
    assert out == {"name": "a", "x_of_inner": 1.5, "label": "a", "b": 3.0, "c": None}


def test_undeclared_dataclass_writes_every_field_in_order() -> None:
    assert fields_of(_Inner(1.0, 2.0)) == {"x": 1.0, "y": 2.0}
    res = mann_whitney([1.0, 2.0, 3.0], [2.5, 3.5, 4.5, 5.5])
    out = clean(res)
    assert list(out) == [f.name for f in dataclasses.fields(res)]
    assert out["p_value"] == res.p_value


def test_look_writes_its_interval_as_a_pair_and_dates_as_iso() -> None:
    look = Look(dt.date(2026, 11, 3), 10, 12, 0.5, 0.1, 0.3, math.inf, p_value=math.nan)
    out = clean(look)
    assert out["day"] == "2026-11-03"
    assert out["ci"] == [0.3, None]
    assert out["p_value"] is None
    assert "ci_low" not in out and "ci_high" not in out
    json.dumps(out, allow_nan=False)  # plain JSON
