"""What the report shows for a kind's section: its result dataclass → Markdown, tables, charts.

A plan's kind adds a section to the results (:mod:`liftlab.kinds`: the analysis, plain result
dataclasses, no drawing); this package turns each section into the objects the report
displays (IPython Markdown and HTML, pandas Stylers, Altair charts). :data:`VIEWS` maps a
section's type (by its qualified name, so the report side loads no analysis module, and no
engine, to look it up) to the module that draws it; each such module has
``views(section, results) -> list``.

Adding a view of a kind: write ``views/<kind>.py`` with ``views(section, results)`` and add one
line to :data:`VIEWS`; the analysis is not touched. A section the analysis could not compute
(:class:`~liftlab.kinds.Unavailable`) shows as a warning box that says why.

The notebook calls :func:`section_views` (every section of a :class:`~liftlab.analysis.Results`);
:func:`views_of` draws one section.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from liftlab.kinds import Unavailable
from liftlab.present import warning_box

if TYPE_CHECKING:
    from liftlab.analysis import Results

# The anchor the report's contents list links to; each kind's first view starts with it.
KIND_ANCHOR = '<a id="kind"></a>'

# A section's type (``module.QualifiedName``) → the module whose ``views(section, results)``
# draws it.
VIEWS: dict[str, str] = {
    "liftlab.kinds.pricing.PricingSection": "liftlab.views.pricing",
    "liftlab.kinds.creative.CreativeSection": "liftlab.views.creative",
    "liftlab.kinds.landing.LandingSection": "liftlab.views.landing",
}


def unbroken(text: str) -> str:
    """A table cell's number that does not wrap inside itself: every space becomes a
    no-break space except the one before an interval's bracket (``+0.82 pp`` and ``< 0.001``
    stay whole; ``+0.82 pp [+0.13 pp, +1.51 pp]`` may wrap only before its ``[``)."""
    return "\u00a0".join(text.split(" ")).replace("\u00a0[", " [")


def unavailable_html(title: str, reason: str) -> str:
    """The warning box shown in place of a section (or part) that could not be computed."""
    return warning_box("error", f"{title} unavailable", reason)


def views_of(section: Any, results: Results) -> list[Any]:
    """What the report shows for one section: its views module's ``views`` (by the section's
    type, or the nearest base type in :data:`VIEWS`), or the warning box of an
    :class:`~liftlab.kinds.Unavailable`. ``TypeError`` for a type with no views module."""
    if isinstance(section, Unavailable):
        from IPython.display import HTML

        title = f"{section.kind.replace('_', ' ').capitalize()} analysis"
        return [HTML(KIND_ANCHOR + unavailable_html(title, section.reason))]
    names = (f"{t.__module__}.{t.__qualname__}" for t in type(section).__mro__)
    module = next((VIEWS[name] for name in names if name in VIEWS), None)
    if module is None:
        raise TypeError(
            f"no views for a {type(section).__name__}: add a module to liftlab.views and a line "
            "to liftlab.views.VIEWS"
        )
    shown: list[Any] = importlib.import_module(module).views(section, results)
    return shown


def section_views(results: Results) -> list[Any]:
    """Everything the report shows for the kind's sections, as objects IPython displays."""
    return [view for section in results.sections.values() for view in views_of(section, results)]
