"""The headline of a comparison: the one effect, interval and probability its method decides by.

Every surface (the verdict, the scorecard, the metric table's headline columns, the portfolio
index, the command line and ``results.json``) shows a comparison through its
:class:`Headline` and nothing else; every other number a report shows is a named diagnostic.

Which numbers are the headline, by the plan's ``analysis.method``:

- ``frequentist``: the relative lift ``mean_t / mean_c − 1`` with its ``1 − α`` confidence
  interval (delta method on the log ratio, or Fieller by name), and the p-value the decision
  uses: adjusted for multiple testing (``p_adjusted``) for primary metrics, raw
  (``p_value``) for guardrail and secondary metrics. When the relative lift is undefined
  (control mean 0) the absolute difference and its interval stand in.
- ``sequential`` (mSPRT or asymptotic confidence sequence): the absolute difference with
  its always-valid interval (the confidence sequence at the last look, ``always-valid``),
  and the always-valid p-value, adjusted for primary metrics
  (``always_valid_p_adjusted``) or not (``always_valid_p``). Group-sequential plans: the
  repeated confidence interval at the last look (``repeated-confidence``); they decide by
  the boundary, so there is no probability (``boundary``).
- ``bayesian``: the posterior mean of the relative lift (or of the absolute difference when
  ``bayesian.effect: absolute``) with its equal-tailed credible interval (``credible``) and
  the chance to beat control (``chance_to_beat_control``).

The status (``STATUSES``) says what the comparison means for the decision:

- ``better`` / ``worse``: significant or decisive by the method, in the metric's good or bad
  direction; ``flat``: neither.
- Guardrails: ``guardrail_failed`` when significantly worse by the method, or when the
  interval lies wholly beyond the non-inferiority margin; ``guardrail_unproven`` when a margin
  is set and the one-sided non-inferiority test has not passed yet; else
  ``guardrail_passed``.
- ``not_enough_data``: the effect or its interval could not be computed.

The verdict's headline word (:func:`verdict_word`, :func:`verdict_text`) is the one every
surface prints for the decision's ``recommendation``: the report's verdict box and scorecard,
the portfolio index and the command line's table, markdown and CSV.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from liftlab import format as fmt

if TYPE_CHECKING:
    from liftlab.analysis import Comparison
    from liftlab.plan import Analysis, Metric

STATUSES = (
    "better",
    "worse",
    "flat",
    "guardrail_passed",
    "guardrail_failed",
    "guardrail_unproven",
    "not_enough_data",
)
STATUS_TEXT = {
    "better": "better",
    "worse": "worse",
    "flat": "flat",
    "guardrail_passed": "guardrail passed",
    "guardrail_failed": "guardrail failed",
    "guardrail_unproven": "guardrail not yet shown safe",
    "not_enough_data": "not enough data",
}
INTERVAL_TEXT = {
    "confidence": "confidence interval",
    "always-valid": "always-valid interval",
    "repeated-confidence": "repeated confidence interval",
    "credible": "credible interval",
}
PROBABILITY_TEXT = {
    "p_adjusted": "p (adjusted)",
    "p_value": "p",
    "always_valid_p_adjusted": "always-valid p (adjusted)",
    "always_valid_p": "always-valid p",
    "chance_to_beat_control": "chance to beat control",
    "boundary": "boundary",
}


@dataclass(frozen=True, slots=True)
class Headline:
    """The numbers a comparison is decided and reported by.

    Attributes:
        effect: the effect on ``effect_type``'s scale (a fraction for ``relative``, metric
            units for ``absolute``).
        effect_type: ``relative`` (``mean_t / mean_c − 1``) or ``absolute`` (``mean_t −
            mean_c``).
        interval: the effect's interval, ``(low, high)``; ``NaN`` where undefined.
        interval_kind: ``confidence``, ``always-valid``, ``repeated-confidence`` or
            ``credible``.
        level: the interval's coverage, ``1 − alpha``.
        probability: the p-value or chance the method decides by (``None`` for a
            group-sequential boundary).
        probability_kind: ``p_adjusted``, ``p_value``, ``always_valid_p_adjusted``,
            ``always_valid_p``, ``chance_to_beat_control`` or ``boundary``.
        status: one of :data:`STATUSES`.
        control_value, treatment_value: the arms' observed means (ratio metrics: Σ
            numerator / Σ denominator); raw, before any CUPED adjustment.
    """

    effect: float
    effect_type: str
    interval: tuple[float, float]
    interval_kind: str
    level: float
    probability: float | None
    probability_kind: str
    status: str
    control_value: float
    treatment_value: float

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["interval"] = list(self.interval)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Headline:
        """From ``results.json`` (``null`` numbers become ``NaN``)."""

        def num(x: Any) -> float:
            return math.nan if x is None else float(x)

        lo, hi = d.get("interval") or (None, None)
        prob = d.get("probability")
        return cls(
            effect=num(d.get("effect")),
            effect_type=str(d["effect_type"]),
            interval=(num(lo), num(hi)),
            interval_kind=str(d["interval_kind"]),
            level=float(d["level"]),
            probability=None if prob is None else float(prob),
            probability_kind=str(d["probability_kind"]),
            status=str(d["status"]),
            control_value=num(d.get("control_value")),
            treatment_value=num(d.get("treatment_value")),
        )

    # ---- text: every surface prints these -------------------------------------------------
    def effect_text(self, display: fmt.Display) -> str:
        """``+6.9% [+1.2%, +12.7%]`` or ``+0.67 pp [+0.12 pp, +1.22 pp]``."""
        return fmt.effect_text(display, self.effect, self.interval, self.effect_type)

    def probability_text(self) -> str:
        """The probability as printed on its own: ``0.009``, ``< 0.001``, ``97.3%``."""
        if self.probability_kind == "chance_to_beat_control":
            return fmt.probability(self.probability)
        if self.probability is None:
            return "crossed" if self.status in ("better", "worse") else "not crossed"
        return fmt.p_value(self.probability)

    @property
    def probability_label(self) -> str:
        return PROBABILITY_TEXT.get(self.probability_kind, self.probability_kind)

    @property
    def interval_label(self) -> str:
        """``95% always-valid interval``."""
        kind = INTERVAL_TEXT.get(self.interval_kind, self.interval_kind)
        return f"{self.level:.0%} {kind}"

    @property
    def status_text(self) -> str:
        return STATUS_TEXT.get(self.status, self.status)

    @property
    def decided(self) -> bool:
        return self.status in ("better", "worse", "guardrail_failed")


# ---- building a headline -------------------------------------------------------------------------
def headline_of(analysis: Analysis, metric: Metric, c: Comparison) -> Headline:
    """The headline of comparison ``c`` of ``metric`` under the plan's ``analysis``."""
    e = c.effect
    level = 1 - analysis.alpha
    effect_type, effect, interval, interval_kind = _effect(analysis, c)
    probability, probability_kind = _probability(analysis, metric, c)
    status = _status(metric, c, effect, interval)
    return Headline(
        effect=effect,
        effect_type=effect_type,
        interval=interval,
        interval_kind=interval_kind,
        level=level,
        probability=probability,
        probability_kind=probability_kind,
        status=status,
        control_value=e.control_mean,
        treatment_value=e.treatment_mean,
    )


