"""Exact engine sums: the same results on any number of threads, and sums within the stated
bound of the exact sum of the float64 terms.

The reference for every sum is ``math.fsum`` (the correctly rounded sum) of the same terms
computed by numpy in float64 at test time; the bound is the one :class:`liftlab.aggregate.Sums`
states: ``|S - Σt| <= n·B·2**-58 + 2**-53·|Σt|``, ``B`` the largest magnitude of a term.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from liftlab import aggregate, analyze, parse_plan
from liftlab.aggregate import SCALE_BITS, scale_exponent, unit_statistics
from liftlab.errors import DataError
from liftlab.sources import THREADS_ENV
from liftlab.units import open_units
from tests.test_events import _plan
from tests.test_events import shop as _shop

shop = _shop  # the event fixture of tests/test_events.py (module scope)

THREADS = ("1", "2", "4", "8")
STAMP = "2026-12-01T00:00:00Z"


def _write(path: Path, columns: dict[str, Any], row_group: int = 4_096) -> Path:
    """Parquet in many small row groups, so that DuckDB splits the scan over its threads."""
    pq.write_table(pa.table(columns), path, row_group_size=row_group)
    return path


def _plan_for(path: Path, metrics: list[dict[str, Any]], **data: Any):  # type: ignore[no-untyped-def]
    return parse_plan(
        {
            "name": "threads",
            "kind": "landing_page",
            "hypothesis": "h",
            "unit": "user_id",
            "variants": {"control": {}, "b": {}, "c": {}},
            "data": {"units": str(path), **data},
            "metrics": metrics,
        }
    )


@pytest.fixture(scope="module")
def awkward(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """200,000 units with values whose float sums depend on the order they are added in:
    skewed amounts with many digits, a large mean with a tiny spread, negatives, tiny values."""
    rng = np.random.default_rng(11)
    n = 200_000
    pre = rng.lognormal(3.0, 1.2, n)
    cols = {
        "user_id": np.arange(n, dtype=np.int64) * 7 + 3,
        "variant": np.asarray(["control", "b", "c"])[rng.integers(0, 3, n)],
        "converted": (rng.random(n) < 0.1).astype(np.int8),
        "revenue": np.maximum(0.0, 0.7 * pre + rng.normal(0, 9, n)) * (rng.random(n) < 0.3),
        "pre_revenue": pre,
        "big": 1e6 + rng.normal(0, 1e-3, n),  # large mean, tiny variance
        "signed": rng.normal(-50.0, 30.0, n),  # negatives
        "tiny": rng.exponential(1e-7, n),  # tiny values
        "huge": rng.lognormal(27.0, 1.0, n),  # ~5e11
        "clicks": rng.poisson(0.4, n).astype(np.int64),
        "impressions": 1 + rng.poisson(4, n).astype(np.int64),
        "exposed_at": np.datetime64("2026-03-01T00:00:00", "s")
        + rng.integers(0, 9 * 86_400, n).astype("timedelta64[s]"),
        "device": np.asarray(["mobile", "desktop", "tablet"])[rng.integers(0, 3, n)],
    }
    path = _write(tmp_path_factory.mktemp("threads") / "units.parquet", cols)
    return {"path": path, "cols": cols, "n": n}


def test_results_json_identical_across_thread_counts(awkward, monkeypatch):
    """A CUPED mean with a quantile cap (and its sensitivity levels), a proportion, a ratio,
    days and segments: results.json byte for byte on 1, 2, 4 and 8 engine threads."""
    plan = _plan_for(
        awkward["path"],
        [
            {"name": "conv", "role": "primary", "type": "proportion", "column": "converted"},
            {
                "name": "rev",
                "type": "mean",
                "column": "revenue",
                "covariate": "pre_revenue",
                "cap": {"quantile": 0.995},
            },
            {"name": "signed", "type": "mean", "column": "signed", "covariate": "big"},
            {"name": "ctr", "type": "ratio", "numerator": "clicks", "denominator": "impressions"},
        ],
        timestamp="exposed_at",
        segments=["device"],
    )
    files = {}
    for threads in THREADS:
        monkeypatch.setenv(THREADS_ENV, threads)
        files[threads] = analyze(plan, generated_at=STAMP).to_json()
    assert len(set(files.values())) == 1, [t for t in THREADS if files[t] != files["1"]]


def test_event_plan_identical_across_thread_counts(shop, monkeypatch):
    """Per-unit sums of event values (``aggregate: sum``) are exact too."""
    root, _, _ = shop
    plan = _plan(root, {"exposures": "exposures.parquet", "events": "events.parquet"}, True)
    files = set()
    for threads in ("1", "4"):
        monkeypatch.setenv(THREADS_ENV, threads)
        files.add(analyze(plan, generated_at=STAMP).to_json())
    assert len(files) == 1


def _fsum_bound(terms: np.ndarray) -> tuple[float, float]:
    """The correctly rounded sum of ``terms`` and the stated bound of the engine's error."""
    exact = math.fsum(terms.tolist())
    bound = float(np.max(np.abs(terms))) if terms.size else 0.0
    return exact, terms.size * bound * 2.0**-58 + 2.0**-53 * abs(exact)


