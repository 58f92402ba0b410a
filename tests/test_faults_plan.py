"""Faults in plans and engine URLs: hostile file names, secrets in URLs, alias bombs,
duplicate keys and random plan text.

Each test asserts the promise exactly: a user mistake ends with one line naming the file,
the field and the fix (exit 2 through the CLI); no text from outside the code reaches a
report's HTML unescaped; no secret from an engine URL reaches a message, a manifest or a
report.
"""

from __future__ import annotations

import html.parser
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from typer.testing import CliRunner

from liftlab.cli import app
from liftlab.errors import DataError
from liftlab.plan import load_plan
from liftlab.provenance import build_manifest, footer_markdown
from liftlab.sources import connect, redact

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "experiments" / "landing-headline.yaml"
HOSTILE = "x-`<img src=x onerror=alert(9)>`"
SECRET = "s3cretVALUE"


def _validate(path: Path) -> Any:
    return CliRunner().invoke(app, ["validate", str(path)])


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# ---- 1. no outside text reaches the HTML unescaped ------------------------------------------
class _Tags(html.parser.HTMLParser):
    """Every tag and attribute of an HTML fragment, and its visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text += data


def _parse(fragment: str) -> _Tags:
    tags = _Tags()
    tags.feed(fragment)
    tags.close()
    return tags


def _assert_inert(fragment: str) -> _Tags:
    tags = _parse(fragment)
    names = {t for t, _ in tags.tags}
    assert not names & {"img", "script", "iframe", "svg", "object", "embed", "b"}, fragment
    handlers = [a for _, attrs in tags.tags for a, _ in attrs if a.startswith("on")]
    assert handlers == [], fragment
    return tags


def _hostile_manifest() -> dict[str, Any]:
    path = f"experiments/{HOSTILE}.yaml"
    return {
        "plan": {"path": path, "sha256": "<b>sha</b>"},
        "data": {
            "source": f"data/{HOSTILE}.parquet",
            "engine": "duckdb (in memory)",
            "fingerprint": "`<b>fp</b>`",
            "tables": {f"{HOSTILE}.rows": 3, f"{HOSTILE}.max_ts": "`<b>t</b>`"},
        },
        "liftlab": {"version": "`<b>v</b>`", "git_commit": "`<b>c</b>`", "git_dirty": True},
        "notebook": {"path": f"notebooks/{HOSTILE}.ipynb", "sha256": "`<b>n</b>`"},
        "project": {"commit": "`<b>p</b>`", "dirty": False},
        "packages": {"numpy": "`<b>2</b>`"},
        "parameters": {"plan_path": path, "run_id": HOSTILE},
        "run_id": HOSTILE,
        "started_at": "`<b>s</b>`",
        "duration_seconds": 1.0,
    }


def test_footer_escapes_a_hostile_plan_file_name() -> None:
    """A plan saved as x-`<img src=x onerror=…>`.yaml shows its name, and runs nothing."""
    md = footer_markdown(_hostile_manifest())
    tags = _assert_inert(markdown2html_mistune(md))
    assert f"experiments/{HOSTILE}.yaml" in tags.text  # the reader still sees the real name
    assert f"notebooks/{HOSTILE}.ipynb" in tags.text


def test_footer_of_an_ordinary_manifest_reads_as_before() -> None:
    manifest = {
        "plan": {"path": "experiments/landing_headline.yaml", "sha256": "a" * 64},
        "data": {"source": "data/units.parquet", "engine": "duckdb (in memory)"},
        "liftlab": {"version": "1.0", "git_commit": "b" * 40},
        "run_id": "20260101T000000Z",
        "started_at": "2026-01-01T00:00:00Z",
        "duration_seconds": 2.0,
    }
    tags = _parse(markdown2html_mistune(footer_markdown(manifest)))
    assert "experiments/landing_headline.yaml" in tags.text
    assert "a" * 12 in tags.text and "b" * 12 in tags.text
    assert ("code", []) in tags.tags


def test_title_and_variants_escape_plan_text() -> None:
    """Free text of a plan (name of the data file, owner, descriptions) is escaped too."""
    from liftlab import present

    assert present.md_text(HOSTILE) == r"x-\`&lt;img src=x onerror=alert(9)&gt;\`"
    _assert_inert(markdown2html_mistune(f"- data: {present.md_text(HOSTILE)}"))


# ---- 2. no secret from an engine URL ---------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u@h:5432/db"),
        ("postgresql://u@h/db?password=secret", "postgresql://u@h/db?password=***"),
        (
            "postgresql://u@h/db?sslmode=require&PASSWORD=secret&application_name=x",
            "postgresql://u@h/db?sslmode=require&PASSWORD=***&application_name=x",
        ),
        (
            "postgresql://u:pw@h/db?sslpassword=a&passwd=b&pwd=c&token=d",
            "postgresql://u@h/db?sslpassword=***&passwd=***&pwd=***&token=***",
        ),
        (
            "trino://h/c?access_token=a&Secret=b&key=c&api_key=d&apikey=e&auth=f&sas=g&signature=h",
            "trino://h/c?access_token=***&Secret=***&key=***&api_key=***&apikey=***&auth=***"
            "&sas=***&signature=***",
        ),
        ("postgresql://u:p@ss@h/db", "postgresql://u@h/db"),  # '@' inside the password
        ("postgresql://u@h/db?password=a@b&x=1", "postgresql://u@h/db?password=***&x=1"),
        ("postgresql://h/db?password=", "postgresql://h/db?password=***"),
        ("postgresql://u@h/db;password=x", "postgresql://u@h/db;password=***"),
        ("duckdb://data/shop.duckdb", "duckdb://data/shop.duckdb"),
        ("duckdb://:memory:", "duckdb://:memory:"),
        ("postgresql://u@h/db?sslmode=require", "postgresql://u@h/db?sslmode=require"),
    ],
)
def test_redact_hides_passwords_and_secret_parameters(url: str, shown: str) -> None:
    assert redact(url) == shown


def _pg_plan(tmp_path: Path, url: str) -> Path:
    text = DEMO.read_text(encoding="utf-8").replace("duckdb://data/shop.duckdb", url)
    path = tmp_path / "experiments" / "pg.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


URL_WITH_SECRET = f"postgresql://u@127.0.0.1:1/db?password={SECRET}&sslmode=disable"


def test_failed_connection_does_not_echo_a_password_in_the_query(tmp_path: Path) -> None:
    plan = load_plan(_pg_plan(tmp_path, URL_WITH_SECRET))
    with pytest.raises(DataError) as caught:
        connect(plan)
    message = str(caught.value)
    assert SECRET not in message
    assert "password=***" in message
    assert _one_line(message).startswith(f"{plan.source}: data.engine: cannot connect to ")


def test_analyze_with_a_secret_url_exits_2_without_the_secret(tmp_path: Path) -> None:
    plan = _pg_plan(tmp_path, URL_WITH_SECRET)
    done = subprocess.run(
        [sys.executable, "-m", "liftlab.cli", "analyze", str(plan)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert _one_line(done.stderr).startswith(
        f"{plan}: data.engine: cannot connect to postgresql://u@127.0.0.1:1/db?password=***&"
    )


def test_manifest_and_footer_hide_a_password_in_the_query(tmp_path: Path) -> None:
    plan = load_plan(_pg_plan(tmp_path, URL_WITH_SECRET))
    results = SimpleNamespace(
        plan=plan, data_identity={}, data_label="landing_exposures", data_sha256="f" * 64
    )
    manifest = build_manifest(
        results,  # type: ignore[arg-type]
        parameters={"plan_path": str(plan.path)},
        started_at=__import__("datetime").datetime.now(__import__("datetime").UTC),
    )
    assert SECRET not in repr(manifest)
    assert manifest["data"]["engine"].endswith("?password=***&sslmode=disable")
    assert SECRET not in footer_markdown(manifest)
