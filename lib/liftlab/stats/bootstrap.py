"""Bootstrap comparisons of a treatment with control on unit-level rows (heavy-tailed revenue).

Everything else in liftlab runs on sufficient statistics; the methods here need the rows: one
numpy array of metric values per arm, already fetched by the caller. No I/O happens here.

Conventions (defaults in bold; alternatives by name):

- **Statistic** of each arm: ``"mean"``, ``"median"`` or ``("quantile", q)``. Quantiles use
  linear interpolation between order statistics (Hyndman & Fan 1996 type 7, numpy's and
  DuckDB ``quantile_cont``'s default): with the values sorted, ``h = (N − 1)q`` and the
  quantile is ``x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋])``. The median is the 0.5 quantile (equal
  to ``np.median`` up to rounding).
- **Effect**: ``"absolute"`` (**default**) ``stat_t − stat_c``; ``"relative"``
  ``stat_t / stat_c − 1`` (undefined where the control statistic is 0: such resamples are
  dropped and counted in ``n_invalid``).
- **Resampling scheme**: ``"poisson"`` (**default**): every unit gets an independent
  Poisson(1) frequency in every resample (Hanley & MacGibbon 2006, "Creating non-parametric
  bootstrap samples using Poisson frequencies", Comput. Methods Programs Biomed. 83:57–62;
  Chamandy, Muralidharan, Najmi & Naidu 2012, "Estimating uncertainty for massive data
  streams", Google). The resample size varies around ``n``; the arms are resampled
  independently. ``"multinomial"``: the classic Efron bootstrap, ``n`` draws with
  replacement per arm (frequencies ~ Multinomial(n, 1/n)), as ``scipy.stats.bootstrap``.
- **Compressed support (exact, not an approximation)**: each arm is reduced to its distinct
  values and their counts ``(v_j, c_j)`` (revenue is mostly zeros with few distinct values).
  Every statistic here depends on a resample only through the total frequency of each
  distinct value, and that total has a known law: a sum of ``c_j`` independent Poisson(1)
  is Poisson(``c_j``); the multinomial class totals are Multinomial(n, c_j/n). So frequencies
  are drawn per distinct value, not per unit — the bootstrap distribution is the same as the
  unit-level one, at a cost proportional to the number of distinct values ``m`` instead of
  ``n``. For continuous data without ties ``m = n`` and nothing is saved.
- **Fast Poisson frequencies**: the support is ordered by count; for values seen
  ``c ≤ 12`` times (the bulk of the support of amounts) the frequency is drawn by inversion of
  the Poisson(c) CDF from one uniform (Devroye 1986, *Non-Uniform Random Variate
  Generation*, §III.2): a few vectorised comparisons with the CDF table (4 for ``c = 1``),
  then a binary search in the table for the < 2% of draws beyond. Exact up to the float64
  rounding of the CDF (``scipy.special.pdtr``), which is tabulated until it rounds to 1.
  Values seen more often (the zeros) get ``rng.poisson(c)``. About 2–3 times faster than
  ``rng.poisson`` for every value.
- **Multinomial frequencies by "Poisson then correct"** (exact): draw the Poisson
  frequencies, then give a resample short of ``n`` draws more independent draws from the arm,
  and take from a resample over ``n`` a uniformly chosen subset of its draws (see
  ``_multinomial_frequencies``). Costs ≈ 1.5 × the Poisson scheme.
- **Means** per resample: ``Σ_j W_j v_j / Σ_j W_j`` by one matrix–vector product per chunk of
  resamples. **Quantiles** per resample: cumulative frequencies over the sorted support, and
  ``np.searchsorted`` for the order statistics ``⌊h⌋`` and ``⌊h⌋+1``. A resample whose arm is
  empty (Poisson scheme, probability ``e^{−n}``) is dropped and counted in ``n_invalid``.
- **Memory and time**: resamples are processed in chunks of ``k = ⌊2¹⁸ / m⌋`` rows (at
  least one), and the frequencies are generated in column blocks of ``⌊2¹⁸ / k⌋`` values, so
  the work arrays hold 2¹⁸ elements (uniforms, 8-bit frequencies, a mask: ≈ 2.6 MB per arm)
  and stay in cache whatever ``n`` and ``n_resamples`` are; larger chunks measured slower.
  Means are accumulated block by block; quantiles and the multinomial scheme also hold one
  chunk of integer frequencies (≈ 1–2 MB, or one row of ``m`` values when ``m > 2¹⁸``). The
  two arms run in two threads (numpy releases the GIL in the generator and the ufuncs; sums
  use ``np.einsum``, not BLAS, whose spinning worker threads would starve the other arm).
  CPU time is ≈ 10–20 ns per (resample × distinct value) on a small 2-core VM, of which
  ≈ 5 ns is the PCG64 uniform itself: 2,000 resamples of a million zero-inflated revenue
  units (≈ 18,000 distinct values after rounding to cents) take ≈ 1 s, but a million
  *continuous* values per arm (no ties, ``m = n``) ≈ 50 s of CPU. See
  ``benchmarks/bootstrap_speed.py``.
- **Confidence interval** (two-sided, level ``1 − α``): ``"percentile"`` (**default**): the
  ``α/2`` and ``1 − α/2`` quantiles (linear interpolation) of the bootstrap effects.
  ``"bca"``: bias-corrected and accelerated (Efron 1987, "Better bootstrap confidence
  intervals", JASA 82:171–185): ``z0 = Φ⁻¹((#{θ* < θ̂} + #{θ* ≤ θ̂}) / 2B)``, levels
  ``α_{1,2} = Φ(z0 + (z0 + z_{α/2, 1−α/2}) / (1 − a(z0 + z_{α/2, 1−α/2})))``, as
  ``scipy.stats.bootstrap(method="BCa")``.
- **Acceleration** ``a``: the two-sample delete-one jackknife formula used by
  ``scipy.stats.bootstrap`` (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*,
  §14.3, eq. 15.36): ``U_ji = (n_j − 1)(θ̄_(j·) − θ_(ji))`` for unit ``i`` of arm ``j``,
  ``a = Σ_j Σ_i U_ji³/n_j³ / (6 (Σ_j Σ_i U_ji²/n_j²)^{3/2})``. It is computed **exactly, in
  closed form, not by a grouped jackknife**: deleting one unit from an arm changes its mean by
  ``(x̄ − y_i)/(n − 1)`` (the empirical influence function of the mean, scaled), and changes a
  quantile in only three ways (the deleted unit lies below, at, or above the interpolation
  pair), so the ``n`` jackknife values take at most ``m`` (mean) or 3 (quantile) distinct
  values with known multiplicities. O(m) time for a million units. When no single deletion
  moves the statistic (a median inside a big tie group) the formula is 0/0: we take
  ``a = 0``, the bias-corrected interval, where scipy returns NaN. The delete-one jackknife is
  a rough estimator for non-smooth statistics like quantiles (Efron & Tibshirani 1993,
  ch. 11); we use it anyway, as scipy does, so that BCa agrees with the reference.
- **p-value** (two-sided): the p-value that inverts the chosen interval — the smallest ``α``
  at which the two-sided ``1 − α`` interval excludes 0 (the achieved significance level read
  off the interval family; Efron & Tibshirani 1993, §15.4). With the tail fractions
  ``ψ_lo = (1 + #{θ* ≤ 0}) / (B + 1)`` and ``ψ_hi = (1 + #{θ* ≥ 0}) / (B + 1)`` (the
  "+1" Monte Carlo convention of Davison & Hinkley 1997, *Bootstrap Methods and their
  Application*, p. 158, and North, Curtis & Sham 2002, Am. J. Hum. Genet. 71:439–441, so a
  p-value is never exactly 0): percentile ``p = min(1, 2·min(ψ_lo, ψ_hi))``; BCa maps each
  tail fraction back through the BCa level transformation,
  ``β_lo = Φ((w − z0)/(1 + a(w − z0)) − z0)`` with ``w = Φ⁻¹(ψ_lo)`` (and the mirror image for
  the upper tail), ``p = min(1, 2·min(β_lo, β_hi))``. So ``p < α`` exactly when the interval
  excludes 0, up to the Monte Carlo resolution ``1/(B + 1)``. Ties at 0 (common for medians of
  zero-inflated data) count in both tails, which makes the test conservative there.
- **Reproducibility**: ``np.random.SeedSequence(seed)`` is split into one stream per arm
  (``spawn(2)``: control first), each fed to ``np.random.default_rng``. Same data, seed and
  options → byte-identical ``effects``. ``seed=None`` draws fresh entropy; the entropy used is
  kept in ``BootstrapResult.seed`` so any run can be repeated.
- **Winsorized sensitivity** (:func:`winsorize_sensitivity`): the Welch test
  (:func:`liftlab.stats.frequentist.welch_test`) with no cap and with values capped from above
  at pooled quantiles of both arms together (linear interpolation), ``min(y, cap)`` — the
  array twin of the engine-side ``cap: {quantile: q}`` in :mod:`liftlab.aggregate`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from liftlab.startup import lazy_module
from liftlab.stats.frequentist import Effect, welch_test
from liftlab.stats.moments import Moments

special = lazy_module("scipy.special")  # loaded on first use

Statistic = Literal["mean", "median"] | tuple[str, float]
METHODS = ("percentile", "bca")
SCHEMES = ("poisson", "multinomial")
EFFECTS = ("absolute", "relative")
HISTOGRAM_BINS = 40

# Elements (resamples × distinct values) per block of work: the memory/time knob. 2¹⁸
# float64 uniforms are 2 MiB, so a block's uniforms, frequencies and mask stay in cache.
_CHUNK_ELEMENTS = 1 << 18
# Run the two arms in two threads above this much work (resamples × distinct values).
_PARALLEL_ELEMENTS = 1 << 20
# Values seen at most this often get Poisson(c) frequencies by inversion (comparison passes
# against the CDF); more frequent values by rng.poisson (PTRS), which is cheaper there.
_INVERSION_MAX_COUNT = 12


@dataclass(frozen=True, slots=True)
class Histogram:
    """Counts of the bootstrap effects in equal-width bins, for charts."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    """A bootstrap comparison of one statistic between two arms.

    ``effects`` holds the bootstrap effects (read-only; invalid resamples dropped) and is left
    out of equality and ``repr``. ``bias_correction`` (``z0``) and ``acceleration`` (``a``)
    are set for BCa only. ``note`` explains anything that could not be computed.
    """

    statistic: str
    effect_type: str
    method: str
    scheme: str
    control_estimate: float
    treatment_estimate: float
    effect: float
    ci: tuple[float, float]
    p_value: float
    se: float
    alpha: float
    n_control: int
    n_treatment: int
    n_resamples: int
    n_invalid: int
    seed: int
    bias_correction: float | None
    acceleration: float | None
    histogram: Histogram
    effects: np.ndarray = field(compare=False, repr=False)
    note: str | None = None

    # results.json: the estimates, interval and histogram, not the draws themselves.
    json_fields: ClassVar = (
        "statistic",
        "method",
        "scheme",
        "control_estimate",
        "treatment_estimate",
        "effect",
        "ci",
        "p_value",
        "se",
        "n_resamples",
        "seed",
        "histogram",
        "note",
    )


@dataclass(frozen=True, slots=True)
class CapRow:
    """One row of :func:`winsorize_sensitivity`: the Welch comparison under one cap."""

    label: str
    quantile: float | None
    cap: float | None
    n_capped_control: int
    n_capped_treatment: int
    control_mean: float
    treatment_mean: float
    effect: float
    ci: tuple[float, float]
    p_value: float
    rel_effect: float
    rel_ci: tuple[float, float] | None
    method: str


# ----- the statistic ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Stat:
    kind: Literal["mean", "quantile"]
    q: float = 0.5

    @property
    def label(self) -> str:
        if self.kind == "mean":
            return "mean"
        return "median" if self.q == 0.5 else f"quantile({self.q:g})"


def _parse_statistic(statistic: Statistic) -> _Stat:
    if statistic == "mean":
        return _Stat("mean")
    if statistic == "median":
        return _Stat("quantile", 0.5)
    if (
        isinstance(statistic, tuple)
        and len(statistic) == 2
        and statistic[0] == "quantile"
        and isinstance(statistic[1], int | float)
        and 0.0 <= float(statistic[1]) <= 1.0
    ):
        return _Stat("quantile", float(statistic[1]))
    raise ValueError(
        f"statistic must be 'mean', 'median' or ('quantile', q) with 0 ≤ q ≤ 1, not {statistic!r}"
    )


@dataclass(frozen=True, slots=True)
class _Arm:
    """An arm compressed to its sorted distinct values and their counts."""

    values: np.ndarray
    counts: np.ndarray
    n: int


def _compress(y: np.ndarray, name: str) -> _Arm:
    y = np.asarray(y, dtype=float)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of unit values, not shape {y.shape}")
    if y.size < 2:
        raise ValueError(f"{name} has {y.size} units; the bootstrap needs at least 2 per arm")
    if not np.isfinite(y).all():
        bad = int(np.size(y) - np.isfinite(y).sum())
        raise ValueError(f"{name} holds {bad} NaN or infinite values; clean them first")
    values, counts = np.unique(y, return_counts=True)
    return _Arm(values, counts.astype(np.int64), int(y.size))


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Linear interpolation exactly as numpy's quantile does it (``b − d(1 − t)`` for t ≥ ½)."""
    d = b - a
    return np.where(t >= 0.5, b - d * (1 - t), a + d * t)


