"""The demo experiments as exposure and event tables in a DuckDB file, generated in DuckDB.

Every random draw is a hash of (unit, stream, seed) mapped to [0, 1): ``u(i, k) =
hash(i, k, seed) / 2⁶⁴`` (DuckDB's 64-bit ``hash``), so generation is one set-based SQL
statement per table, runs in parallel, and ten million units take seconds, with no Python
loop over rows. Normal draws use Box–Muller on two uniforms.

The generative models, and so the true effects, are those of :mod:`liftlab.simulate`
(``truth.json``), with event-level detail added:

- ``landing_*``: one exposure per user (5% logged twice, a day apart, as real logs do),
  ``device`` and ``channel`` segments; events ``landing_view`` (every unit, at its first
  exposure), ``signup`` (10% → 11%), ``activate`` (40% of signups in both arms, within a day
  of signing up, so inside the 7-day funnel window), ``bounce`` (40%), ``purchase`` with
  revenue inside the 7-day window, a repeat ``purchase`` by 25% of those buyers (both arms)
  8 to 13 days after exposure (outside the revenue window, inside the 14-day repeat window)
  and a pre-period ``purchase`` in the 14 days before exposure (the CUPED covariate).
- ``landing_history`` + ``landing_history_events``: the landing page's visitors in the two
  weeks before the test (visits 2026-10-19 to 2026-11-01, half as many as the test's units,
  5% logged twice), all shown the control page and drawn from the control's model, with the
  same events (pre-period purchases included), for sizing the next test from history
  (:mod:`liftlab.history`). Their ids follow the test's (``u00080001`` … at scale 1), so none
  is a test unit; their events are a table of their own, so the test's events table holds
  only exposed units' events and its data-quality counts do not change.
- ``pricing_*``: ``purchase`` events worth the arm's price, with the logistic demand curve.
- ``creative_*``: each user sees 1 + Binomial(8, ½) ``impression`` events 20 hours apart
  (the last 160 hours after exposure, inside the 7-day window); each is clicked (``click``)
  with the creative's click probability for that impression
  (:func:`liftlab.simulate.click_probabilities`: its CTR, except that ``lifestyle``'s wears
  off ×0.85 per day since exposure); a user who clicked converts (``conversion``, two hours
  after the first click) with probability 12%.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb

from liftlab.demo_models import (
    CONVERSION_PER_CLICKING_USER,
    CTRS,
    DEMAND_INTERCEPT,
    DEMAND_SLOPE,
    EXTRA_IMPRESSIONS,
    IMPRESSION_HOURS,
    LANDING_ACTIVATION,
    LANDING_REPEAT,
    PRICES,
    click_probabilities,
)

START = "TIMESTAMP '2026-11-02 00:00:00'"
HISTORY_START = "TIMESTAMP '2026-10-19 00:00:00'"  # the landing page's two weeks before the test
# Unit ids are text, ``u`` and eight digits (``u00000042``), like the opaque ids of real logs
# and unlike any count or amount, so a test can scan reports for them; draws hash the number.
UNIT_ID = "printf('u%08d', i)"
UNIT_NUMBER = "CAST(substr(user_id, 2) AS BIGINT)"


def _u(i: str, k: int, seed: int) -> str:
    return f"(hash({i}, {k}, {seed})::DOUBLE / 18446744073709551616.0)"


def _normal(i: str, k: int, seed: int) -> str:
    u1, u2 = _u(i, k, seed), _u(i, k + 1, seed)
    return f"(sqrt(-2 * ln(greatest({u1}, 1e-300))) * cos(2 * pi() * {u2}))"


def _arm(i: str, names: list[str], seed: int) -> str:
    """Equal-probability variant from one uniform draw."""
    cases = " ".join(
        f"WHEN {_u(i, 1, seed)} < {(k + 1) / len(names)!r} THEN '{name}'"
        for k, name in enumerate(names[:-1])
    )
    return f"CASE {cases} ELSE '{names[-1]}' END"


def _seconds(expr: str) -> str:
    return f"to_seconds(CAST(floor({expr}) AS BIGINT))"


def _landing_units(table: str, first: int, n: int, start: str, variant: str, seed: int) -> str:
    """Landing-page visitors ``first`` … ``first + n − 1``: visit time within 14 days of
    ``start``, segments, purchase propensity and whether the visit was logged twice."""
    u = lambda k: _u("i", k, seed)  # noqa: E731
    propensity = f"exp(3.0 + 0.8 * {_normal('i', 40, seed)})"
    return f"""CREATE OR REPLACE TABLE {table} AS
        SELECT {UNIT_ID} AS user_id, {variant} AS variant,
               {start} + {_seconds(f"{u(2)} * 14 * 86400")} AS exposed_at,
               CASE WHEN {u(3)} < 0.62 THEN 'mobile' ELSE 'desktop' END AS device,
               CASE WHEN {u(4)} < 0.5 THEN 'paid' WHEN {u(4)} < 0.8 THEN 'organic'
                    ELSE 'email' END AS channel,
               {propensity} AS propensity, {u(5)} < 0.05 AS logged_twice
        FROM range({first}, {first + n}) t(i)"""


def _landing_events(units: str, table: str, seed: int) -> str:
    """The events of the visitors in ``units``: each visitor's draws are hashes of its id."""
    u = lambda k: _u("i", k, seed)  # noqa: E731
    basket = lambda k: f"exp(0.3 * {_normal('i', k, seed)})"  # noqa: E731
    signed_up = f"{u(10)} < CASE WHEN variant = 'benefit' THEN 0.11 ELSE 0.10 END"
    return f"""CREATE OR REPLACE TABLE {table} AS
        WITH x AS (SELECT *, {UNIT_NUMBER} AS i FROM {units})
        SELECT user_id, 'signup' AS event, exposed_at + {_seconds(f"{u(11)} * 6 * 86400")} AS ts,
               NULL::DOUBLE AS value
        FROM x WHERE {signed_up}
        UNION ALL
        SELECT user_id, 'landing_view', exposed_at, NULL FROM x
        UNION ALL
        SELECT user_id, 'activate',
               exposed_at + {_seconds(f"{u(11)} * 6 * 86400")} + {_seconds(f"{u(18)} * 86400")},
               NULL
        FROM x WHERE {signed_up} AND {u(17)} < {LANDING_ACTIVATION!r}
        UNION ALL
        SELECT user_id, 'bounce', exposed_at + INTERVAL 30 SECOND, NULL FROM x WHERE {u(12)} < 0.40
        UNION ALL
        SELECT user_id, 'purchase', exposed_at + {_seconds(f"{u(14)} * 6.9 * 86400")},
               round(propensity * {basket(50)} * CASE WHEN variant = 'benefit' THEN 1.05 ELSE 1 END, 2)
        FROM x WHERE {u(13)} < 0.08
        UNION ALL
        SELECT user_id, 'purchase', exposed_at + INTERVAL 8 DAY + {_seconds(f"{u(20)} * 5 * 86400")},
               round(propensity * {basket(54)}, 2)
        FROM x WHERE {u(13)} < 0.08 AND {u(19)} < {LANDING_REPEAT!r}
        UNION ALL
        SELECT user_id, 'purchase', exposed_at - {_seconds(f"1 + {u(16)} * 13 * 86400")},
               round(propensity * {basket(52)}, 2)
        FROM x WHERE {u(15)} < 0.08"""


