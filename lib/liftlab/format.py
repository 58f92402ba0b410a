"""Numbers for readers: one formatter for every surface (report, index, command line).

Every number a reader meets goes through this module, so the same value prints the same way
in the HTML report, the portfolio index and the terminal. Conventions:

- **Units.** A metric's values are shown in its :class:`Display` format: ``percent``
  (proportions and rates, ``12.3%``), ``currency`` (``€2.29``; the plan's ``currency``, an
  ISO 4217 code), ``count`` (whole numbers with thousands separators) or ``number``.
  Differences of percentages are in percentage points (``+0.79 pp``); differences of
  currency values carry the currency (``+€0.12``).
- **Enough digits.** Values are shown with at least three significant digits (money: whole
  cents, and two significant digits below one unit: ``€0.85``, ``€0.012``), and a set of
  values shown side by side (the arms of one metric) gets as many decimals as it takes for two
  different values never to print alike (``0.0183%`` and ``0.0241%``, not ``0.02%`` twice).
  An effect and its interval share one number of decimals: two significant digits of the
  interval's half-width (the precision the data support), at least one decimal for
  percentages, lifts and percentage points, and two for money.
- **Noise is zero.** A value below ``1e-12`` of the scale of the numbers it is shown with
  (floating-point noise, such as ``-4.44e-16`` for a shift of zero) prints as ``0``.
- **p-values** print with three decimals (``0.009``), or ``< 0.001``.
- **Probabilities** print with one decimal (``97.3%``); between 99.9% and 100% as
  ``> 99.9%``, between 0 and 0.1% as ``< 0.1%``; ``100%`` and ``0%`` only when exact.
- A missing or undefined number prints as an em dash (``—``). Signs use ``+`` and the
  minus sign ``-``; a value that rounds to zero carries no sign.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

DASH = "—"
NOISE = 1e-12
FORMATS = ("percent", "currency", "number", "count")
Format = Literal["percent", "currency", "number", "count"]
# ISO 4217 codes with a symbol readers know; any other code prints after the number.
CURRENCY_SYMBOLS = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "CNY": "CN¥",
    "JPY": "JP¥",
    "INR": "₹",
    "KRW": "₩",
    "BRL": "R$",
    "AUD": "A$",
    "CAD": "CA$",
    "HKD": "HK$",
    "SGD": "S$",
}


@dataclass(frozen=True, slots=True)
class Display:
    """How one metric's numbers are shown.

    Attributes:
        label: the metric's name for readers (defaults to its name with spaces).
        format: ``percent``, ``currency``, ``number`` or ``count``.
        decimals: fixed decimals for the metric's values, or ``None`` for the automatic rule
            (at least three significant digits, distinct values distinct).
        currency: the ISO 4217 code used by the ``currency`` format (``None`` otherwise).
    """

    label: str
    format: Format = "number"
    decimals: int | None = None
    currency: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], currency: str | None = None) -> Display:
        """From a results.json metric (``label``, ``format``, ``decimals``) and its plan's
        currency; older files without them fall back to the defaults by type."""
        fmt = d.get("format") or default_format(str(d.get("type", "mean")))
        return cls(
            label=str(d.get("label") or label_of(str(d.get("name", "")))),
            format=fmt if fmt in FORMATS else "number",
            decimals=d.get("decimals"),
            currency=currency if fmt == "currency" else None,
        )

    @property
    def is_percent(self) -> bool:
        return self.format == "percent"

    @property
    def delta_unit(self) -> str:
        """The unit of an absolute difference: ``pp`` for percentages, else empty."""
        return "pp" if self.is_percent else ""


def default_format(metric_type: str) -> Format:
    """A metric type's default format: proportions in percent, others plain numbers."""
    return "percent" if metric_type == "proportion" else "number"


def label_of(name: str) -> str:
    """A metric name for readers: ``signup_rate`` → ``signup rate``."""
    return name.replace("_", " ")


def ok(x: float | None) -> TypeGuard[float]:
    """A finite number (not None, NaN or infinite)."""
    return x is not None and isinstance(x, int | float) and math.isfinite(x)


def denoise(x: float, scale: float) -> float:
    """``0`` when ``|x|`` is below ``NOISE`` of ``scale`` (floating-point noise), else ``x``."""
    return 0.0 if abs(x) < NOISE * abs(scale) or abs(x) < 1e-300 else x


def _scale(values: Iterable[float | None]) -> float:
    finite = [abs(v) for v in values if ok(v)]
    return max(finite) if finite else 0.0