def _weighted_statistic(
    values: np.ndarray, w: np.ndarray, stat: _Stat, *, wide: bool = False
) -> np.ndarray:
    """The statistic of each row of frequencies ``w`` (k × m) over the sorted support.

    NaN where a row has no units. ``wide``: accumulate frequencies in int64 (arms over 2³⁰
    units), else int32.
    """
    k = w.shape[0]
    out = np.full(k, np.nan)
    if stat.kind == "mean":
        total = w.sum(axis=1).astype(np.float64)
        np.divide(np.einsum("ij,j->i", w, values), total, out=out, where=total > 0)
        return out
    cum = np.cumsum(w, axis=1, dtype=np.int64 if wide else np.int32)
    total = cum[:, -1].astype(np.float64)
    ok = total > 0
    h = np.where(ok, (total - 1) * stat.q, 0.0)
    lo = np.floor(h)
    frac = h - lo
    lo_i = lo.astype(np.int64)
    hi_i = np.minimum(lo_i + 1, np.maximum(total.astype(np.int64) - 1, 0))
    j_lo = np.empty(k, dtype=np.int64)
    j_hi = np.empty(k, dtype=np.int64)
    for r in range(k):  # one binary search per resample row: k ≤ a few thousand
        j_lo[r], j_hi[r] = np.searchsorted(cum[r], (lo_i[r], hi_i[r]), side="right")
    m = values.size
    a = values[np.minimum(j_lo, m - 1)]
    b = values[np.minimum(j_hi, m - 1)]
    res = _lerp(a, b, frac)
    out[ok] = res[ok]
    return out