def _effect(analysis: Analysis, c: Comparison) -> tuple[str, float, tuple[float, float], str]:
    e = c.effect
    if c.bayes is not None:
        b = c.bayes
        if b.effect_scale == "absolute":
            return "absolute", b.abs_effect, _pair(b.abs_ci), "credible"
        return "relative", b.rel_effect, _pair(b.rel_ci), "credible"
    if c.sequential is not None:
        kind = "repeated-confidence" if c.sequential.kind == "group-sequential" else "always-valid"
        return "absolute", e.abs_effect, _pair(c.sequential.ci), kind
    if e.rel_ci is not None and fmt.ok(e.rel_effect):
        return "relative", e.rel_effect, _pair(e.rel_ci), "confidence"
    return "absolute", e.abs_effect, _pair(e.abs_ci), "confidence"


def _probability(analysis: Analysis, metric: Metric, c: Comparison) -> tuple[float | None, str]:
    if c.bayes is not None:
        return _num(c.bayes.prob_beat_control), "chance_to_beat_control"
    primary = metric.role == "primary"
    if c.sequential is not None:
        if c.sequential.kind == "group-sequential":
            return None, "boundary"
        kind = "always_valid_p_adjusted" if primary else "always_valid_p"
        return _num(c.p_value_adjusted), kind
    return _num(c.p_value_adjusted), "p_adjusted" if primary else "p_value"


