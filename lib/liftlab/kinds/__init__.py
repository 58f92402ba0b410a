"""The analyses behind each kind of test, beyond "variant B lifted metric X".

A plan's ``kind`` adds one section to the results, named after the kind, built from the
same sufficient statistics as the metrics (plus, for creative fatigue, one grouped query of
event counts by exposure day):

- ``pricing`` (:mod:`liftlab.kinds.pricing`): conversion, order value, revenue and profit per
  visitor per price; the demand curve, elasticities and the revenue-optimal price.
- ``creative`` (:mod:`liftlab.kinds.creative`): CTR and conversion per creative against
  control, probability best, lifts shrunk against the winner's curse, next period's budget
  by Thompson sampling, and fatigue.
- ``landing_page`` (:mod:`liftlab.kinds.landing`): the funnel step by step, segments with a
  Simpson's-paradox check, novelty (early against late cohorts) and repeat purchase.

:data:`MODULES` maps a kind to its analysis module, which has
``analyze(plan, stats, results, src) -> section`` (a result dataclass with ``to_dict()``) and
may have ``caveats(section, results) -> list[str]`` (sentences for the verdict). These
modules query through the data layer and call into :mod:`liftlab.stats`; they draw nothing
(no Altair, no IPython, no Markdown): the report's views of each section type live in
:mod:`liftlab.views`. A section that cannot be computed does not stop the report: it is
replaced by an :class:`Unavailable` that says why.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from liftlab.aggregate import UnitStats
    from liftlab.analysis import Results
    from liftlab.plan import Plan
    from liftlab.sources import UnitSource

MODULES = {"pricing": "pricing", "creative": "creative", "landing_page": "landing"}


@dataclass(frozen=True)
class Unavailable:
    """A kind's section that could not be computed, and why (one line)."""

    kind: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"status": "unavailable", "reason": self.reason}


def _module(kind: str) -> Any:
    return importlib.import_module(f"liftlab.kinds.{MODULES[kind]}")


def analyze_kind(
    plan: Plan, stats: UnitStats, results: Results, src: UnitSource | None = None
) -> dict[str, Any]:
    """``{kind: section}`` for the plan's kind ({} when the kind adds nothing)."""
    kind = plan.kind
    if kind not in MODULES:
        return {}
    try:
        section = _module(kind).analyze(plan, stats, results, src)
    except (ValueError, ArithmeticError, KeyError) as exc:  # a soft error, like a metric's
        return {kind: Unavailable(kind, str(exc).splitlines()[0] if str(exc) else repr(exc))}
    return {} if section is None else {kind: section}


def kind_caveats(results: Results) -> list[str]:
    """Sentences the kind adds to the verdict (a winner with a worse cost per acquisition);
    a kind module offers them with ``caveats(section, results) -> list[str]``."""
    out: list[str] = []
    for kind, section in results.sections.items():
        fn = getattr(_module(kind), "caveats", None)
        if fn is not None and not isinstance(section, Unavailable):
            out.extend(fn(section, results))
    return out
