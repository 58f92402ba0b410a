"""Tests of :mod:`liftlab.assign`: the hash contract, engine parity and the split's statistics.

Where expectations come from: the golden vector is literal (it *is* the contract) and is
re-derived at test time from ``hashlib`` and the written rule; every statistical bound is
computed at test time with scipy (χ² goodness of fit, χ² independence, Kolmogorov–Smirnov,
binomial quantiles). The id sets are fixed, so each p-value is a deterministic regression
number; they are printed (``pytest -s``) for the record.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import duckdb
import ibis
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from liftlab.assign import (
    HELD_OUT,
    HOLDOUT,
    NOT_ENROLLED,
    SPACE,
    Assignment,
    Tally,
    assign,
    assign_codes,
    assign_expr,
    assignment_sql,
    audit,
    bucket,
    buckets,
    hash_key,
    with_assignment,
)

# ----- golden vector -------------------------------------------------------------------------
# THIS VECTOR MUST NEVER CHANGE. It pins the hash contract that apps, edge functions and SQL
# reimplement; if a change to liftlab.assign breaks it, live users would switch variants.
# Columns: unit id, first 8 hex digits of md5 of "global-holdout:holdout:<id>",
# "golden-vector:traffic:<id>", "golden-vector:variant:<id>", and the assigned variant.
GOLDEN_CONFIG = Assignment(
    salt="golden-vector",
    weights={"control": 0.5, "red": 0.3, "blue": 0.2},
    traffic=0.8,
    holdout=0.1,
    holdout_salt="global-holdout",
)
# Thresholds floor(x · 2**32 + 0.5): holdout 0.1, traffic 0.8, cumulative weights 0.5, 0.8, 1.
GOLDEN_HOLDOUT_THRESHOLD = 429496730
GOLDEN_TRAFFIC_THRESHOLD = 3435973837
GOLDEN_VARIANT_THRESHOLDS = (2147483648, 3435973837, 4294967296)
GOLDEN: list[tuple[str | int, str, str, str, str | None]] = [
    ("user-1", "c423083e", "25f57c70", "f669d34f", "blue"),
    ("user-2", "a8990d04", "a10ea3bd", "a9d92843", "red"),
    ("user-3", "30440271", "824ce9de", "a0c3417c", "red"),
    ("user-4", "0c982b5d", "d7641166", "05dcb198", HOLDOUT),
    ("user-5", "d88f135f", "556e6aba", "771631ed", "control"),
    ("user-6", "192d24ec", "1e243fb4", "7da55592", HOLDOUT),
    ("user-7", "8f4f99f4", "a28f2b1e", "6504fb68", "control"),
    ("user-8", "b053e960", "523703c1", "9ce5fef5", "red"),
    ("alice@example.com", "32147a33", "6c0b485d", "d2de2c17", "blue"),
    ("Alice@Example.com", "1b4c6cd3", "5d67cdca", "f8c97b19", "blue"),  # case-sensitive
    ("café", "98c65a6c", "3d519ead", "e81372d5", "blue"),  # UTF-8
    ("用户-42", "9e3ca05b", "f1ef1160", "d2af1a3b", None),  # outside the 80% traffic
    ("550e8400-e29b-41d4-a716-446655440000", "b6076c24", "4189b48f", "37a686cb", "control"),
    ("42", "d1029324", "128bdee0", "9a381ad0", "red"),
    (" 42", "a2c7e4dd", "237bdcd6", "90f56992", "red"),  # not trimmed: a different unit
    ("0", "eb01676e", "7902956b", "ec44eb71", "blue"),
    (0, "eb01676e", "7902956b", "ec44eb71", "blue"),  # an int hashes as its decimal string
    (1, "7b9d444c", "997ba0fa", "797b47bc", "control"),
    (42, "d1029324", "128bdee0", "9a381ad0", "red"),
    (-7, "2ee7fbf4", "c87a7bf2", "9a7ba2d9", "red"),
    (2**31, "42c26368", "8ad3d900", "c820b1a3", "red"),
    (2**63 - 1, "11c85c2b", "472390fa", "e7570e54", HOLDOUT),
    (10**20, "9f23dead", "065a2282", "b7a25164", "red"),
]


def _spec_assign(holdout_hex: str, traffic_hex: str, variant_hex: str) -> str | None:
    """The rule of the module docstring, step 5, written out independently."""
    if int(holdout_hex, 16) < GOLDEN_HOLDOUT_THRESHOLD:
        return HOLDOUT
    if int(traffic_hex, 16) >= GOLDEN_TRAFFIC_THRESHOLD:
        return None
    u = int(variant_hex, 16)
    names = ["control", "red", "blue"]
    return next(n for n, v in zip(names, GOLDEN_VARIANT_THRESHOLDS, strict=True) if u < v)


def test_golden_vector_thresholds() -> None:
    assert GOLDEN_CONFIG.holdout_threshold == GOLDEN_HOLDOUT_THRESHOLD
    assert GOLDEN_CONFIG.traffic_threshold == GOLDEN_TRAFFIC_THRESHOLD
    assert GOLDEN_CONFIG.thresholds == GOLDEN_VARIANT_THRESHOLDS


@pytest.mark.parametrize(("unit", "h_hex", "t_hex", "v_hex", "expected"), GOLDEN)
def test_golden_vector_digests(
    unit: str | int, h_hex: str, t_hex: str, v_hex: str, expected: str | None
) -> None:
    # The digests, straight from hashlib on the documented key f"{salt}:{stream}:{unit}".
    def md5_8(key: str) -> str:
        return hashlib.md5(key.encode("utf-8")).hexdigest()[:8]

    text = unit if isinstance(unit, str) else str(unit)
    assert md5_8(f"global-holdout:holdout:{text}") == h_hex
    assert md5_8(f"golden-vector:traffic:{text}") == t_hex
    assert md5_8(f"golden-vector:variant:{text}") == v_hex
    assert _spec_assign(h_hex, t_hex, v_hex) == expected
    assert bucket("golden-vector", "variant", unit) == int(v_hex, 16)
    assert hash_key("golden-vector", "traffic", unit) == f"golden-vector:traffic:{text}"


def test_golden_vector_assign() -> None:
    ids = [row[0] for row in GOLDEN]
    expected = [row[4] for row in GOLDEN]
    assert assign(ids, GOLDEN_CONFIG) == expected
    # One at a time gives the same answers as the vectorised call.
    assert [assign([u], GOLDEN_CONFIG)[0] for u in ids] == expected
    assert {None, HOLDOUT, "control", "red", "blue"} <= set(expected)  # the vector covers all


def _reference(unit: str | int, config: Assignment) -> str | None:
    """The docstring's rule for one unit, from hashlib and floats, without liftlab's code."""

    def u(salt: str, stream: str) -> int:
        key = f"{salt}:{stream}:{unit if isinstance(unit, str) else str(unit)}"
        return int(hashlib.md5(key.encode("utf-8")).hexdigest()[:8], 16)

    def thr(x: float) -> int:
        return int(np.floor(x * 2**32 + 0.5))

    if u(config.holdout_salt, "holdout") < thr(config.holdout):
        return HOLDOUT
    if u(config.salt, "traffic") >= thr(config.traffic):
        return None
    total, cumulative = sum(config.weights.values()), 0.0
    bucket_u = u(config.salt, "variant")
    for name, w in config.weights.items():
        cumulative += w
        if bucket_u < thr(cumulative / total):
            return name
    return list(config.weights)[-1]


@settings(max_examples=40, deadline=None)  # keeps the file under 15 s
@given(
    units=st.lists(st.text(max_size=30) | st.integers(-(2**70), 2**70), max_size=20),
    raw_weights=st.lists(st.integers(1, 20), min_size=1, max_size=5),
    traffic=st.floats(0.01, 1.0),
    holdout=st.floats(0.0, 0.5),
    salt=st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True),
)
def test_assign_follows_the_documented_rule(
    units: list[str | int], raw_weights: list[int], traffic: float, holdout: float, salt: str
) -> None:
    weights = {f"v{i}": w / sum(raw_weights) for i, w in enumerate(raw_weights)}
    config = Assignment(salt, weights, traffic=traffic, holdout=holdout)
    assert assign(units, config) == [_reference(u, config) for u in units]


# ----- Python versus the engine --------------------------------------------------------------
PARITY_CONFIG = Assignment(
    "parity-check", {"control": 0.34, "b": 0.33, "c": 0.33}, traffic=0.7, holdout=0.05
)


ParityCase = tuple[pa.Table, list[str | None]]


@pytest.fixture(scope="module")
def parity_cases() -> list[ParityCase]:
    """50k string ids and 50k integer ids, as Arrow tables, with their Python assignment."""
    strings: list[str | None] = [f"u{i:05d}-é" for i in range(50_000)]
    strings[123] = None  # a missing unit id is in no experiment, in Python and SQL alike
    strings[456] = "O'Brien"
    ints = list(range(-1_000, 49_000))
    cases = []
    for ids, dtype in ((strings, pa.string()), (ints, pa.int64())):
        table = pa.table({"k": np.arange(len(ids)), "unit": pa.array(ids, dtype)})
        cases.append((table, assign(ids, PARITY_CONFIG)))
    return cases


def test_python_matches_ibis_duckdb(parity_cases: list[ParityCase]) -> None:
    con = ibis.duckdb.connect()
    for units, expected in parity_cases:
        t = ibis.memtable(units)
        table_form = with_assignment(t, "unit", PARITY_CONFIG, name="v").select("k", "v")
        assert con.to_pyarrow(table_form.order_by("k"))["v"].to_pylist() == expected
        # The single-expression form repeats MD5 in every CASE branch: check it on 10k rows.
        head = t.filter(t.k < 10_000)
        column_form = head.select("k", v=assign_expr(head.unit, PARITY_CONFIG)).order_by("k")
        assert con.to_pyarrow(column_form)["v"].to_pylist() == expected[:10_000]


def test_python_matches_handwritten_duckdb_sql(parity_cases: list[ParityCase]) -> None:
    con = duckdb.connect()
    for units, expected in parity_cases:
        con.register("units", units)
        sql = f"SELECT {assignment_sql(PARITY_CONFIG, 'unit')} AS v FROM units ORDER BY k"
        assert con.sql(sql).to_arrow_table()["v"].to_pylist() == expected


def test_postgres_sql_shape() -> None:
    # PostgreSQL reads the 8 hex digits through bit(32), zero-extended to bigint.
    sql = assignment_sql(PARITY_CONFIG, "user_id", dialect="postgres")
    assert "('x' || substr(md5('parity-check:variant:' || CAST(user_id AS TEXT)), 1, 8))" in sql
    assert "::bit(32)::bigint" in sql
    assert "'O''Brien'" in assignment_sql(Assignment("s", {"O'Brien": 1.0}), "u")


def test_engine_refuses_float_units() -> None:
    t = ibis.table({"unit": "float64"}, name="t")
    with pytest.raises(TypeError, match="strings or integers"):
        assign_expr(t.unit, PARITY_CONFIG)


# ----- statistics of the split ---------------------------------------------------------------
N = 1_000_000
UNIFORM_CONFIG = Assignment("uniformity", {"control": 0.4, "a": 0.3, "b": 0.2, "c": 0.1})
OTHER_CONFIG = Assignment("another-experiment", {"x": 0.5, "y": 0.5})


@pytest.fixture(scope="module")
def uniform_codes() -> np.ndarray:
    return assign_codes(range(N), UNIFORM_CONFIG)


def test_counts_match_weights(uniform_codes: np.ndarray) -> None:
    observed = np.bincount(uniform_codes, minlength=4)
    expected = N * np.asarray(list(UNIFORM_CONFIG.weights.values()))
    res = sps.chisquare(observed, expected)
    print(f"\nχ² of 1M ids over 40/30/20/10: {res.statistic:.3f}, p = {res.pvalue:.4f}")
    assert observed.sum() == N
    assert res.pvalue > 0.001


def test_positions_are_uniform() -> None:
    positions = buckets(range(200_000), "uniformity", "variant") / SPACE
    res = sps.kstest(positions, "uniform")
    print(f"\nKS of 200k positions against U(0, 1): D = {res.statistic:.5f}, p = {res.pvalue:.4f}")
    assert positions.min() >= 0 and positions.max() < 1
    assert res.pvalue > 0.001


def test_salts_are_independent(uniform_codes: np.ndarray) -> None:
    other = assign_codes(range(N), OTHER_CONFIG)
    table = np.zeros((4, 2), np.int64)
    np.add.at(table, (uniform_codes, other), 1)
    res = sps.chi2_contingency(table)
    print(f"\nχ² independence, 4×2 table of two salts over 1M ids: p = {res.pvalue:.4f}")
    assert res.pvalue > 0.001


# ----- traffic and holdout -------------------------------------------------------------------
def test_raising_traffic_keeps_enrolled_units_in_their_variant() -> None:
    ids = [f"visitor-{i}" for i in range(100_000)]
    weights = {"control": 0.5, "treatment": 0.5}
    low = assign_codes(ids, Assignment("ramp", weights, traffic=0.2, holdout=0.05))
    high = assign_codes(ids, Assignment("ramp", weights, traffic=0.5, holdout=0.05))
    enrolled_low, enrolled_high = low >= 0, high >= 0
    assert np.array_equal(high[enrolled_low], low[enrolled_low])  # nobody moves
    assert not np.any(enrolled_low & ~enrolled_high)  # nobody leaves
    assert np.array_equal(low == HELD_OUT, high == HELD_OUT)  # the holdout is untouched
    share_low, share_high = enrolled_low.mean(), enrolled_high.mean()
    assert share_low == pytest.approx(0.95 * 0.2, abs=0.01)
    assert share_high == pytest.approx(0.95 * 0.5, abs=0.01)


def test_holdout_share_and_exclusion() -> None:
    n, share = 60_000, 0.05
    ids = [f"member-{i}" for i in range(n)]
    experiments = [
        Assignment("pricing-test", {"a": 0.5, "b": 0.5}, holdout=share, holdout_salt="q3"),
        Assignment(
            "hero-test", {"a": 0.2, "b": 0.8}, traffic=0.6, holdout=share, holdout_salt="q3"
        ),
        Assignment("ads-test", {"a": 0.3, "b": 0.3, "c": 0.4}, holdout=share, holdout_salt="q3"),
    ]
    codes = [assign_codes(ids, e) for e in experiments]
    held = codes[0] == HELD_OUT
    lo, hi = sps.binom.interval(0.999, n, share)
    print(f"\nholdout: {held.sum()} of {n} held out; 99.9% binomial interval [{lo:.0f}, {hi:.0f}]")
    assert lo <= held.sum() <= hi
    for c in codes:
        assert np.array_equal(c == HELD_OUT, held)  # the same units in every experiment
        assert not np.any(c[held] >= 0)  # and none of them ever gets a variant
    # Holdouts of different sizes under one holdout_salt are nested.
    u = buckets(ids, "q3", "holdout")
    small = Assignment("x", {"a": 1.0}, holdout=0.02, holdout_salt="q3")
    assert np.all(held[u < small.holdout_threshold])


def test_missing_and_bad_unit_ids() -> None:
    assert assign([None, "a"], Assignment("s", {"only": 1.0})) == [None, "only"]
    assert assign_codes([None], Assignment("s", {"only": 1.0})).tolist() == [NOT_ENROLLED]
    for bad in (1.5, True, b"bytes"):
        with pytest.raises(TypeError, match="strings or integers"):
            assign([bad], GOLDEN_CONFIG)  # type: ignore[list-item]
    assert assign(np.array([0, 42]), GOLDEN_CONFIG) == ["blue", "red"]
    assert assign(pa.array(["42", None]), GOLDEN_CONFIG) == ["red", None]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"salt": "a:b"}, "without ':'"),
        ({"salt": ""}, "without ':'"),
        ({"weights": {"a": 0.5, "b": 0.4}}, "sum to 0.9"),
        ({"weights": {"a": 1.0, "b": 0.0}}, "must be > 0"),
        ({"weights": {HOLDOUT: 1.0}}, "reserved"),
        ({"traffic": 0.0}, r"\(0, 1\]"),
        ({"holdout": 1.0}, r"\[0, 1\)"),
    ],
)
def test_config_validation(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"salt": "s", "weights": {"a": 0.5, "b": 0.5}} | kwargs
    with pytest.raises(ValueError, match=message):
        Assignment(**args)  # type: ignore[arg-type]


def test_from_plan_uses_the_plan_name_as_salt() -> None:
    from liftlab.plan import parse_plan

    plan = parse_plan(
        {
            "name": "landing-hero-cta",
            "kind": "landing_page",
            "hypothesis": "h",
            "variants": {"control": {}, "benefit": {}},
            "data": {"units": "x.parquet"},
            "metrics": [{"name": "m", "role": "primary", "type": "proportion", "column": "y"}],
        }
    )
    config = Assignment.from_plan(plan, traffic=0.5)
    assert config.salt == "landing-hero-cta"
    assert config.weights == {"control": 0.5, "benefit": 0.5}
    assert config.traffic == 0.5


# ----- audit ---------------------------------------------------------------------------------
AUDIT_CONFIG = Assignment(
    "audit-test", {"control": 0.5, "red": 0.25, "blue": 0.25}, traffic=0.9, holdout=0.05
)


def _duckdb_table(con: ibis.BaseBackend, name: str, data: pa.Table) -> ibis.Table:
    con.raw_sql(f"CREATE TABLE {name} (unit VARCHAR, variant VARCHAR)")
    con.insert(name, data)
    return con.table(name)


def test_audit_counts_exactly_the_corrupted_rows() -> None:
    ids = [f"user-{i}" for i in range(30_000)]
    truth = assign(ids, AUDIT_CONFIG)
    eligible = [(u, v) for u, v in zip(ids, truth, strict=True) if v not in (None, HOLDOUT)]
    names = AUDIT_CONFIG.variants
    log_units: list[str | None] = []
    log_variants: list[str | None] = []
    corrupted: Counter[tuple[str, str]] = Counter()
    for k, (u, v) in enumerate(eligible):
        assert v is not None
        logged = v
        if k % 100 == 0:  # 1% of logged variants corrupted: shifted to the next variant
            logged = names[(names.index(v) + 1) % len(names)]
            corrupted[(logged, v)] += 1
        log_units.append(u)
        log_variants.append(logged)
    n_corrupted = sum(corrupted.values())
    repeats = [(u, v) for k, (u, v) in enumerate(eligible) if k % 100 == 1]  # logged twice
    outside = [u for u, v in zip(ids, truth, strict=True) if v is None][:350]
    held = [u for u, v in zip(ids, truth, strict=True) if v == HOLDOUT][:180]
    # Wrongly exposed: 200 units outside the traffic and 100 held-out units shown a variant.
    # Rightly logged with no variant (or as held out): 150 outside and 80 held-out units.
    log_units += [u for u, _ in repeats] + outside + held + [None] * 50
    log_variants += (
        [v for _, v in repeats]
        + ["control"] * 200
        + [None] * 150
        + ["red"] * 100
        + [None] * 40
        + [HOLDOUT] * 40
        + ["blue"] * 50
    )

    con = ibis.duckdb.connect()
    log = _duckdb_table(con, "exposures", pa.table({"unit": log_units, "variant": log_variants}))
    res = audit(log, "unit", "variant", AUDIT_CONFIG)

    assert n_corrupted == -(-len(eligible) // 100)
    assert res.mismatched == {pair: Tally(n, n) for pair, n in corrupted.items()}
    assert res.not_eligible == Tally(200, 200)
    assert res.holdout_exposed == Tally(100, 100)
    assert res.null_unit_rows == 50
    right = len(eligible) - n_corrupted
    assert res.matched == Tally(right + len(repeats) + 150 + 80, right + 150 + 80)
    assert res.total_rows == len(log_units)
    assert not res.ok

    clean = pa.table({"unit": [u for u, _ in eligible], "variant": [v for _, v in eligible]})
    clean_res = audit(_duckdb_table(con, "clean", clean), "unit", "variant", AUDIT_CONFIG)
    assert clean_res.ok
    assert clean_res.matched == Tally(len(eligible), len(eligible))