def _estimate(arm: _Arm, stat: _Stat) -> float:
    return float(_weighted_statistic(arm.values, arm.counts[None, :], stat, wide=_wide(arm))[0])


def _wide(arm: _Arm) -> bool:
    return arm.n > 2**30


# ----- frequencies ------------------------------------------------------------------------


@functools.cache
def _poisson_table(c: int) -> tuple[np.ndarray, int]:
    """CDF of Poisson(c) up to where it rounds to 1 (tail < 1.2e-16), and the number of
    comparison passes after which fewer than 2% of draws are left for the table look-up."""
    ks = np.arange(int(c + 12 * math.sqrt(c) + 30))
    cdf = special.pdtr(ks, c)
    cdf = cdf[: int(np.searchsorted(cdf, 1 - 1e-17)) + 1]
    passes = int(np.searchsorted(cdf, 0.98)) + 1
    return cdf, passes


@dataclass(frozen=True, slots=True)
class _Plan:
    """Column order that groups the support by count (the frequencies' own order).

    ``perm`` sorts the distinct values by count (stable); ``inv`` undoes it. In that order
    the values seen ``c ≤ _INVERSION_MAX_COUNT`` times form contiguous ``groups``
    ``(start, stop, c)``, and the rest form the tail ``[big, m)``.
    """

    perm: np.ndarray
    inv: np.ndarray
    counts: np.ndarray
    groups: tuple[tuple[int, int, int], ...]
    big: int
    passes: np.ndarray  # comparison passes per column (uint8), for the inversion columns

    @classmethod
    def of(cls, counts: np.ndarray) -> _Plan:
        perm = np.argsort(counts, kind="stable")
        sorted_counts = counts[perm]
        big = int(np.searchsorted(sorted_counts, _INVERSION_MAX_COUNT, side="right"))
        levels, starts = np.unique(sorted_counts[:big], return_index=True)
        stops = [*starts[1:].tolist(), big] if big else []
        groups = tuple(
            (int(a), int(b), int(c)) for a, b, c in zip(starts, stops, levels, strict=True)
        )
        passes = np.zeros(big, dtype=np.uint8)
        for a, b, c in groups:
            passes[a:b] = _poisson_table(c)[1]
        return cls(perm, np.argsort(perm), sorted_counts, groups, big, passes)


