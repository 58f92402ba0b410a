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
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from typer.testing import CliRunner

from liftlab.cli import app
from liftlab.errors import DataError, LiftlabError, PlanError
from liftlab.plan import load_plan, parse_plan
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
        ("postgresql://u:pa?ss@h/db", "postgresql://u@h/db"),  # '?' inside the password
        ("postgresql://u:p#s/s@h:5432/db?sslmode=1", "postgresql://u@h:5432/db?sslmode=1"),
        ("postgresql://u@h/db?password=a@b&x=1", "postgresql://u@h/db?password=***&x=1"),
        ("postgresql://h/db?password=", "postgresql://h/db?password=***"),
        ("postgresql://u@h/db;password=x", "postgresql://u@h/db;password=***"),
        ("pyspark://k8s://https://u:pw@h:443?token=t", "pyspark://k8s://https://u@h:443?token=***"),
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


# ---- 3. YAML alias bombs ---------------------------------------------------------------------
def _bomb(levels: int) -> str:
    """The demo plan whose ``kind:`` is a list of ``levels`` nested aliases (9**levels)."""
    items = ['&a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        items.append(f"&a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    demo = DEMO.read_text(encoding="utf-8").replace("kind: landing_page\n", "")
    return demo + f"kind: [{', '.join(items)}]\n"


@pytest.mark.parametrize("levels", [3, 6, 9])
def test_alias_bomb_is_refused_quickly_in_one_line(tmp_path: Path, levels: int) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb(levels), encoding="utf-8")
    start = time.perf_counter()
    done = _validate(path)
    took = time.perf_counter() - start
    assert took < 2, took
    assert done.exit_code == 2
    line = _one_line(done.output)
    assert len(line) < 300 + len(str(path)), line
    assert line.startswith(f"{path}: ")
    assert "alias" in line


def test_an_alias_loop_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("name: &a [1, *a]\n", encoding="utf-8")
    done = _validate(path)
    assert done.exit_code == 2
    assert "alias" in _one_line(done.output)


def test_deep_nesting_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("name: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    done = _validate(path)
    assert done.exit_code == 2, done.output
    assert "nested" in _one_line(done.output)


def test_a_few_ordinary_aliases_still_work(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8")
    text = text.replace("  control: {weight: 0.5,", "  control: {weight: &half 0.5,")
    text = text.replace("  benefit: {weight: 0.5,", "  benefit: {weight: *half,")
    path = tmp_path / "experiments" / "aliases.yaml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    assert load_plan(path).variants["benefit"].weight == 0.5


def test_a_long_value_is_cut_in_the_message(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8").replace("kind: landing_page", "kind: " + "z" * 5000)
    path = tmp_path / "long.yaml"
    path.write_text(text, encoding="utf-8")
    done = _validate(path)
    assert done.exit_code == 2
    line = _one_line(done.output)
    assert line.startswith(f"{path}: kind: '") and "…" in line
    assert len(line) < 300 + len(str(path)), line


def test_a_value_with_a_newline_stays_on_one_line(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8").replace("kind: landing_page", 'kind: "a\\nb"')
    path = tmp_path / "newline.yaml"
    path.write_text(text, encoding="utf-8")
    done = _validate(path)
    assert done.exit_code == 2
    assert "kind: " in _one_line(done.output)


# ---- 5. duplicate keys -----------------------------------------------------------------------
def _line_of(text: str, start: str, nth: int = 0) -> int:
    found = [i + 1 for i, line in enumerate(text.splitlines()) if line.startswith(start)]
    return found[nth]


def test_duplicate_top_level_key_names_both_lines(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8") + "analysis:\n  alpha: 0.1\n"
    path = tmp_path / "dup.yaml"
    path.write_text(text, encoding="utf-8")
    first, second = _line_of(text, "analysis:"), _line_of(text, "analysis:", 1)
    done = _validate(path)
    assert done.exit_code == 2
    assert _one_line(done.output) == (
        f"{path}: duplicate key 'analysis' (lines {first} and {second}); keep one"
    )
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert caught.value.source == str(path)


def test_duplicate_variant_names_the_field_and_both_lines(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8")
    text = text.replace(
        "  benefit: {weight: 0.5, description: Benefit-led headline}\n",
        "  benefit: {weight: 0.5, description: Benefit-led headline}\n"
        "  benefit: {weight: 0.5, description: Another}\n",
    )
    path = tmp_path / "dup.yaml"
    path.write_text(text, encoding="utf-8")
    first, second = _line_of(text, "  benefit:"), _line_of(text, "  benefit:", 1)
    done = _validate(path)
    assert done.exit_code == 2
    assert _one_line(done.output) == (
        f"{path}: variants: duplicate key 'benefit' (lines {first} and {second}); keep one"
    )


def test_duplicate_key_deep_in_a_list(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8").replace(
        "    event: signup\n", "    event: signup\n    event: signpu\n"
    )
    path = tmp_path / "dup.yaml"
    path.write_text(text, encoding="utf-8")
    done = _validate(path)
    assert done.exit_code == 2
    first, second = _line_of(text, "    event: signup"), _line_of(text, "    event: signpu")
    assert _one_line(done.output) == (
        f"{path}: metrics[0]: duplicate key 'event' (lines {first} and {second}); keep one"
    )


def test_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8").replace(
        "  control: {weight: 0.5, description: Feature-led headline}\n"
        "  benefit: {weight: 0.5, description: Benefit-led headline}\n",
        "  control: &arm {weight: 0.5, description: Feature-led headline}\n"
        "  benefit: {<<: *arm, description: Benefit-led headline}\n",
    )
    path = tmp_path / "experiments" / "merge.yaml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    plan = load_plan(path)
    assert plan.variants["benefit"].description == "Benefit-led headline"


# ---- property: random plan text never raises anything but the one-line error ----------------
DEMO_LINES = [p.read_text(encoding="utf-8").splitlines() for p in ROOT.glob("experiments/*.yaml")]
_SCRATCH = Path(tempfile.mkdtemp(prefix="liftlab-faults-"))
_VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "~",
            "null",
            "[]",
            "{}",
            "-1",
            "0",
            "1e309",
            ".nan",
            "yes",
            "'x'",
            "&a 1",
            "*a",
            "!!binary aGk=",
            "[1, [2, {a: b}]]",
            "{weight: 2}",
            "|\n  x",
            '"\\u0000"',
            "2026-13-45",
            '"a\\nb"',
            "z" * 300,
            "*b",
            "{<<: [1]}",
            "!!int 0x",
            "!!python/object:os.system x",
        ]
    ),
    st.text(max_size=20),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


@st.composite
def _mutated_demo(draw: st.DrawFn) -> str:
    lines = list(draw(st.sampled_from(DEMO_LINES)))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "value", "indent", "insert"]))
        if action == "delete":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "value":
            key, sep, _ = lines[i].partition(":")
            lines[i] = f"{key}: {draw(_VALUES)}" if sep else str(draw(_VALUES))
        elif action == "indent":
            lines[i] = " " * draw(st.integers(0, 6)) + lines[i].lstrip()
        else:
            lines.insert(i, draw(st.text(max_size=30)))
        if not lines:
            break
    return "\n".join(lines) + "\n"


