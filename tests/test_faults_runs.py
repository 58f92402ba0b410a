"""Faults during report runs: signals, a full or read-only disk, concurrent index writers.

Each fault test checks the promises the README makes for them: an earlier good run's files
are byte for byte as they were, ``latest`` still points at it, nothing temporary is left
behind (no ``.tmp-`` folder, no ``.<run>.log`` or ``.<run>.outcome.json``, no temporary
file), no process of the run is left running, and the command ends with one line per fault
and the documented exit status.
"""

from __future__ import annotations

import errno
import hashlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import cast

import psutil
import pytest

from liftlab.files import StorageError, atomic_write
from liftlab.report import list_runs, update_latest, write_index

PLAN = "landing-headline"
LIFTLAB = Path(sys.executable).with_name("liftlab")
README = Path(__file__).resolve().parents[1] / "README.md"


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _good_run(reports: Path, slug: str = PLAN) -> Path:
    """An earlier good run of ``slug`` with ``latest`` pointing at it."""
    good = reports / slug / "20200101T000000Z"
    good.mkdir(parents=True)
    (good / "results.json").write_text(
        '{"decision": {"recommendation": "ship", "variant": "benefit"}}\n', encoding="utf-8"
    )
    (good / "report.html").write_text("<html><body>good</body></html>\n", encoding="utf-8")
    update_latest(reports / slug)
    return good


def _leftovers(reports: Path) -> list[str]:
    """Anything temporary under ``reports`` (the index lock file is kept on purpose)."""
    found = []
    for p in reports.rglob("*"):
        name = p.name
        if name == ".index.lock":
            continue
        if name.startswith((".tmp-", ".latest-")) or name.endswith((".log", ".outcome.json")):
            if p.parent.name.endswith("-failed") and name == "run.log":
                continue
            found.append(str(p))
        elif name.startswith(".") or name.endswith(".tmp"):
            found.append(str(p))
    return found


# ---- concurrent index writers ------------------------------------------------------------------
def _write_index_many(reports: str, n: int) -> int:
    failures = 0
    for _ in range(n):
        try:
            write_index(Path(reports))
        except OSError:
            failures += 1
    return failures


def test_concurrent_index_writers_never_fail(tmp_path: Path) -> None:
    """8 processes × 50 index writes on one reports folder: no writer fails, no temporary
    file is left, and the index is whole (two schedulers' ``liftlab report`` at once)."""
    reports = tmp_path / "reports"
    _good_run(reports)
    _good_run(reports, "pricing-three-tiers")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(8) as pool:
        failures = pool.starmap(_write_index_many, [(str(reports), 50)] * 8)
    assert sum(failures) == 0
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert index.rstrip().endswith("</html>")
    assert 'id="exp-landing-headline"' in index and 'id="exp-pricing-three-tiers"' in index
    assert _leftovers(reports) == []


def test_atomic_write_temporary_names_are_unique_per_writer(tmp_path: Path) -> None:
    """Threads of one process writing the same file at once: none fails, none leaves a
    temporary file, the file holds one writer's text whole."""
    from concurrent.futures import ThreadPoolExecutor

    target = tmp_path / "index.html"
    texts = [f"writer {i}\n" * 2000 for i in range(8)]

    def write(text: str) -> None:
        for _ in range(50):
            atomic_write(target, text)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, texts))
    assert target.read_text(encoding="utf-8") in texts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]


def test_atomic_write_removes_its_temporary_file_when_the_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "index.html"
    target.write_text("old\n", encoding="utf-8")

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError) as info:
        atomic_write(target, "new\n")
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]


def test_atomic_write_keeps_files_readable_like_any_other(tmp_path: Path) -> None:
    """A temporary file is created private (0600); the written file gets the usual mode."""
    umask = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "index.html", "x\n")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