@pytest.mark.parametrize(
    ("y_col", "x_col"), [("big", "signed"), ("tiny", "huge"), ("signed", "tiny")]
)
def test_sums_within_the_stated_bound_of_fsum(awkward, y_col, x_col, monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "4")
    plan = _plan_for(
        awkward["path"],
        [{"name": "m", "role": "primary", "type": "mean", "column": y_col, "covariate": x_col}],
    )
    stats = unit_statistics(plan, open_units(plan))
    cols = awkward["cols"]
    for v in ("control", "b", "c"):
        keep = cols["variant"] == v
        y, x = cols[y_col][keep], cols[x_col][keep]
        got = stats.moments["m"][v]
        assert got.n == int(keep.sum())
        for field, terms in (
            ("sum_y", y),
            ("sum_y2", y * y),
            ("sum_x", x),
            ("sum_x2", x * x),
            ("sum_xy", x * y),
        ):
            exact, bound = _fsum_bound(terms)
            assert abs(getattr(got, field) - exact) <= bound, (v, field, exact)


def test_integer_sums_are_exact(awkward):
    """Integer columns without a cap are summed as integers: no rounding at all."""
    plan = _plan_for(
        awkward["path"],
        [
            {
                "name": "ctr",
                "role": "primary",
                "type": "ratio",
                "numerator": "clicks",
                "denominator": "impressions",
            }
        ],
    )
    stats = unit_statistics(plan, open_units(plan))
    cols = awkward["cols"]
    keep = cols["variant"] == "b"
    c, i = cols["clicks"][keep].astype(object), cols["impressions"][keep].astype(object)
    got = stats.moments["ctr"]["b"]
    assert (got.sum_y, got.sum_y2, got.sum_x, got.sum_x2, got.sum_xy) == (
        float(sum(c)),
        float(sum(c * c)),
        float(sum(i)),
        float(sum(i * i)),
        float(sum(c * i)),
    )


@pytest.mark.parametrize("bound", [1.0, 0.75, 1e-300, 3.7e5, 2.0**70, 1e300])
def test_scale_exponent_fills_59_bits(bound):
    k = scale_exponent(bound)
    assert math.ldexp(bound, k) < 2.0**SCALE_BITS <= 2 * math.ldexp(bound, k)


def test_duplicates_found_with_string_and_wide_integer_ids(tmp_path, awkward):
    """The bitmap (integer ids in a narrow range) and COUNT(DISTINCT) (strings, ids spread
    wider than the bitmap) find the same duplicate."""
    cols = dict(awkward["cols"])
    metric = [{"name": "conv", "role": "primary", "type": "proportion", "column": "converted"}]
    ids = cols["user_id"].copy()
    ids[10] = ids[11]
    for name, unit in (
        ("narrow", ids),
        ("wide", ids * (2**33)),
        ("text", np.asarray([f"u{i}" for i in ids])),
    ):
        path = _write(tmp_path / f"{name}.parquet", {**cols, "user_id": unit})
        with pytest.raises(
            DataError, match=r"^<plan>: unit: 1 unit ids in 'user_id' .*more than one row"
        ):
            analyze(_plan_for(path, metric))


