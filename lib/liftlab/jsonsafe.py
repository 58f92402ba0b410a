"""Plain JSON values for results.json and every section in it."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any


def clean(obj: Any) -> Any:
    """Plain JSON: NaN and ±inf become null, tuples lists, dates ISO strings, numpy scalars
    Python numbers, and objects with a ``to_dict()`` their dict (cleaned too)."""
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
    if hasattr(obj, "item"):  # numpy scalars
        return clean(obj.item())
    return obj