# ---- signals -----------------------------------------------------------------------------------
def _default_sigint() -> None:
    # a shell's background job starts with SIGINT ignored; the command should see it as a
    # terminal's Ctrl-C does
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _signalled_batch(
    project: Path, reports: Path, sig: int, plans: tuple[str, ...] = (PLAN,)
) -> dict[str, object]:
    """Start ``liftlab report`` on a demo plan, wait until its worker's kernel runs, send
    ``sig`` to the command (as a terminal's Ctrl-C, a CI cancel or a scheduler does) and
    return its exit status, output and the processes it had started."""
    proc = subprocess.Popen(
        [
            str(LIFTLAB),
            "report",
            *(f"experiments/{p}.yaml" for p in plans),
            *("--reports", str(reports), "--jobs", str(len(plans))),
        ],
        cwd=project,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        deadline = time.monotonic() + 120
        tree: list[psutil.Process] = []
        while time.monotonic() < deadline:
            started = sorted(reports.glob("*/.tmp-*"))
            tree = psutil.Process(proc.pid).children(recursive=True)
            kernel = [p for p in tree if "ipykernel" in " ".join(_cmdline(p))]
            if len(started) == len(plans) and len(kernel) == len(plans):
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        else:
            pytest.fail("the worker's kernel never started")
        time.sleep(1.0)  # the notebook is running
        tree = psutil.Process(proc.pid).children(recursive=True)
        commands = [_cmdline(p) for p in tree]
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    _, alive = psutil.wait_procs(tree, timeout=15)
    return {
        "code": proc.returncode,
        "out": out,
        "err": err,
        "run_id": started[0].name.removeprefix(".tmp-"),
        "runs": {t.parent.name: t.name.removeprefix(".tmp-") for t in started},
        "alive": [(p.pid, _cmdline(p)) for p in alive],
        "stopped": commands,
    }


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


@pytest.mark.parametrize(
    ("sig", "code", "name"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "Ctrl-C")]
)
def test_a_signal_stops_the_batch_and_keeps_its_run_as_interrupted(
    project: Path, tmp_path: Path, sig: int, code: int, name: str
) -> None:
    """SIGTERM (CI cancel, scheduler) ends a batch as Ctrl-C does: the worker and its kernel
    are stopped, the run is kept as ``<run-id>-failed`` with status interrupted, nothing
    temporary is left, the index is rebuilt; exit 128 + the signal's number."""
    reports = tmp_path / "reports"
    good = _good_run(reports)
    before = _digest(good)
    result = _signalled_batch(project, reports, sig)
    assert result["code"] == code, result["err"]
    assert result["alive"] == []
    run_id = result["run_id"]
    failed = reports / PLAN / f"{run_id}-failed"
    assert failed.is_dir(), sorted(p.name for p in (reports / PLAN).iterdir())
    manifest = json.loads((failed / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "interrupted"
    assert name in manifest["error"]
    assert (failed / "run.log").is_file()
    assert not (reports / PLAN / run_id).exists()
    assert _leftovers(reports) == []
    assert _digest(good) == before
    assert os.readlink(reports / PLAN / "latest") == good.name
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert f"{run_id}-failed (interrupted)" in index
    # one line says what happened, and no traceback
    assert "Traceback" not in str(result["err"])
    assert f"report interrupted: stopped by {name}" in str(result["err"])
    assert str(result["out"]).splitlines()[-1].startswith(f"{PLAN}: interrupted in ")
    # the worker and its kernel were among the processes stopped, and the kernel's
    # connection file is gone with it
    commands = cast(list[list[str]], result["stopped"])
    stopped = [" ".join(c) for c in commands]
    assert any("liftlab.report" in c for c in stopped), stopped
    kernels = [c for c in commands if "ipykernel" in " ".join(c)]
    assert kernels, stopped
    for command in kernels:
        connection = command[command.index("-f") + 1]
        assert not Path(connection).exists(), connection


def test_readme_states_the_exit_status_of_an_interrupted_batch() -> None:
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert "Ctrl-C or SIGTERM" in text
    assert "exit status 130 after Ctrl-C and 143 after SIGTERM" in text


# ---- a full or read-only disk ------------------------------------------------------------------
# Loaded by every Python process of a batch (the command, its workers, their kernels) through
# PYTHONPATH: under FAULT_DIR, "full" lets files be created but every write fail with ENOSPC
# (a disk with inodes but no blocks left); "read-only" refuses to create, change or remove
# anything with EROFS, "denied" with EACCES (a folder without write permission, which root
# could write all the same).
_SITECUSTOMIZE = """
import errno, io, builtins, os

_MODE = os.environ.get("LIFTLAB_TEST_FAULT")
_ROOT = os.environ.get("LIFTLAB_TEST_FAULT_DIR")

if _MODE and _ROOT:
    _CODE = {"full": errno.ENOSPC, "denied": errno.EACCES}.get(_MODE, errno.EROFS)
    _io_open, _os_open, _os_write = io.open, os.open, os.write
    _WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def _path(file):
        if isinstance(file, int):
            try:
                return os.readlink(f"/proc/self/fd/{file}")
            except OSError:
                return ""
        return os.path.abspath(os.fsdecode(file))

    def _hit(file):
        path = _path(file)
        return path == _ROOT or path.startswith(_ROOT + os.sep)

    def _fail(file):
        raise OSError(_CODE, os.strerror(_CODE), _path(file))

    class _Full:
        def __init__(self, f, file):
            self._f, self._file = f, file
        def write(self, data):
            _fail(self._file)
        def writelines(self, lines):
            _fail(self._file)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self._f.close()
        def __getattr__(self, name):
            return getattr(self._f, name)

    def _open(file, mode="r", *args, **kwargs):
        writing = any(c in mode for c in "wax+")
        if writing and _hit(file):
            if _MODE != "full":
                _fail(file)
            return _Full(_io_open(file, mode, *args, **kwargs), file)
        return _io_open(file, mode, *args, **kwargs)

    def _osopen(file, flags, *args, **kwargs):
        if _MODE != "full" and flags & _WRITING and _hit(file):
            _fail(file)
        return _os_open(file, flags, *args, **kwargs)

    def _oswrite(fd, data):
        if _MODE == "full" and _hit(fd):
            _fail(fd)
        return _os_write(fd, data)

    def _refuse(real):
        def call(*args, **kwargs):
            if any(isinstance(a, (str, bytes, os.PathLike)) and _hit(a) for a in args[:2]):
                _fail(args[0])
            return real(*args, **kwargs)
        return call

    io.open = builtins.open = _open
    os.open, os.write = _osopen, _oswrite
    if _MODE != "full":
        for _name in ("mkdir", "rename", "replace", "unlink", "rmdir", "symlink"):
            setattr(os, _name, _refuse(getattr(os, _name)))
"""


def _faulty_batch(project: Path, tmp_path: Path, reports: Path, mode: str) -> dict[str, object]:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(hooks), os.environ.get("PYTHONPATH", "")]),
        "LIFTLAB_TEST_FAULT": mode,
        "LIFTLAB_TEST_FAULT_DIR": str(reports.resolve()),
    }
    proc = subprocess.Popen(
        [str(LIFTLAB), "report", f"experiments/{PLAN}.yaml", "--reports", str(reports)],
        cwd=project,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    tree: list[psutil.Process] = []
    while proc.poll() is None:  # the processes it starts, to check none is left behind
        try:
            tree += psutil.Process(proc.pid).children(recursive=True)
        except psutil.Error:
            break
        time.sleep(0.2)
    out, err = proc.communicate(timeout=600)
    _, alive = psutil.wait_procs(tree, timeout=15)
    return {"code": proc.returncode, "out": out, "err": err, "alive": alive}


def test_a_full_disk_fails_the_run_in_one_line_and_leaves_nothing_behind(
    project: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    good = _good_run(reports)
    before = _digest(good)
    index_before = (
        (reports / "index.html").read_bytes() if (reports / "index.html").exists() else None
    )
    result = _faulty_batch(project, tmp_path, reports, "full")
    err = str(result["err"])
    assert result["code"] == 1, err
    assert "Traceback" not in err and "Error:" not in err.replace("OSError", ""), err
    problems = [ln for ln in err.splitlines() if "No space left on device" in ln]
    # the run, and the index it could not rewrite, each say so in one line naming the path
    assert 1 <= len(problems) <= 2, err
    assert all(str(reports) in ln for ln in problems), err
    assert any("index.html" in ln for ln in problems), err
    assert result["alive"] == []
    # the run is kept as failed (not as a .tmp- folder), nothing temporary is left
    runs = sorted(p.name for p in (reports / PLAN).iterdir())
    [failed] = [r for r in runs if r.endswith("-failed")]
    assert runs == sorted(["20200101T000000Z", failed, "latest"]), runs
    assert _leftovers(reports) == []
    assert _digest(good) == before
    assert os.readlink(reports / PLAN / "latest") == good.name
    if index_before is not None:
        assert (reports / "index.html").read_bytes() == index_before


@pytest.mark.parametrize(
    ("mode", "cause"), [("read-only", "Read-only file system"), ("denied", "Permission denied")]
)
def test_a_read_only_reports_folder_fails_in_one_line(
    project: Path, tmp_path: Path, mode: str, cause: str
) -> None:
    reports = tmp_path / "reports"
    good = _good_run(reports)
    write_index(reports)
    before = _digest(reports)
    result = _faulty_batch(project, tmp_path, reports, mode)
    err = str(result["err"])
    assert result["code"] == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0] == (
        f"{reports / PLAN}: cannot write: {cause}; make it writable or give --reports another "
        "folder"
    )
    assert result["alive"] == []
    assert _digest(reports) == before
    assert _leftovers(reports) == []
    assert os.readlink(reports / PLAN / "latest") == good.name


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to a read-only folder")
def test_a_folder_without_write_permission_fails_in_one_line(project: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    good = _good_run(reports)
    write_index(reports)
    before = _digest(reports)
    for folder in (reports, reports / PLAN):
        folder.chmod(0o555)
    try:
        proc = subprocess.run(
            [str(LIFTLAB), "report", f"experiments/{PLAN}.yaml", "--reports", str(reports)],
            cwd=project,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        for folder in (reports, reports / PLAN):
            folder.chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert str(reports / PLAN) in line and "Permission denied" in line
    assert _digest(reports) == before
    assert _leftovers(reports) == []
    assert os.readlink(reports / PLAN / "latest") == good.name


def test_sigterm_stops_every_running_worker_at_once(project: Path, tmp_path: Path) -> None:
    """Two plans running side by side (``--jobs 2``): SIGTERM stops both workers and their
    kernels, and keeps both runs as interrupted."""
    reports = tmp_path / "reports"
    plans = (PLAN, "pricing-three-tiers")
    good = _good_run(reports)
    before = _digest(good)
    start = time.monotonic()
    result = _signalled_batch(project, reports, signal.SIGTERM, plans)
    assert result["code"] == 143, result["err"]
    assert result["alive"] == []
    runs = result["runs"]
    assert isinstance(runs, dict) and sorted(runs) == sorted(plans)
    for slug, run_id in runs.items():
        manifest = reports / slug / f"{run_id}-failed" / "manifest.json"
        assert json.loads(manifest.read_text(encoding="utf-8"))["status"] == "interrupted"
    assert str(result["err"]).count("report interrupted: stopped by SIGTERM") == 2
    assert _leftovers(reports) == []
    assert _digest(good) == before
    assert os.readlink(reports / PLAN / "latest") == good.name
    assert time.monotonic() - start < 120


def test_two_batches_on_one_reports_folder_both_land(project: Path, tmp_path: Path) -> None:
    """Two ``liftlab report`` commands at once on one plan and one reports folder (two
    schedulers): both runs are kept under their own ids, ``latest`` points at the newer,
    the index lists both, nothing temporary is left."""
    reports = tmp_path / "reports"
    good = _good_run(reports)
    before = _digest(good)
    command = [str(LIFTLAB), "report", f"experiments/{PLAN}.yaml", "--reports", str(reports)]
    procs = [
        subprocess.Popen(
            command,
            cwd=project,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    runs = list_runs(reports / PLAN)
    assert len(runs) == 3 and not any(r.name.endswith("-failed") for r in runs)
    assert os.readlink(reports / PLAN / "latest") == runs[0].name
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert all(f">{r.name}</a>" in index for r in runs), index
    assert _leftovers(reports) == []
    assert _digest(good) == before


def test_a_run_over_its_time_leaves_no_process_and_no_temporary_file(
    project: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    good = _good_run(reports)
    before = _digest(good)
    proc = subprocess.Popen(
        [
            str(LIFTLAB),
            "report",
            f"experiments/{PLAN}.yaml",
            "--reports",
            str(reports),
            "--timeout",
            "3",
        ],
        cwd=project,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    tree: list[psutil.Process] = []
    while proc.poll() is None:
        try:
            tree += psutil.Process(proc.pid).children(recursive=True)
        except psutil.Error:
            break
        time.sleep(0.2)
    _, err = proc.communicate(timeout=600)
    _, alive = psutil.wait_procs(tree, timeout=15)
    assert proc.returncode == 1, err
    assert alive == []
    assert "Traceback" not in err
    [line] = [ln for ln in err.splitlines() if "report timeout" in ln]
    assert "stopped after 3 s" in line
    [failed] = [r for r in list_runs(reports / PLAN) if r.name.endswith("-failed")]
    manifest = json.loads((failed / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "timeout"
    assert _leftovers(reports) == []
    assert _digest(good) == before
    assert os.readlink(reports / PLAN / "latest") == good.name


def test_latest_that_cannot_be_moved_stays_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newer good run whose ``latest`` link cannot be written (disk full): one line
    naming the link, ``latest`` left on the run it pointed at, no ``.latest-*`` left."""
    reports = tmp_path / "reports"
    good = _good_run(reports)
    (reports / PLAN / "20210101T000000Z").mkdir()

    def full(self: Path, target: str, target_is_directory: bool = False) -> None:
        os.close(os.open(self, os.O_CREAT | os.O_WRONLY))  # created, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "symlink_to", full)
    with pytest.raises(StorageError) as info:
        update_latest(reports / PLAN)
    assert str(info.value) == (
        f"{reports / PLAN / 'latest'}: cannot write: No space left on device; free space on "
        "its disk and run again"
    )
    assert info.value.exit_code == 1
    assert os.readlink(reports / PLAN / "latest") == good.name
    assert _leftovers(reports) == []