def _duckdb_quantiles(path: Path, col: str, qs: list[float], among: str) -> list[float]:
    """DuckDB's own ``quantile_cont`` over the whole column: the reference for the caps."""
    values = f"nullif({col}, 0.0)" if among == "nonzero" else col
    sql = f"SELECT quantile_cont({values}, {qs}) FROM read_parquet('{path}')"
    return list(duckdb.connect().execute(sql).fetchone()[0])


@pytest.mark.parametrize("margin", [aggregate.TAIL_MARGIN, -0.5])
@pytest.mark.parametrize("among", ["nonzero", "all"])
def test_quantile_caps_equal_quantile_cont(awkward, monkeypatch, margin, among):
    """Caps and sensitivity levels taken from the tail of a column equal DuckDB's
    ``quantile_cont`` over the whole column to the last bit, and numpy's linear quantile to
    rounding; with a sample bound too high (margin -0.5) the engine's quantile is used."""
    monkeypatch.setattr(aggregate, "TAIL_MARGIN", margin)
    plan = _plan_for(
        awkward["path"],
        [
            {
                "name": "rev",
                "role": "primary",
                "type": "mean",
                "column": "revenue",
                "covariate": "pre_revenue",
                "cap": {"quantile": 0.995, "among": among},
            }
        ],
    )
    stats = unit_statistics(plan, open_units(plan))
    levels = stats.sensitivity["rev"]
    for col in ("revenue", "pre_revenue"):
        want = _duckdb_quantiles(awkward["path"], col, [0.99, 0.995, 0.999], among)
        got = [levels["p99"][0][col], stats.caps["rev"][col], levels["p99.9"][0][col]]
        assert got == want, col
        values = awkward["cols"][col]
        values = values[values != 0] if among == "nonzero" else values
        assert got == pytest.approx(np.quantile(values, [0.99, 0.995, 0.999]), rel=1e-14)


def _capped_plan(path: Path):  # type: ignore[no-untyped-def]
    metric = {
        "name": "rev",
        "role": "primary",
        "type": "mean",
        "column": "revenue",
        "covariate": "pre_revenue",
        "cap": {"quantile": 0.995},
    }
    return _plan_for(path, [metric], timestamp="exposed_at")


def test_capped_sums_from_the_tail_equal_capped_values(awkward, monkeypatch):
    """Capped sums (the cap, each sensitivity level) are the uncapped sums plus corrections
    read from the rows above a sample bound: within the stated bound of ``fsum`` of the
    capped values, and the same bytes as corrections over the whole table."""
    plan = _capped_plan(awkward["path"])
    rows: list[int] = []
    build = aggregate._tail_table

    def spy(*args: Any) -> Any:
        tail = build(*args)
        rows.append(tail.count().execute())
        return tail

    monkeypatch.setattr(aggregate, "_tail_table", spy)
    stats = unit_statistics(plan, open_units(plan))
    assert 0 < rows[0] < awkward["n"] // 10  # a tail table of a few percent of the rows
    monkeypatch.setattr(aggregate, "_covers", lambda *_: False)  # the whole-table query
    whole = unit_statistics(plan, open_units(plan))
    assert stats.moments == whole.moments and stats.daily == whole.daily
    assert stats.sensitivity == whole.sensitivity
    cols = awkward["cols"]
    levels = {"cap": (stats.caps["rev"], stats.moments["rev"])}
    levels |= {label: got for label, got in stats.sensitivity["rev"].items()}
    for label, (caps, moments) in levels.items():
        y = np.minimum(cols["revenue"], caps.get("revenue", np.inf))
        x = np.minimum(cols["pre_revenue"], caps.get("pre_revenue", np.inf))
        for v in ("control", "b", "c"):
            keep = cols["variant"] == v
            got = moments[v]
            for name, terms in (
                ("sum_y", y[keep]),
                ("sum_y2", y[keep] ** 2),
                ("sum_x2", x[keep] ** 2),
                ("sum_xy", x[keep] * y[keep]),
            ):
                exact, bound = _fsum_bound(terms)
                assert abs(getattr(got, name) - exact) <= bound, (label, v, name)
    assert stats.caps["rev"]["revenue"] < cols["revenue"].max()  # the cap bites