_YAMLISH = st.text(
    alphabet=st.sampled_from([*"ab:-[]{},&*!|>'\"#\n \t01.%@`~", "\\", "\u00e9", "\x00"]),
    max_size=80,
)


def _check_one_plan(text: str) -> None:
    with tempfile.NamedTemporaryFile(
        "w", suffix=".yaml", dir=_SCRATCH, delete=False, encoding="utf-8", errors="replace"
    ) as fh:
        fh.write(text)
    path = Path(fh.name)
    try:
        load_plan(path)
    except LiftlabError as exc:
        message = str(exc)
        assert "\n" not in message and "\r" not in message, message
        assert message.startswith(f"{path}: "), message
        assert len(message) < 400 + len(str(path)), message
    finally:
        path.unlink()


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(_mutated_demo())
def test_mutated_demo_plans_fail_only_with_one_line(text: str) -> None:
    _check_one_plan(text)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(_YAMLISH, st.text(max_size=60)))
def test_random_plan_text_fails_only_with_one_line(text: str) -> None:
    _check_one_plan(text)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.dictionaries(
        st.sampled_from(["name", "kind", "variants", "data", "metrics", "analysis", "x", "1"]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=8), inner, max_size=3)
            ),
            max_leaves=10,
        ),
    )
)
def test_parse_plan_on_random_mappings_fails_only_with_one_line(raw: dict[str, Any]) -> None:
    try:
        parse_plan(raw, source="random.yaml")
    except LiftlabError as exc:
        assert "\n" not in str(exc), str(exc)
        assert str(exc).startswith("random.yaml: ")


@pytest.mark.parametrize("value", ["2026-13-45", "!!int 0x", "!!float abc"])
def test_a_value_yaml_cannot_read_is_one_line(tmp_path: Path, value: str) -> None:
    text = DEMO.read_text(encoding="utf-8").replace("owner: growth-web", f"owner: {value}")
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    done = _validate(path)
    assert done.exit_code == 2
    line = _one_line(done.output)
    assert line.startswith(f"{path}: line {_line_of(text, 'owner:')}: "), line


