"""Provenance of a report: what was run, on which data, with which software, and when.

Every report run writes ``manifest.json`` next to ``results.json`` and shows the same facts
in the report's footer (:func:`footer_markdown`):

- ``plan``: the plan file (relative to the project root) and the SHA-256 of its bytes;
- ``data``: the data source, its fingerprint (the SHA-256 that ``results.json`` carries as
  ``data_sha256``) and what the fingerprint covers: each data file's path, size and SHA-256,
  or, for engine tables, their row counts and latest timestamps; the engine URL with its
  password and any secret query parameter (``?password=``, ``token=``, ...) hidden;
- ``notebook``: the analysis notebook and its SHA-256;
- ``liftlab``: version, and the git commit of the checkout it runs from (``dirty`` when it
  has uncommitted changes; absent when liftlab is not run from a git checkout);
- ``project``: the git commit of the plan's project, when that is another checkout;
- ``packages``: versions of Python and of the packages the numbers depend on;
- ``parameters``: the notebook's parameters, with paths relative to the project root;
- ``started_at``, ``finished_at`` (UTC, ISO 8601) and ``duration_seconds`` of the analysis;
- ``settings``: environment settings of the run (``LIFTLAB_THREADS``: engine threads, which
  results do not depend on).

:func:`finish_manifest` adds what only the runner knows after the notebook ends: the output
files' SHA-256 and the whole run's duration (kernel start and HTML export included).

The manifest holds no unit ids, no rows and no credentials.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liftlab import __version__
from liftlab.engine_settings import THREADS_DEFAULT, THREADS_ENV, redact
from liftlab.files import atomic_write, read_json_object

if TYPE_CHECKING:
    from liftlab.analysis import Results

MANIFEST_VERSION = 1
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# The distributions whose versions can change a number or a chart in a report.
KEY_PACKAGES = (
    "duckdb",
    "ibis-framework",
    "numpy",
    "scipy",
    "statsmodels",
    "pandas",
    "pyarrow",
    "pydantic",
    "altair",
    "vl-convert-python",
    "papermill",
    "nbconvert",
)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def now() -> dt.datetime:
    """The current UTC time (what the notebook records as the run's start)."""
    return dt.datetime.now(dt.UTC)


def _stamp(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime(TIME_FORMAT)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_state(folder: Path) -> dict[str, Any] | None:
    """``{"commit", "dirty"}`` of the git checkout holding ``folder``; None outside one."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(folder), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    top = git("rev-parse", "--show-toplevel")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status), "root": top}


def package_versions() -> dict[str, str]:
    """Python's version and each of :data:`KEY_PACKAGES` (``"not installed"`` if absent)."""
    found = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def relative(path: str | Path | None, root: Path) -> str | None:
    """``path`` relative to ``root`` when it lies inside it, else as given."""
    if path is None:
        return None
    p = Path(path)
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(p)


def _param_path(value: Any, manifest_path: Any, root: Path) -> Any:
    """A path parameter as the manifest records it: a bare file name when the file sits next
    to the manifest (the run folder, wherever it is renamed to), else relative to ``root``."""
    if value is None:
        return None
    if manifest_path and Path(value).parent == Path(manifest_path).parent:
        return Path(value).name
    return relative(value, root)


def build_manifest(
    results: Results,
    *,
    parameters: dict[str, Any],
    started_at: dt.datetime,
    notebook: str | Path | None = None,
    finished_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The manifest of one analysis run (see the module docstring for the fields).

    ``parameters`` are the notebook's parameters; path values are written relative to the
    plan's project root. ``notebook`` is the analysis notebook (hashed when it exists).
    """
    plan = results.plan
    root = plan.root
    finished = finished_at or now()
    here = parameters.get("manifest_path")
    params = {
        k: _param_path(v, here, root) if k.endswith("_path") else v for k, v in parameters.items()
    }
    identity = results.data_identity or {}
    data: dict[str, Any] = {
        "source": results.data_label,
        "fingerprint": results.data_sha256,
        "engine": redact(plan.data.engine) if plan.data.engine else "duckdb (in memory)",
    }
    if identity.get("files"):
        data["files"] = [{**f, "path": relative(f["path"], root)} for f in identity["files"]]
    if identity.get("tables"):
        data["tables"] = identity["tables"]
    manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "experiment": plan.name,
        "kind": plan.kind,
        "run_id": parameters.get("run_id"),
        "plan": {"path": relative(plan.path, root), "sha256": plan.sha256},
        "data": data,
    }
    if notebook is not None and Path(notebook).is_file():
        manifest["notebook"] = {
            "path": relative(notebook, root),
            "sha256": file_sha256(Path(notebook)),
        }
    manifest["liftlab"] = {"version": __version__, **_git_fields(PACKAGE_ROOT)}
    project = git_state(root)
    own = git_state(PACKAGE_ROOT)
    if project is not None and (own is None or project["root"] != own["root"]):
        manifest["project"] = {"commit": project["commit"], "dirty": project["dirty"]}
    manifest["packages"] = package_versions()
    manifest["parameters"] = params
    manifest["settings"] = {THREADS_ENV: os.environ.get(THREADS_ENV, THREADS_DEFAULT)}
    manifest["started_at"] = _stamp(started_at)
    manifest["finished_at"] = _stamp(finished)
    manifest["duration_seconds"] = round((finished - started_at).total_seconds(), 3)
    return manifest


def record(
    results: Results,
    *,
    parameters: dict[str, Any],
    started_at: dt.datetime,
    manifest_path: str | Path | None = None,
) -> dict[str, Any]:
    """:func:`build_manifest`, written to ``manifest_path`` when given (what the notebook calls)."""
    manifest = build_manifest(results, parameters=parameters, started_at=started_at)
    if manifest_path:
        write_manifest(manifest, manifest_path)
    return manifest


def _git_fields(folder: Path) -> dict[str, Any]:
    state = git_state(folder)
    if state is None:
        return {"git_commit": None}
    return {"git_commit": state["commit"], "git_dirty": state["dirty"]}


def write_manifest(manifest: dict[str, Any], path: str | Path) -> Path:
    """Write ``manifest`` as JSON atomically (temporary file, then rename)."""
    return atomic_write(path, json.dumps(manifest, indent=2, allow_nan=False) + "\n")


def read_manifest(path: Path) -> dict[str, Any] | None:
    """A run's manifest, or None when it is missing or unreadable."""
    return read_json_object(path)


def finish_manifest(
    folder: Path, *, run_id: str, started_at: dt.datetime, status: str, error: str | None = None
) -> dict[str, Any]:
    """Complete ``folder/manifest.json`` after a run: status, outputs' SHA-256, total time.

    A run that failed before the notebook wrote its manifest gets a minimal one, so every
    run folder says what happened.
    """
    path = folder / "manifest.json"
    manifest = read_manifest(path) or {"manifest_version": MANIFEST_VERSION, "run_id": run_id}
    finished = now()
    manifest["run_id"] = run_id
    manifest["status"] = status
    if error:
        manifest["error"] = error
    manifest["outputs"] = {
        p.name: file_sha256(p)
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != "manifest.json" and not p.name.startswith(".")
    }
    manifest["run_started_at"] = _stamp(started_at)
    manifest["run_seconds"] = round((finished - started_at).total_seconds(), 3)
    write_manifest(manifest, path)
    return manifest


def footer_markdown(manifest: dict[str, Any]) -> str:
    """The report's provenance footer: the manifest in a few plain lines.

    Every value is escaped (file names and run ids are shown as HTML ``<code>`` around
    escaped text): a plan saved as ``x-`<img ...>`.yaml`` shows its name and runs nothing.
    """
    plan = manifest.get("plan") or {}
    data = manifest.get("data") or {}
    own = manifest.get("liftlab") or {}
    lines = [
        f"- **Plan**: {_code(plan.get('path') or '<plan>')}, "
        f"sha256 {_code(_short(plan.get('sha256')))}",
        f"- **Data**: {_md(data.get('source'))} on {_md(data.get('engine'))}, "
        f"fingerprint {_code(_short(data.get('fingerprint')))}{_data_detail(data)}",
    ]
    commit = own.get("git_commit")
    code = f"liftlab {_md(own.get('version'))}"
    if commit:
        code += f", git {_code(str(commit)[:12])}" + (
            " with uncommitted changes" if own.get("git_dirty") else ""
        )
    notebook = manifest.get("notebook")
    if notebook:
        code += (
            f"; notebook {_code(notebook.get('path'))} "
            f"sha256 {_code(_short(notebook.get('sha256')))}"
        )
    lines.append(f"- **Code**: {code}")
    project = manifest.get("project")
    if project:
        dirty = " with uncommitted changes" if project.get("dirty") else ""
        lines.append(f"- **Project**: git {_code(str(project.get('commit'))[:12])}{dirty}")
    packages = ", ".join(f"{k} {v}" for k, v in (manifest.get("packages") or {}).items())
    lines.append(f"- **Packages**: {_md(packages)}")
    params = ", ".join(f"{k}={v!r}" for k, v in (manifest.get("parameters") or {}).items())
    lines.append(f"- **Parameters**: {_md(params)}")
    run = manifest.get("run_id")
    started = _md(manifest.get("started_at"))
    when = f"- **Run**: {f'{_code(run)}, ' if run else ''}started {started}, "
    when += f"analysis took {manifest.get('duration_seconds', 0):.1f} s"
    lines.append(when)
    return "#### Provenance\n\n" + "\n".join(lines) + "\n\nThe same facts are in `manifest.json`.\n"


def _short(sha: object) -> str:
    return str(sha)[:12] if sha else "none"


def _md(text: object) -> str:
    from liftlab.present import md_text

    return md_text(text)


def _code(text: object) -> str:
    """Text in code style, safe whatever it holds: an HTML ``<code>`` element around the
    escaped text (a Markdown code span cannot hold a backtick from a file name safely)."""
    return f"<code>{_md(text)}</code>"


def _data_detail(data: dict[str, Any]) -> str:
    files = data.get("files") or []
    if files:
        total = sum(int(f.get("bytes", 0)) for f in files)
        return f" ({len(files)} file{'s' if len(files) != 1 else ''}, {total:,} bytes)"
    tables: dict[str, dict[str, Any]] = {}
    for key, value in (data.get("tables") or {}).items():
        name, _, what = str(key).rpartition(".")
        tables.setdefault(name or "table", {})[what] = value
    parts = []
    for name, facts in tables.items():
        text = f"{_md(name)}: {int(facts['rows']):,} rows" if "rows" in facts else _md(name)
        latest = [v for k, v in facts.items() if k.startswith("max_")]
        if latest:
            text += f", latest {_md(latest[0])}"
        parts.append(text)
    return f" ({'; '.join(parts)})" if parts else ""
