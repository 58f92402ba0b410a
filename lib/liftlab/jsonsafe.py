"""Plain JSON values for results.json and every section in it: :func:`clean`, the one
serialiser of every result.

A result dataclass is written as its fields, in order. A class whose JSON keys differ from
its fields declares them in a ``json_fields`` class attribute: a tuple whose entries are a
field name, a ``(key, "attribute.path")`` pair (a rename, or a value read through an
attribute such as ``("abs_effect", "effect.abs_effect")``) or ``("*", "attribute")``, which
merges that mapping's items in (a comparison's named method results). Fields left out of
``json_fields`` are not written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from typing import Any


def clean(obj: Any) -> Any:
    """Plain JSON: NaN and ±inf become null, tuples lists, dates ISO strings, numpy scalars
    Python numbers, objects with a ``to_dict()`` their dict and dataclasses their
    :func:`fields_of` (cleaned too)."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, int):
        return obj
    if isinstance(obj, dt.date):
        return obj.isoformat()
    if isinstance(obj, Mapping):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean(v) for v in obj]
    if hasattr(obj, "to_dict"):
        return clean(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return clean(fields_of(obj))
    if hasattr(obj, "item"):  # numpy scalars
        return clean(obj.item())
    return obj


def fields_of(obj: Any) -> dict[str, Any]:
    """A dataclass's JSON keys and values (not yet cleaned): its ``json_fields`` when its
    class declares them, else every field in order."""
    spec = getattr(type(obj), "json_fields", None)
    if spec is None:
        spec = tuple(f.name for f in dataclasses.fields(obj))
    out: dict[str, Any] = {}
    for entry in spec:
        key, path = (entry, entry) if isinstance(entry, str) else entry
        value = obj
        for name in path.split("."):
            value = getattr(value, name)
        if key == "*":
            out.update(value)
        else:
            out[key] = value
    return out
