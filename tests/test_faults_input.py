"""Faults in the user's input: every mistake ends with one line on stderr naming the file or
argument and the fix, and exit status 2 (issue 11, items 4, 10, 11 and 12)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, write_plan

LIFTLAB = Path(sys.executable).parent / "liftlab"
BOX = ("╭", "│", "╰", "Traceback", "Usage:")


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run(
        [str(LIFTLAB), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def one_line(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 2, exactly one line on stderr, no traceback or usage box, every needle in it."""
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert len(lines) == 1, proc.stderr[-2000:]
    line = lines[0]
    for mark in BOX:
        assert mark not in line, line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    """A project folder: experiments/ with the demo plans, data/ pointing at the demo data."""
    (tmp_path / "experiments").mkdir()
    (tmp_path / "data").symlink_to(ROOT / "data")
    for p in (ROOT / "experiments").glob("*.yaml"):
        (tmp_path / "experiments" / p.name).write_text(p.read_text())
    return tmp_path


def demo(proj: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((proj / "experiments" / f"{name}.yaml").read_text())
    return loaded


def save(proj: Path, plan: dict[str, Any], name: str = "x") -> Path:
    return write_plan(proj / "experiments" / f"{name}.yaml", plan)


# ---- item 11: messages that mislead -------------------------------------------------------------
def test_misspelt_top_level_key(proj):
    text = (proj / "experiments" / "landing-headline.yaml").read_text()
    path = proj / "experiments" / "x.yaml"
    path.write_text(text.replace("\nmetrics:", "\nmetircs:"))
    line = one_line(run("validate", str(path)), str(path), "'metircs'", "did you mean 'metrics'")
    assert "is required" not in line


def test_misspelt_nested_key(proj):
    text = (proj / "experiments" / "landing-headline.yaml").read_text()
    path = proj / "experiments" / "x.yaml"
    path.write_text(
        text.replace("    window_days: 7\n    baseline", "    windw_days: 7\n    baseline")
    )
    one_line(run("validate", str(path)), str(path), "metrics[0]", "'windw_days'", "window_days")


@pytest.mark.parametrize("command", ["validate", "analyze", "design"])
def test_directory_as_plan(tmp_path, command):
    line = one_line(run(command, str(tmp_path)), str(tmp_path), "is a directory")
    assert ".yaml" in line  # says what to give