def _unsign_zero(text: str) -> str:
    """A signed number that rounds to zero loses its sign (``+0.00%`` → ``0.00%``)."""
    if text[:1] in "+-" and not any(c in "123456789" for c in text):
        return text[1:]
    return text


def decimals_for(
    values: Iterable[float | None], *, sig: int = 3, minimum: int = 0, maximum: int = 8
) -> int:
    """Decimals giving ``sig`` significant digits to the smallest non-zero ``|value|``, at
    least ``minimum``, and more (up to ``maximum``) until distinct values print distinctly."""
    vals = [float(v) for v in values if ok(v)]
    scale = _scale(vals)
    vals = [denoise(v, scale) for v in vals]
    nonzero = [abs(v) for v in vals if v != 0]
    if not nonzero:
        return minimum
    d = max(minimum, sig - 1 - math.floor(math.log10(min(nonzero))))
    d = min(max(d, minimum), maximum)
    distinct = sorted(set(vals))
    while d < maximum and len({f"{v:.{d}f}" for v in distinct}) < len(distinct):
        d += 1
    return d


# ---- plain numbers -----------------------------------------------------------------------------
def number(x: float | None, decimals: int = 2, *, sign: bool = False, scale: float = 0) -> str:
    """``x`` with ``decimals`` decimals and thousands separators (``1,234.50``)."""
    if not ok(x):
        return DASH
    assert x is not None
    x = denoise(x, scale or x)
    text = f"{x:+,.{decimals}f}" if sign else f"{x:,.{decimals}f}"
    return _unsign_zero(text) if sign else text


def count(n: float | None) -> str:
    """A whole number with thousands separators (``21,306``)."""
    return DASH if not ok(n) else f"{round(n):,}"  # type: ignore[arg-type]


def percent(x: float | None, decimals: int = 1, *, sign: bool = False, scale: float = 0) -> str:
    """A fraction as a percentage (``0.123`` → ``12.3%``)."""
    if not ok(x):
        return DASH
    assert x is not None
    return number(100 * x, decimals, sign=sign, scale=100 * scale) + "%"


def money(x: float | None, currency: str | None, decimals: int = 2, *, sign: bool = False) -> str:
    """An amount in ``currency`` (``€2.29``, ``-$0.12``, ``12.50 CHF``); plain without one."""
    if not ok(x):
        return DASH
    assert x is not None
    body = number(abs(x), decimals)
    if currency is None:
        text = body
    elif currency in CURRENCY_SYMBOLS:
        text = CURRENCY_SYMBOLS[currency] + body
    else:
        text = f"{body} {currency}"
    if body.strip("0.,") == "":
        return text
    if x < 0:
        return "-" + text
    return ("+" + text) if sign else text


def p_value(p: float | None) -> str:
    """A p-value for reading: ``0.009``, ``0.050``, or ``< 0.001``."""
    if not ok(p):
        return DASH
    assert p is not None
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def p_clause(p: float | None, name: str = "p") -> str:
    """A p-value in a sentence, after its ``name``: ``p = 0.009``, ``p < 0.001``,
    ``adjusted p = 0.041`` (never ``p = < 0.001``)."""
    text = p_value(p)
    return f"{name} {text}" if text.startswith("<") else f"{name} = {text}"


def probability(x: float | None) -> str:
    """A probability: ``97.3%``; ``> 99.9%`` / ``< 0.1%`` near the ends; ``100%``/``0%`` exact."""
    if not ok(x):
        return DASH
    assert x is not None
    if x >= 1:
        return "100%"
    if x <= 0:
        return "0%"
    if x > 0.999:
        return "> 99.9%"
    if x < 0.001:
        return "< 0.1%"
    return f"{x:.1%}"


def mc_probability(x: float | None) -> str:
    """A probability estimated by Monte Carlo draws (a chance to be best): none or all of
    the draws is not a certainty, so ``0`` and ``1`` print as ``< 0.1%`` and ``> 99.9%``;
    otherwise as :func:`probability`."""
    if ok(x):
        assert x is not None
        x = min(max(x, 1e-9), 1 - 1e-9)
    return probability(x)


def level(alpha: float) -> str:
    """The confidence level of ``alpha`` (``0.05`` → ``95%``)."""
    return f"{1 - alpha:.0%}"