def _status(metric: Metric, c: Comparison, effect: float, interval: tuple[float, float]) -> str:
    if not (fmt.ok(effect) and fmt.ok(interval[0]) and fmt.ok(interval[1])):
        return "not_enough_data"
    if metric.role == "guardrail":
        return guardrail_status(c)
    if c.better:
        return "better"
    if c.worse:
        return "worse"
    return "flat"


def guardrail_status(c: Comparison) -> str:
    """``guardrail_failed``, ``guardrail_unproven`` or ``guardrail_passed`` (module docstring)."""
    if c.worse:
        return "guardrail_failed"
    ni = c.non_inferiority
    if ni is not None:
        lo, hi = c.effect.abs_ci
        beyond_margin = hi < ni.margin_abs if c.direction_sign > 0 else lo > ni.margin_abs
        if beyond_margin:
            return "guardrail_failed"
        clear = (ni.bound - ni.margin_abs) * c.direction_sign
        if not ni.passed or not clear > 0:
            return "guardrail_unproven"
    return "guardrail_passed"


def _pair(ci: Any) -> tuple[float, float]:
    if ci is None:
        return (math.nan, math.nan)
    lo, hi = ci
    return (_num(lo), _num(hi))


def _num(x: Any) -> float:
    return math.nan if x is None else float(x)


# ---- the verdict's headline word -----------------------------------------------------------------
VERDICT_WORDS = {
    "ship": "SHIP",
    "do_not_ship": "DO NOT SHIP",
    "keep_running": "KEEP RUNNING",
    "investigate": "INVESTIGATE",
}
OBSERVATIONAL_LEAD = "LEADS"


def verdict_word(recommendation: str, randomization: str | None = None) -> str:
    """The verdict's headline word: ``SHIP``, ``DO NOT SHIP``, ``KEEP RUNNING``,
    ``INVESTIGATE``, or ``LEADS`` for a winner of an observational comparison.

    ``recommendation`` is the decision's (``results.json`` ``decision.recommendation``, whose
    values never change); ``randomization`` the plan's (``results.json``
    ``srm.randomization``). Under ``randomization: none`` the platform's delivery chose who
    saw each arm (an ad-platform export): its audiences, placements and timing differ, and
    delivery optimisation steers impressions to the arms it predicts will do best, so the
    arm the rules would ship is one that *leads* the field on the primary metric, an
    association, not an effect shown to follow from shipping it. "SHIP" would claim that
    effect; "FAVOUR" would tell the reader to act on it; ``LEADS`` says only what was
    observed (the reason begins "Observed, not randomised:", and a caveat asks for a
    randomised test to confirm it). The other words stay: keeping the control (``DO NOT
    SHIP``) or gathering more data (``KEEP RUNNING``) claims no effect.
    """
    if recommendation == "ship" and randomization == "none":
        return OBSERVATIONAL_LEAD
    return VERDICT_WORDS.get(recommendation, recommendation.replace("_", " ").upper())


def verdict_text(
    recommendation: str, variant: str | None = None, randomization: str | None = None
) -> str:
    """The headline word with the arm it names when the verdict picks one: ``SHIP benefit``,
    ``LEADS Video 06``, ``KEEP RUNNING`` (:func:`verdict_word`)."""
    word = verdict_word(recommendation, randomization)
    return f"{word} {variant}" if variant and recommendation == "ship" else word