@pytest.mark.parametrize("days", [False, True])
@pytest.mark.parametrize("where", ["same variant", "two variants"])
def test_duplicates_found_within_and_across_variants(tmp_path, awkward, days, where):
    """One id on two rows, in one variant or in two: found by the per-variant bitmaps the
    sums query ORs together (no days) and by the checks query's bitmap (days)."""
    cols = dict(awkward["cols"])
    variants = cols["variant"]
    first = int(np.flatnonzero(variants == "b")[0])
    other = variants == "b" if where == "same variant" else variants == "c"
    second = int(np.flatnonzero(other)[1 if where == "same variant" else 0])
    ids = cols["user_id"].copy()
    ids[second] = ids[first]
    path = _write(tmp_path / "units.parquet", {**cols, "user_id": ids})
    metric = [{"name": "conv", "role": "primary", "type": "proportion", "column": "converted"}]
    plan = _plan_for(path, metric, **({"timestamp": "exposed_at"} if days else {}))
    with pytest.raises(DataError, match=r"^<plan>: unit: 1 unit ids in 'user_id' "):
        analyze(plan)
    clean = _plan_for(awkward["path"], metric, **({"timestamp": "exposed_at"} if days else {}))
    assert sum(unit_statistics(clean, open_units(clean)).counts.values()) == awkward["n"]


def test_history_sums_are_exact_at_any_thread_count(awkward, monkeypatch):
    """``liftlab design --history`` reads its baselines with the same exact sums: the same
    moments on 1 and 4 engine threads, within the stated bound of ``fsum`` of the control's
    values (a capped CUPED mean over awkward values)."""
    from liftlab.history import read_history

    plan = _plan_for(
        awkward["path"],
        [
            {
                "name": "m",
                "role": "primary",
                "type": "mean",
                "column": "signed",
                "covariate": "big",
                "cap": {"value": 10.0},
            }
        ],
    )
    found = []
    for threads in ("1", "4"):
        monkeypatch.setenv(THREADS_ENV, threads)
        found.append(read_history(plan, str(awkward["path"])).moments["m"])
    assert found[0] == found[1]
    cols = awkward["cols"]
    keep = cols["variant"] == "control"
    y, x = np.minimum(cols["signed"][keep], 10.0), np.minimum(cols["big"][keep], 10.0)
    got = found[0]
    assert got.n == int(keep.sum())
    for name, terms in (("sum_y", y), ("sum_y2", y * y), ("sum_x2", x * x), ("sum_xy", x * y)):
        exact, bound = _fsum_bound(terms)
        assert abs(getattr(got, name) - exact) <= bound, name


def test_the_tail_loads_no_pandas(awkward) -> None:
    """Caps read from the tail (a temporary table in the engine, values out of Arrow by
    their buffers) import no pandas: 0.4 s of a command's start-up."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom liftlab import aggregate, parse_plan\nfrom liftlab.units import open_units\n"
        f"plan = parse_plan({_capped_plan(awkward['path']).model_dump(mode='json', exclude_unset=True)!r})\n"
        "calls = []\nbuild = aggregate._tail_table\n"
        "aggregate._tail_table = lambda *a: calls.append(1) or build(*a)\n"
        "aggregate.unit_statistics(plan, open_units(plan))\n"
        "print(bool(calls), 'pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]