# ---- a metric's numbers ------------------------------------------------------------------------
def value_decimals(display: Display, values: Iterable[float | None]) -> int:
    """Decimals for a metric's values shown side by side (its arms), in display units."""
    if display.decimals is not None:
        return display.decimals
    vals = [v for v in values if ok(v)]
    if display.format == "count":
        return 0 if all(float(v).is_integer() for v in vals) else decimals_for(vals, minimum=1)  # type: ignore[arg-type]
    if display.format == "percent":
        return decimals_for([100 * v for v in vals], minimum=1)  # type: ignore[operator]
    if display.format == "currency":  # cents, and two significant digits below one unit
        return decimals_for(vals, sig=2, minimum=2)
    return decimals_for(vals, minimum=0)


def value(display: Display, x: float | None, decimals: int | None = None) -> str:
    """One value of the metric in its units (``12.3%``, ``€2.29``, ``1,204``, ``0.0812``)."""
    d = value_decimals(display, [x]) if decimals is None else decimals
    if display.format == "percent":
        return percent(x, d)
    if display.format == "currency":
        return money(x, display.currency, d)
    return number(x, d)


def values(display: Display, xs: Mapping[str, float | None]) -> dict[str, str]:
    """Several values of the metric (its arms) with one number of decimals: distinct values
    never print alike."""
    d = value_decimals(display, xs.values())
    return {k: value(display, x, d) for k, x in xs.items()}


def _interval_decimals(nums: list[float | None], *, minimum: int) -> int:
    """Decimals for an effect and its interval: two significant digits of the interval's
    half-width (the precision the data give), or of the effect when there is no interval."""
    est, lo, hi = nums
    if ok(lo) and ok(hi) and hi > lo:
        half = (hi - lo) / 2
        return min(max(minimum, 1 - math.floor(math.log10(half))), 8)
    return decimals_for([est], sig=2, minimum=minimum)


def delta(display: Display, x: float | None, decimals: int) -> str:
    """An absolute difference in the metric's units: ``+0.79 pp``, ``+€0.12``, ``-0.031``."""
    if display.format == "percent":
        if not ok(x):
            return DASH
        assert x is not None
        return number(100 * x, decimals, sign=True) + " pp"
    if display.format == "currency":
        return money(x, display.currency, decimals, sign=True)
    return number(x, decimals, sign=True)


def effect_text(
    display: Display,
    effect: float | None,
    interval: tuple[float | None, float | None] | None,
    effect_type: str,
) -> str:
    """An effect with its interval, one set of decimals: ``+6.9% [+1.2%, +12.7%]`` (relative)
    or ``+0.67 pp [+0.12 pp, +1.22 pp]`` (absolute). The bracket never breaks across lines."""
    lo, hi = interval if interval is not None else (None, None)
    scale = _scale([effect, lo, hi])
    nums = [denoise(v, scale) if ok(v) else None for v in (effect, lo, hi)]  # type: ignore[arg-type]
    if effect_type == "relative":
        d = _interval_decimals([100 * v if v is not None else None for v in nums], minimum=1)

        def fmt(x: float | None) -> str:
            return percent(x, d, sign=True)
    else:
        factor = 100 if display.is_percent else 1
        minimum = {"percent": 1, "currency": 2}.get(display.format, 0)
        d = _interval_decimals(
            [factor * v if v is not None else None for v in nums], minimum=minimum
        )

        def fmt(x: float | None) -> str:
            return delta(display, x, d)

    est = fmt(nums[0])
    if interval is None:
        return est
    if nums[1] is None or nums[2] is None:
        return f"{est} [interval undefined]"
    return f"{est} [{fmt(nums[1])},\u00a0{fmt(nums[2])}]"


def effect_only(display: Display, effect: float | None, effect_type: str) -> str:
    """The effect without its interval, formatted as :func:`effect_text` would print it alone."""
    return effect_text(display, effect, None, effect_type)


def value_interval(
    display: Display,
    estimate: float | None,
    lo: float | None,
    hi: float | None,
    decimals: int | None = None,
) -> str:
    """A value with its interval in the metric's units and one set of decimals:
    ``1.23% [1.01%, 1.45%]``, ``€3.94 [€3.10, €4.80]``."""
    d = decimals if decimals is not None else display.decimals
    if d is None:
        factor = 100 if display.is_percent else 1
        minimum = 2 if display.format == "currency" else 1 if display.is_percent else 0
        d = decimals_for([factor * v for v in (estimate, lo, hi) if ok(v)], minimum=minimum)
    est = value(display, estimate, d)
    if not (ok(lo) and ok(hi)):
        return est
    return f"{est} [{value(display, lo, d)},\u00a0{value(display, hi, d)}]"
