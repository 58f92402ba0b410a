"""Writing files so that a reader never sees half of one, and reading JSON objects back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def atomic_write(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``.<name>.tmp`` next to ``path``, then rename it over ``path``.

    The rename is atomic on one filesystem: a crash leaves the old file or the new one,
    never a half-written file (an orphaned ``.tmp`` at worst).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