class _Buffers:
    """Work arrays for one arm (``_CHUNK_ELEMENTS`` each), reused across blocks and chunks."""

    def __init__(self, size: int) -> None:
        self.u = np.empty(size)
        self.w = np.empty(size, dtype=np.uint8)
        self.tmp = np.empty(size, dtype=bool)

    def views(self, k: int, width: int) -> tuple[np.ndarray, ...]:
        """C-contiguous (k × width) views of the uniforms, frequencies and mask."""
        size = k * width
        return tuple(a[:size].reshape(k, width) for a in (self.u, self.w, self.tmp))


def _poisson_pieces(
    plan: _Plan, k: int, rng: np.random.Generator, buf: _Buffers
) -> Iterator[tuple[int, np.ndarray]]:
    """Poisson(c_j) frequencies of k resamples as column blocks ``(first column, k × width)``
    in ``plan.perm`` order, each block small enough to stay in cache.

    Inversion (exact up to float64 rounding of the CDF) for the count groups, rng.poisson for
    the rest. A yielded inversion block lives in ``buf``: use it before the next one.
    """
    m = plan.counts.size
    width = max(1, buf.u.size // k)
    for a in range(0, plan.big, width):
        b = min(plan.big, a + width)
        u, w, tmp = buf.views(k, b - a)
        rng.random(out=u)
        for ga, gb, c in plan.groups:
            lo, hi = max(ga, a) - a, min(gb, b) - a
            if lo >= hi:
                continue
            cdf, passes = _poisson_table(c)
            ug, wg, tg = u[:, lo:hi], w[:, lo:hi], tmp[:, lo:hi]
            np.greater_equal(ug, cdf[0], out=tg)
            wg[...] = tg
            for level in range(1, passes):
                np.greater_equal(ug, cdf[level], out=tg)
                wg += tg
        # draws that reached their group's last pass (W ≥ passes): binary search in the table
        np.equal(w, plan.passes[a:b], out=tmp)
        tail = np.flatnonzero(tmp)
        if tail.size:
            counts = plan.counts[a + tail % (b - a)]
            for c in np.unique(counts).tolist():
                sel = tail[counts == c]
                w.ravel()[sel] = np.searchsorted(_poisson_table(c)[0], u.ravel()[sel], "right")
        yield a, w
    if plan.big < m:
        yield plan.big, rng.poisson(plan.counts[plan.big :], size=(k, m - plan.big))


def _poisson_frequencies(
    plan: _Plan,
    k: int,
    rng: np.random.Generator,
    dtype: type = np.int64,
    buf: _Buffers | None = None,
) -> np.ndarray:
    """A (k × m) array of Poisson(c_j) frequencies, columns in ``plan.perm`` order."""
    buf = buf if buf is not None else _Buffers(k * plan.counts.size)
    out: np.ndarray = np.empty((k, plan.counts.size), dtype=dtype)
    for a, piece in _poisson_pieces(plan, k, rng, buf):
        out[:, a : a + piece.shape[1]] = piece
    return out


def _poisson_means(
    plan: _Plan, values: np.ndarray, k: int, rng: np.random.Generator, buf: _Buffers
) -> np.ndarray:
    """Means of k Poisson resamples, block by block (``values`` in ``plan.perm`` order)."""
    sums = np.zeros(k)
    totals = np.zeros(k)
    for a, piece in _poisson_pieces(plan, k, rng, buf):
        # einsum, not BLAS: OpenBLAS worker threads spin between calls and starve the other arm
        sums += np.einsum("ij,j->i", piece, values[a : a + piece.shape[1]])
        totals += piece.sum(axis=1)
    out = np.full(k, np.nan)
    np.divide(sums, totals, out=out, where=totals > 0)
    return out


def _multinomial_frequencies(
    plan: _Plan, n: int, k: int, rng: np.random.Generator, buf: _Buffers | None = None
) -> np.ndarray:
    """A (k × m) int64 array of Multinomial(n, c_j/n) class totals (``plan.perm`` order).

    Poisson then correct: independent Poisson(c_j) totals, given their sum ``t``, are
    Multinomial(t, c_j/n). A row with ``t < n`` gets ``n − t`` more independent draws from
    the arm; a row with ``t > n`` loses ``t − n`` of its ``t`` draws chosen uniformly without
    replacement (a random subset of an i.i.d. sample is i.i.d.). Either way the row is exactly
    Multinomial(n, c_j/n), at the cost of the Poisson draws plus O(√n) corrections per row,
    vectorised over the rows (``rng.multinomial`` takes one binomial draw per distinct value
    and is several times slower).
    """
    m = plan.counts.size
    w = _poisson_frequencies(plan, k, rng, np.int64, buf)
    totals = w.sum(axis=1)
    rows = np.arange(k)
    # rows short of n: add n − t draws from the arm's units (class by cumulative counts)
    short = np.repeat(rows, np.clip(n - totals, 0, None))
    if short.size:
        units = rng.integers(0, n, size=short.size)
        np.add.at(w, (short, np.searchsorted(np.cumsum(plan.counts), units, side="right")), 1)
    # rows over n: drop t − n distinct draws, positions uniform without replacement
    excess = np.clip(totals - n, 0, None)
    if excess.any():
        span = int(totals.max()) + 1
        keys = np.empty(0, dtype=np.int64)
        need = excess
        while need.any():  # draw, de-duplicate, top up: a uniform subset by symmetry
            r = np.repeat(rows, need)
            keys = np.sort(np.concatenate([keys, r * span + rng.integers(0, totals[r])]))
            keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
            need = excess - np.bincount(keys // span, minlength=k)
        flat_cum = np.cumsum(w.ravel())
        row_start = np.concatenate([[0], flat_cum[m - 1 :: m][:-1]])
        r, pos = keys // span, keys % span
        np.subtract.at(w.ravel(), np.searchsorted(flat_cum, row_start[r] + pos, side="right"), 1)
    return w


def _resample_arm(
    arm: _Arm, stat: _Stat, scheme: str, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """The statistic of ``n_resamples`` bootstrap resamples of one arm, in chunks of rows."""
    m = arm.values.size
    chunk = max(1, min(n_resamples, _CHUNK_ELEMENTS // m))
    out = np.empty(n_resamples)
    plan = _Plan.of(arm.counts)
    values = arm.values[plan.perm]  # the frequencies' column order; a mean ignores order
    buf = _Buffers(_CHUNK_ELEMENTS)
    wide = _wide(arm)
    for start in range(0, n_resamples, chunk):
        k = min(chunk, n_resamples - start)
        if scheme == "poisson" and stat.kind == "mean":
            out[start : start + k] = _poisson_means(plan, values, k, rng, buf)
            continue
        if scheme == "poisson":
            w = _poisson_frequencies(plan, k, rng, np.int64 if wide else np.int32, buf)
        else:
            w = _multinomial_frequencies(plan, arm.n, k, rng, buf)
        if stat.kind == "mean":
            out[start : start + k] = _weighted_statistic(values, w, stat)
        else:  # quantiles need the support in value order
            w = np.take(w, plan.inv, axis=1)
            out[start : start + k] = _weighted_statistic(arm.values, w, stat, wide=wide)
    return out


# ----- jackknife acceleration -------------------------------------------------------------


def _arm_deletions(arm: _Arm, stat: _Stat, estimate: float) -> tuple[np.ndarray, np.ndarray]:
    """Change of the arm statistic when one unit is deleted: (distinct changes, multiplicity)."""
    n = arm.n
    if stat.kind == "mean":
        return (estimate - arm.values) / (n - 1), arm.counts
    # quantile of the n − 1 remaining values: h = (n − 2)q, interpolation pair (lo, b)
    h = (n - 2) * stat.q
    lo = math.floor(h)
    frac = np.asarray(h - lo)
    b = min(lo + 1, n - 2)
    cum = np.cumsum(arm.counts)

    def x(i: int) -> float:  # i-th order statistic (0-based) of the full arm
        return float(arm.values[np.searchsorted(cum, i, side="right")])

    if h >= n - 2:  # the maximum of the remaining values, as numpy takes it
        cand = [(x(n - 1), n - 1), (x(n - 2), 1)]
    else:
        cand = [
            (float(_lerp(np.asarray(x(lo + 1)), np.asarray(x(b + 1)), frac)), lo + 1),
            (float(_lerp(np.asarray(x(lo)), np.asarray(x(b + 1)), frac)), b - lo),
            (float(_lerp(np.asarray(x(lo)), np.asarray(x(b)), frac)), n - 1 - b),
        ]
    vals = np.asarray([v for v, c in cand if c > 0], dtype=float)
    mult = np.asarray([c for _, c in cand if c > 0], dtype=np.int64)
    return vals - estimate, mult


def _acceleration(
    arms: tuple[_Arm, _Arm], stat: _Stat, est: tuple[float, float], effect: str
) -> float:
    """BCa acceleration from the exact two-sample delete-one jackknife (module docstring)."""
    s_c, s_t = est
    num = 0.0
    den = 0.0
    for j, arm in enumerate(arms):
        d, mult = _arm_deletions(arm, stat, est[j])
        # change of the effect θ when one unit of arm j is deleted
        if effect == "absolute":
            delta = d if j == 1 else -d
        elif j == 1:
            delta = d / s_c
        else:
            new_c = s_c + d
            if np.any(new_c == 0):
                return math.nan
            delta = -s_t * d / (s_c * new_c)
        n = float(arm.n)
        u = (n - 1) * (float(np.dot(mult, delta)) / n - delta)
        num += float(np.dot(mult, u**3)) / n**3
        den += float(np.dot(mult, u**2)) / n**2
    if not den > 0:
        return 0.0
    return num / (6.0 * den**1.5)


# ----- intervals and p-values ------------------------------------------------------------


def _bca_levels(z0: float, a: float, alpha: float) -> tuple[float, float]:
    z = float(special.ndtri(alpha / 2))
    levels = []
    for zq in (z, -z):
        num = z0 + zq
        levels.append(float(special.ndtr(z0 + num / (1 - a * num))))
    return levels[0], levels[1]


def _bca_tail_level(psi: float, z0: float, a: float) -> float:
    """Nominal one-sided level at which a BCa bound sits at the ``psi`` bootstrap quantile."""
    if psi <= 0.0:
        return 0.0
    if psi >= 1.0:
        return 1.0
    w = float(special.ndtri(psi))
    denom = 1 + a * (w - z0)
    if not denom > 0:  # beyond the range the BCa map can reach
        return 0.0 if a > 0 else 1.0
    return float(special.ndtr((w - z0) / denom - z0))


def _p_value(effects: np.ndarray, method: str, z0: float, a: float) -> float:
    b = effects.size
    psi_lo = (1 + int(np.count_nonzero(effects <= 0))) / (b + 1)
    psi_hi = (1 + int(np.count_nonzero(effects >= 0))) / (b + 1)
    if method == "bca":
        lo = _bca_tail_level(min(psi_lo, 1.0), z0, a)
        # the upper bound sits at the (1 − ψ_hi) quantile; its nominal upper-tail level:
        hi = 1.0 - _bca_tail_level(max(1.0 - psi_hi, 0.0), z0, a)
        return float(min(1.0, 2 * min(lo, hi)))
    return float(min(1.0, 2 * min(psi_lo, psi_hi)))


@dataclass(frozen=True, slots=True)
class _Interval:
    """A bootstrap interval and its p-value (NaN, with the reason in ``note``, when
    undefined), with the BCa bias correction ``z0`` and acceleration ``a`` when computed."""

    ci: tuple[float, float] = (math.nan, math.nan)
    p_value: float = math.nan
    bias_correction: float | None = None
    acceleration: float | None = None
    note: str | None = None


def _bca_interval(
    effects: np.ndarray,
    theta: float,
    alpha: float,
    arms: tuple[_Arm, _Arm],
    stat: _Stat,
    est: tuple[float, float],
    effect: str,
) -> _Interval:
    """The BCa interval and p-value (Efron 1987; module docstring) of at least two valid
    bootstrap ``effects`` around the estimate ``theta``."""
    below = np.count_nonzero(effects < theta) + np.count_nonzero(effects <= theta)
    z0 = float(special.ndtri(below / (2 * effects.size)))
    accel = _acceleration(arms, stat, est, effect)
    if not (math.isfinite(z0) and math.isfinite(accel)):
        return _Interval(
            bias_correction=z0,
            acceleration=accel,
            note="BCa interval undefined: the estimate lies outside the bootstrap distribution "
            "or the jackknife failed; use method='percentile'",
        )
    a1, a2 = _bca_levels(z0, accel, alpha)
    if not (math.isfinite(a1) and math.isfinite(a2)):
        return _Interval(
            bias_correction=z0,
            acceleration=accel,
            note="BCa levels undefined (extreme acceleration)",
        )
    lo, hi = np.quantile(effects, (a1, a2))
    return _Interval((float(lo), float(hi)), _p_value(effects, "bca", z0, accel), z0, accel)


def _histogram(effects: np.ndarray) -> Histogram:
    if effects.size == 0:
        return Histogram((), ())
    try:
        counts, edges = np.histogram(effects, bins=HISTOGRAM_BINS)
    except ValueError:  # a range too narrow for distinct float64 bin edges: one bin
        lo, hi = float(effects.min()), float(effects.max())
        return Histogram((lo, hi), (int(effects.size),))
    return Histogram(tuple(float(e) for e in edges), tuple(int(c) for c in counts))


def _effect(s_t: np.ndarray, s_c: np.ndarray, effect: str) -> np.ndarray:
    if effect == "absolute":
        return s_t - s_c
    out = np.full(np.shape(s_t), np.nan)
    ok = (s_c != 0) & np.isfinite(s_c) & np.isfinite(s_t)
    np.divide(s_t, s_c, out=out, where=ok)
    return out - 1


# ----- public API -------------------------------------------------------------------------


def bootstrap_compare(
    control: np.ndarray,
    treatment: np.ndarray,
    *,
    statistic: Statistic = "mean",
    n_resamples: int = 2000,
    alpha: float = 0.05,
    method: Literal["percentile", "bca"] = "percentile",
    scheme: Literal["poisson", "multinomial"] = "poisson",
    seed: int | None = 0,
    effect: Literal["absolute", "relative"] = "absolute",
) -> BootstrapResult:
    """Bootstrap the difference (or relative difference) of a statistic between two arms.

    Args:
        control, treatment: unit-level values of one metric, one array per arm.
        statistic: ``"mean"``, ``"median"`` or ``("quantile", q)``.
        n_resamples: bootstrap resamples ``B``.
        alpha: two-sided level; the interval has coverage ``1 − alpha``.
        method: ``"percentile"`` or ``"bca"`` (Efron 1987).
        scheme: ``"poisson"`` frequencies (Hanley & MacGibbon 2006) or ``"multinomial"``.
        seed: seed of ``np.random.SeedSequence``; ``None`` for fresh entropy.
        effect: ``"absolute"`` (``t − c``) or ``"relative"`` (``t/c − 1``).

    Conventions, p-value and cost: see the module docstring.

    >>> rng = np.random.default_rng(1)
    >>> c, t = rng.exponential(1.0, 500), rng.exponential(1.3, 500)
    >>> r = bootstrap_compare(c, t, seed=7)
    >>> r.ci[0] < r.effect < r.ci[1], 0 < r.p_value <= 1
    (True, True)
    """
    stat = _parse_statistic(statistic)
    _check_options(method, scheme, effect, n_resamples, alpha)
    arms = (_compress(control, "control"), _compress(treatment, "treatment"))
    n_resamples = int(n_resamples)
    seq = np.random.SeedSequence(seed)
    s_c, s_t = _resample_arms(arms, stat, scheme, n_resamples, seq)

    est_c, est_t = _estimate(arms[0], stat), _estimate(arms[1], stat)
    theta = float(_effect(np.asarray(est_t), np.asarray(est_c), effect))
    all_effects = _effect(s_t, s_c, effect)
    valid = np.isfinite(all_effects)
    effects = np.ascontiguousarray(all_effects[valid])
    effects.setflags(write=False)
    n_invalid = int(n_resamples - effects.size)

    notes: list[str] = []
    if n_invalid:
        notes.append(
            f"{n_invalid} of {n_resamples} resamples had an undefined effect "
            "(an empty arm, or a zero control statistic for a relative effect) and were dropped"
        )
    se = float(np.std(effects, ddof=1)) if effects.size > 1 else math.nan
    if not math.isfinite(theta):
        interval = _Interval(note="the effect is undefined: the control statistic is 0")
    elif effects.size < 2:
        interval = _Interval(note="fewer than 2 valid resamples")
    elif method == "percentile":
        lo, hi = np.quantile(effects, (alpha / 2, 1 - alpha / 2))
        interval = _Interval((float(lo), float(hi)), _p_value(effects, method, 0.0, 0.0))
    else:
        interval = _bca_interval(effects, theta, alpha, arms, stat, (est_c, est_t), effect)
    if interval.note:
        notes.append(interval.note)

    return BootstrapResult(
        statistic=stat.label,
        effect_type=effect,
        method=method,
        scheme=scheme,
        control_estimate=est_c,
        treatment_estimate=est_t,
        effect=theta,
        ci=interval.ci,
        p_value=interval.p_value,
        se=se,
        alpha=alpha,
        n_control=arms[0].n,
        n_treatment=arms[1].n,
        n_resamples=n_resamples,
        n_invalid=n_invalid,
        seed=int(seq.entropy),  # type: ignore[arg-type]
        bias_correction=interval.bias_correction,
        acceleration=interval.acceleration,
        histogram=_histogram(effects),
        effects=effects,
        note="; ".join(notes) or None,
    )


def _check_options(method: str, scheme: str, effect: str, n_resamples: int, alpha: float) -> None:
    """Raise ValueError naming the first option of :func:`bootstrap_compare` out of range."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, not {scheme!r}")
    if effect not in EFFECTS:
        raise ValueError(f"effect must be one of {EFFECTS}, not {effect!r}")
    if not (isinstance(n_resamples, int | np.integer) and n_resamples >= 1):
        raise ValueError(f"n_resamples must be a positive integer, not {n_resamples!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha!r}")


def _resample_arms(
    arms: tuple[_Arm, _Arm],
    stat: _Stat,
    scheme: str,
    n_resamples: int,
    seq: np.random.SeedSequence,
) -> tuple[np.ndarray, np.ndarray]:
    """The resampled statistics of control and treatment, each arm from its own stream of
    ``seq`` (``spawn(2)``, control first); in two threads above ``_PARALLEL_ELEMENTS`` of
    work."""
    rng_c, rng_t = (np.random.default_rng(s) for s in seq.spawn(2))
    work = n_resamples * (arms[0].values.size + arms[1].values.size)
    jobs = ((arms[0], rng_c), (arms[1], rng_t))
    if work >= _PARALLEL_ELEMENTS:
        with ThreadPoolExecutor(max_workers=2) as pool:
            s_c, s_t = pool.map(
                lambda j: _resample_arm(j[0], stat, scheme, n_resamples, j[1]), jobs
            )
    else:
        s_c, s_t = (_resample_arm(a, stat, scheme, n_resamples, r) for a, r in jobs)
    return s_c, s_t


def _cap_label(q: float | None) -> str:
    return "none" if q is None else f"p{q * 100:g}"


def winsorize_sensitivity(
    control: np.ndarray,
    treatment: np.ndarray,
    caps: Sequence[float | None] = (None, 0.99, 0.999),
    *,
    test: Callable[..., Effect] = welch_test,
    alpha: float = 0.05,
) -> list[CapRow]:
    """The comparison with no cap and with values capped at pooled quantiles (a table).

    For each ``q`` in ``caps`` (``None`` = no cap) the cap is ``np.quantile`` of both arms
    together (linear interpolation, as DuckDB's ``quantile_cont`` in
    :mod:`liftlab.aggregate`), values become ``min(y, cap)`` (upper tail only, like the
    engine), and ``test(Moments(control), Moments(treatment), alpha=alpha)`` runs on them.

    Args:
        control, treatment: unit-level values, one array per arm.
        caps: pooled quantile levels in (0, 1], or ``None`` for the uncapped row.
        test: a comparison on :class:`~liftlab.stats.moments.Moments`; Welch by default.
        alpha: two-sided level of the intervals.
    """
    c = np.asarray(control, dtype=float)
    t = np.asarray(treatment, dtype=float)
    for name, y in (("control", c), ("treatment", t)):
        if y.ndim != 1 or y.size < 2:
            raise ValueError(f"{name} must be a 1-D array of at least 2 unit values")
        if not np.isfinite(y).all():
            raise ValueError(f"{name} holds NaN or infinite values; clean them first")
    pooled = np.concatenate([c, t])
    rows: list[CapRow] = []
    for q in caps:
        if q is None:
            cap = None
            cc, tt = c, t
        else:
            if not 0 < q <= 1:
                raise ValueError(f"caps must be quantile levels in (0, 1] or None, not {q!r}")
            cap = float(np.quantile(pooled, q))
            cc, tt = np.minimum(c, cap), np.minimum(t, cap)
        eff = test(Moments.from_arrays(cc), Moments.from_arrays(tt), alpha=alpha)
        rows.append(
            CapRow(
                label=_cap_label(q),
                quantile=q,
                cap=cap,
                n_capped_control=0 if cap is None else int(np.count_nonzero(c > cap)),
                n_capped_treatment=0 if cap is None else int(np.count_nonzero(t > cap)),
                control_mean=eff.control_mean,
                treatment_mean=eff.treatment_mean,
                effect=eff.abs_effect,
                ci=eff.abs_ci,
                p_value=eff.p_value,
                rel_effect=eff.rel_effect,
                rel_ci=eff.rel_ci,
                method=eff.method,
            )
        )
    return rows


__all__ = [
    "BootstrapResult",
    "CapRow",
    "Histogram",
    "bootstrap_compare",
    "winsorize_sensitivity",
]
