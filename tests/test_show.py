"""``liftlab.charts.show``: a report's charts drawn two at a time, without re-validation,
and displayed exactly as ``IPython.display.display`` displays them.

The reference is IPython's own ``display`` of the same items (which validates each chart's
spec and draws it with the active renderer): the captured outputs must be equal, in order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import altair as alt
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import display
from IPython.utils.capture import capture_output

from liftlab import charts, present, views
from liftlab.report import load_results


def _outputs(show: Any, items: list[Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    InteractiveShell.instance()
    with capture_output(stdout=False, stderr=False, display=True) as captured:
        show(*items)
    return [(out.data, out.metadata) for out in captured.outputs]


@pytest.mark.parametrize("plan", ["landing-headline", "creative-tournament"])
def test_show_displays_what_display_displays(project: Path, plan: str, monkeypatch) -> None:
    """Every item of the metric and kind sections (Markdown, tables and charts): the same
    mimebundles in the same order as ``display``, under the report's renderer."""
    monkeypatch.chdir(project)
    results = load_results(project / "experiments" / f"{plan}.yaml")
    listing = present.listed_arms(results)
    items = [
        charts.srm_chart(results.srm, listing),
        *present.metrics_section(results),
        *views.section_views(results),
    ]
    assert sum(isinstance(i, alt.TopLevelMixin) for i in items) >= 3
    charts.use_notebook_renderer()
    try:
        got, want = _outputs(charts.show, items), _outputs(display, items)
    finally:
        alt.renderers.enable("default")
    assert len(got) == len(want) == len(items)
    assert got == want
    assert any("image/svg+xml" in data for data, _ in got)


def test_show_skips_the_schema_check(monkeypatch) -> None:
    """The spec is taken with ``validate=False``: a chart Altair would refuse on display is
    still drawn (the test suite, not each report, checks liftlab's chart specs)."""
    seen: list[Any] = []
    original = alt.Chart.to_dict

    def spy(self: alt.Chart, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("validate", True))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(alt.Chart, "to_dict", spy)
    chart = alt.Chart(alt.Data(values=[{"a": 1}])).mark_point().encode(x="a:Q")
    charts.use_static_renderer()
    try:
        out = _outputs(charts.show, [chart, "text"])
    finally:
        alt.renderers.enable("default")
    assert seen == [False]
    assert "image/svg+xml" in out[0][0] and out[1][0]["text/plain"] == "'text'"