class _Hostile(html.parser.HTMLParser):
    """Tags or attributes that carry the hostile marker (each would be live in a browser)."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker, self.live = marker, []  # type: list[str]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if self.marker in name or (name.startswith("on") and self.marker in (value or "")):
                self.live.append(f"<{tag} {name}={value!r}>")
        if tag in ("img", "script", "iframe") and any(self.marker in (v or "") for _, v in attrs):
            self.live.append(f"<{tag} {attrs!r}>")


def test_hostile_plan_text_and_file_name_stay_inert_in_the_report(
    project: Path, tmp_path: Path
) -> None:
    """A whole report run on a plan whose file name and free text carry HTML: report.html and
    index.html show the text and run nothing (footer, title, variants, charts, index)."""
    from liftlab.report import run_reports

    attack = "`<img src=x onerror=alert(9)>`<script>alert(9)</script>"
    text = (project / "experiments" / "landing-headline.yaml").read_text(encoding="utf-8")
    for old, new in [
        ("owner: growth-web", f"owner: '{attack}'"),
        ("description: Feature-led headline", f"description: '{attack}'"),
    ]:
        assert old in text
        text = text.replace(old, new)
    text = text.replace("hypothesis: >-\n", f"hypothesis: >-\n  {attack}\n")
    plan = project / "experiments" / f"x-{attack.replace('/', '')}.yaml"
    plan.write_text(text, encoding="utf-8")
    try:
        outcomes = run_reports([plan], reports_dir=tmp_path, console=None, jobs=1)
    finally:
        plan.unlink()
    assert all(o.ok for o in outcomes), outcomes
    pages = [tmp_path / "landing-headline" / "latest" / "report.html", tmp_path / "index.html"]
    for page in pages:
        found = _Hostile("alert(9)")
        found.feed(page.read_text(encoding="utf-8"))
        assert found.live == [], (page, found.live)
    report = pages[0].read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(9)&gt;" in report  # shown, as text


def test_spark_master_clash_hides_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The message about a second Spark master shows both masters without their secrets."""
    from pyspark.sql import SparkSession

    from liftlab import sources

    running = f"k8s://https://u:{SECRET}@h:443?token={SECRET}"
    active = SimpleNamespace(sparkContext=SimpleNamespace(master=running))
    monkeypatch.setattr(SparkSession, "getActiveSession", staticmethod(lambda: active))
    with pytest.raises(DataError) as caught:
        sources.spark_session(f"spark://h:7077?token={SECRET}")
    message = _one_line(str(caught.value))
    assert SECRET not in message
    assert "token=***" in message and "data.engine" in message


@pytest.mark.parametrize(
    ("plan", "line"),
    [
        ("landing-headline", "    covariate: pre_period"),
        ("pricing-three-tiers", "  conversion:"),
        ("creative-tournament", "  ctr:"),
    ],
)
def test_a_long_name_quoted_by_a_cross_field_check_is_cut(
    tmp_path: Path, plan: str, line: str
) -> None:
    text = (ROOT / "experiments" / f"{plan}.yaml").read_text(encoding="utf-8")
    old = next(x for x in text.splitlines() if x.startswith(line))
    text = text.replace(old, old.split(":")[0] + ": " + "z" * 3000, 1)
    path = tmp_path / "long.yaml"
    path.write_text(text, encoding="utf-8")
    done = _validate(path)
    assert done.exit_code == 2
    message = _one_line(done.output)
    assert "z" * 80 not in message and "…" in message, message
    assert len(message) < 300 + len(str(path)), message


def test_a_report_run_on_a_secret_url_keeps_the_secret_out_of_every_file(
    project: Path, tmp_path: Path
) -> None:
    """The failed run's manifest, log, notebook and HTML, the index and the console output."""
    import io

    from rich.console import Console

    from liftlab.report import run_reports

    text = (project / "experiments" / "landing-headline.yaml").read_text(encoding="utf-8")
    plan = project / "experiments" / "pg-secret.yaml"
    plan.write_text(text.replace("duckdb://data/shop.duckdb", URL_WITH_SECRET), encoding="utf-8")
    buf = io.StringIO()
    try:
        outcomes = run_reports([plan], reports_dir=tmp_path, console=Console(file=buf), jobs=1)
    finally:
        plan.unlink()
    assert not any(o.ok for o in outcomes)
    assert SECRET not in buf.getvalue() and SECRET not in repr(outcomes)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files  # the failed run is kept, with its manifest and log
    assert [p for p in files if SECRET.encode() in p.read_bytes()] == []
    assert any(b"password=***" in p.read_bytes() for p in files)


_SECRET_TEXT = st.text(alphabet=st.sampled_from([*"abcXYZ019@:/?#=!$%+"]), max_size=12).map(
    lambda s: f"Zq{s}Qz"
)


@settings(max_examples=300, deadline=None)
@given(_SECRET_TEXT, _SECRET_TEXT.filter(lambda s: not set(s) & set("&;#")))
def test_redact_never_shows_a_password_or_a_secret_parameter(pw: str, value: str) -> None:
    for url in (
        f"postgresql://user:{pw}@db.example.com:5432/shop",
        f"postgresql://user@db.example.com/shop?sslmode=require&password={value}",
        f"trino://user:{pw}@host/cat?Access_Token={value}&x=1",
    ):
        shown = redact(url)
        assert pw not in shown and value not in shown, (url, shown)


def test_a_huge_plan_without_aliases_is_refused_as_huge(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("name: [" + ", ".join(["1"] * 60_000) + "]\n", encoding="utf-8")
    done = _validate(path)
    assert done.exit_code == 2
    line = _one_line(done.output)
    assert line == (
        f"{path}: name: line 1: more than 50,000 values; check that the file is a plan "
        "(for an export's ads write variants: from_data)"
    )
