"""Plain words for the statistical terms a report uses, and links to them.

Each entry says what the term means for the decision, in one or two sentences. A report
links a term where a reader meets it (:func:`term`) to the glossary at its end
(:func:`glossary_markdown`), which lists only the terms that report used.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

TERMS: dict[str, tuple[str, str]] = {
    # key: (the term as shown, what it means for the decision)
    "confidence-interval": (
        "confidence interval",
        "The range of effects the data are compatible with. If it excludes 0, the change is "
        "unlikely to be noise; its width says how precisely the effect is known.",
    ),
    "always-valid-interval": (
        "always-valid interval",
        "A confidence interval that stays valid however often the test is checked, so the "
        "team may look every day and stop as soon as it excludes 0. It is wider than a "
        "fixed-horizon interval: that is the price of peeking safely.",
    ),
    "repeated-confidence-interval": (
        "repeated confidence interval",
        "The interval of a group-sequential test at its planned looks; like an always-valid "
        "interval it allows stopping early at a planned look.",
    ),
    "credible-interval": (
        "credible interval",
        "In a Bayesian analysis, the range that holds the true effect with the stated "
        "probability, given the data and the prior.",
    ),
    "p-value": (
        "p-value",
        "How surprising the data would be if the change had no effect. Small (below α, "
        "usually 0.05) means the difference is unlikely to be chance.",
    ),
    "adjusted-p": (
        "adjusted p",
        "A p-value corrected for testing several primary comparisons at once, so that the "
        "chance of any false win stays at α. The decision uses it.",
    ),
    "always-valid-p": (
        "always-valid p",
        "A p-value that may be checked after every day of data without inflating false "
        "positives; the test stops when it falls below α.",
    ),
    "chance-to-beat-control": (
        "chance to beat control",
        "The probability, given the data and the prior, that the variant is better than "
        "control on this metric. The plan ships at or above its threshold (often 95%).",
    ),
    "expected-loss": (
        "expected loss",
        "How much the metric would drop, on average over what the data allow, if this arm "
        "were chosen and it is in fact worse. Small means a wrong choice costs little.",
    ),
    "probability-best": (
        "probability best",
        "The chance that an arm is the best of all arms, not just better than control.",
    ),
    "percentage-points": (
        "percentage points (pp)",
        "The difference between two percentages: 10.0% to 10.8% is +0.8 pp, an 8% relative lift.",
    ),
    "lift": (
        "lift",
        "The relative change of a variant against control: treatment ÷ control − 1.",
    ),
    "guardrail": (
        "guardrail",
        "A metric the change must not harm (bounce rate, refunds). A failed guardrail blocks "
        "shipping even when the primary metric wins.",
    ),
    "non-inferiority": (
        "non-inferiority margin",
        "The largest harm to a guardrail the team accepts. The guardrail passes when the data "
        "show the variant is no worse than that margin.",
    ),
    "srm": (
        "sample ratio mismatch",
        "Traffic split differently from the plan (say 52/48 instead of 50/50). It means "
        "assignment or logging is broken, and no effect can be trusted until it is fixed.",
    ),
    "mde": (
        "minimum detectable effect (MDE)",
        "The smallest effect the test is sized to detect with the planned power; a smaller "
        "true effect may go unnoticed.",
    ),
    "cuped": (
        "CUPED",
        "A variance reduction that uses each unit's behaviour before the test, making "
        "intervals narrower without changing what is estimated.",
    ),
    "fixed-horizon": (
        "fixed-horizon test",
        "A test meant to be read once, at the planned sample size. Checking it daily and "
        "stopping at the first significant day inflates false positives.",
    ),
    "cap": (
        "cap (winsorising)",
        "Values above a high percentile are set to that percentile, so a few extreme units "
        "(one huge order) cannot decide the test.",
    ),
    "bootstrap": (
        "bootstrap",
        "An interval obtained by resampling the units many times; it needs no assumption "
        "about the shape of the data.",
    ),
    "rank-test": (
        "rank test (Mann–Whitney)",
        "Asks whether a treatment unit tends to have a larger value than a control unit, "
        "rather than whether the mean moved.",
    ),
    "shrinkage": (
        "shrunk lift",
        "A lift pulled toward the average of all creatives, correcting the winner's curse: "
        "the best-looking arm of many usually looks better than it is.",
    ),
    "status": (
        "status",
        "better / worse: a clear change in the metric's good or bad direction by the plan's "
        "method; flat: no clear change; guardrail passed / failed; not enough data: the "
        "effect could not be computed.",
    ),
}
_ANCHOR = re.compile(r"[^a-z0-9-]")


def anchor(key: str) -> str:
    """The HTML id of a glossary entry."""
    return "glossary-" + _ANCHOR.sub("-", key)


def term(key: str, text: str | None = None) -> str:
    """``text`` (default: the term) linked to its glossary entry, as inline HTML."""
    shown = TERMS[key][0] if text is None else text
    return (
        f'<a class="liftlab-term" href="#{anchor(key)}" title="{html.escape(TERMS[key][1])}">'
        f"{html.escape(shown)}</a>"
    )


def glossary_markdown(keys: Iterable[str]) -> str:
    """The glossary section: the given terms (unknown keys skipped), alphabetically."""
    known = sorted({k for k in keys if k in TERMS}, key=lambda k: TERMS[k][0].lower())
    if not known:
        return ""
    lines = ["## Glossary", ""]
    for k in known:
        shown, meaning = TERMS[k]
        lines.append(f'- <a id="{anchor(k)}"></a>**{html.escape(shown)}**: {html.escape(meaning)}')
    return "\n".join(lines) + "\n"


INTERVAL_TERMS = {
    "confidence": "confidence-interval",
    "always-valid": "always-valid-interval",
    "repeated-confidence": "repeated-confidence-interval",
    "credible": "credible-interval",
}
PROBABILITY_TERMS = {
    "p_adjusted": "adjusted-p",
    "p_value": "p-value",
    "always_valid_p_adjusted": "always-valid-p",
    "always_valid_p": "always-valid-p",
    "chance_to_beat_control": "chance-to-beat-control",
}