def landing_sql(n: int, seed: int, history: int = 0) -> list[str]:
    """The landing test's ``n`` units, and ``history`` past visitors of the control page."""
    return [
        _landing_units("landing_units", 1, n, START, _arm("i", ["control", "benefit"], seed), seed),
        """CREATE OR REPLACE TABLE landing_exposures AS
        SELECT user_id, variant, exposed_at, device, channel FROM landing_units
        UNION ALL
        SELECT user_id, variant, exposed_at + INTERVAL 1 DAY, device, channel
        FROM landing_units WHERE logged_twice""",
        _landing_events("landing_units", "landing_events", seed),
        "DROP TABLE landing_units",
        _landing_units("history_units", n + 1, history, HISTORY_START, "'control'", seed),
        """CREATE OR REPLACE TABLE landing_history AS
        SELECT user_id, exposed_at, device, channel FROM history_units
        UNION ALL
        SELECT user_id, exposed_at + INTERVAL 1 DAY, device, channel
        FROM history_units WHERE logged_twice""",
        _landing_events("history_units", "landing_history_events", seed),
        "DROP TABLE history_units",
    ]


def pricing_sql(n: int, seed: int) -> list[str]:
    u = lambda k: _u("i", k, seed)  # noqa: E731
    names = list(PRICES)
    price = (
        "CASE " + " ".join(f"WHEN variant = '{v}' THEN {p!r}" for v, p in PRICES.items()) + " END"
    )
    return [
        f"""CREATE OR REPLACE TABLE pricing_exposures AS
        SELECT {UNIT_ID} AS user_id, {_arm("i", names, seed)} AS variant,
               {START} + {_seconds(f"{u(2)} * 21 * 86400")} AS exposed_at
        FROM range(1, {n + 1}) t(i)""",
        f"""CREATE OR REPLACE TABLE pricing_events AS
        WITH x AS (SELECT *, {UNIT_NUMBER} AS i, {price} AS price FROM pricing_exposures)
        SELECT user_id, 'purchase' AS event,
               exposed_at + {_seconds(f"{u(21)} * 6 * 86400")} AS ts, price AS value
        FROM x
        WHERE {u(20)} < 1 / (1 + exp(-({DEMAND_INTERCEPT!r} + {DEMAND_SLOPE!r} * price)))""",
    ]


