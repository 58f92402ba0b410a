"""Writing files so that a reader never sees half of one, and reading JSON objects back."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from liftlab.errors import LiftlabError

# The process's umask, read once: a temporary file is created private (0600) and then given
# the mode an ordinary new file would have.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


class StorageError(LiftlabError):
    """A file or folder could not be written (disk full, read-only, no permission).

    One line naming the path, the cause and what to do; the command exits 1 (a fault, not
    a mistake in the user's input)."""

    exit_code = 1

    @classmethod
    def from_os_error(cls, exc: OSError, path: str | Path | None = None) -> StorageError:
        """``<path>: cannot write: <cause>; <what to do>`` for ``exc``, naming ``path`` (by
        default the file ``exc`` names)."""
        where = str(path if path is not None else exc.filename or "")
        cause = exc.strerror or str(exc) or type(exc).__name__
        if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
            fix = "free space on its disk and run again"
        elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            fix = "make it writable or give --reports another folder"
        else:
            fix = "check the folder and run again"
        return cls(f"cannot write: {cause}; {fix}", source=where or None)


def atomic_write(path: str | Path, text: str) -> Path:
    """Write ``text`` to a temporary file next to ``path``, then rename it over ``path``.

    The rename is atomic on one filesystem: a reader sees the old file or the new one, never
    a half-written file. Each writer gets a temporary name of its own
    (``.<name>.<random>.tmp``), so writers in several threads or processes never trip over
    each other's file (the last rename wins); a write that fails (disk full, no permission)
    removes its temporary file and raises the ``OSError``.
    """
    path = Path(path)
    data = text.encode("utf-8")
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, 0o666 & ~_UMASK)
        finally:
            os.close(fd)
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return path


@contextlib.contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_file`` (created, and kept, as needed)."""
    import fcntl

    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