def creative_sql(n: int, seed: int) -> list[str]:
    u = lambda k: _u("i", k, seed)  # noqa: E731
    names = list(CTRS)
    # per creative, the click probability of impression j (1-based list index j + 1)
    ctr = (
        "CASE "
        + " ".join(f"WHEN variant = '{v}' THEN {click_probabilities(v)!r}::DOUBLE[]" for v in CTRS)
        + " END"
    )
    k_impressions = "1 + " + " + ".join(
        f"CAST({u(20 + m)} < 0.5 AS INTEGER)" for m in range(EXTRA_IMPRESSIONS)
    )
    click = f"({_u('(i * 16 + j)', 30, seed)} < ctr[j + 1])"
    return [
        f"""CREATE OR REPLACE TABLE creative_exposures AS
        SELECT {UNIT_ID} AS user_id, {_arm("i", names, seed)} AS variant,
               {START} + {_seconds(f"{u(2)} * 10 * 86400")} AS exposed_at
        FROM range(1, {n + 1}) t(i)""",
        f"""CREATE OR REPLACE TABLE creative_impressions AS
        WITH x AS (SELECT *, {UNIT_NUMBER} AS i, {ctr} AS ctr, {k_impressions} AS k FROM creative_exposures)
        SELECT x.user_id, x.exposed_at + to_hours(j * {IMPRESSION_HOURS}) AS ts, {click} AS clicked, x.i
        FROM x JOIN range(0, {EXTRA_IMPRESSIONS + 1}) r(j) ON r.j < x.k""",
        f"""CREATE OR REPLACE TABLE creative_events AS
        SELECT user_id, 'impression' AS event, ts, NULL::DOUBLE AS value FROM creative_impressions
        UNION ALL
        SELECT user_id, 'click', ts + INTERVAL 10 SECOND, NULL FROM creative_impressions WHERE clicked
        UNION ALL
        SELECT user_id, 'conversion', min(ts) + INTERVAL 2 HOUR, NULL FROM creative_impressions
        WHERE clicked GROUP BY user_id, i
        HAVING {_u("i", 40, seed)} < {CONVERSION_PER_CLICKING_USER!r}""",
        "DROP TABLE creative_impressions",
    ]


def write_event_demo(path: str | Path, *, seed: int = 20261125, scale: float = 1.0) -> Path:
    """Write the three demo experiments' exposure and event tables to a DuckDB file.

    ``scale`` multiplies the unit counts (80,000 / 30,000 / 50,000 at 1.0, and 40,000 past
    landing-page visitors; the landing test is the sequential demo, which needs more units
    than a fixed-horizon test).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    con.execute("SET enable_progress_bar = false")
    try:
        for statements in (
            landing_sql(max(2, math.ceil(80_000 * scale)), seed, max(2, math.ceil(40_000 * scale))),
            pricing_sql(max(3, math.ceil(30_000 * scale)), seed + 1),
            creative_sql(max(5, math.ceil(50_000 * scale)), seed + 2),
        ):
            for sql in statements:
                con.execute(sql)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    tmp.replace(path)
    return path
