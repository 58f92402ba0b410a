"""The registry of the kinds' views (:mod:`liftlab.views`): every kind's section type has a
views module, and a section is drawn by the module registered for its type."""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass
from typing import Any

import pytest
from IPython.display import HTML

from liftlab import kinds, views
from liftlab.kinds.pricing import PricingSection


def _section_type(kind: str) -> type:
    """The section type a kind's ``analyze`` returns, read from its return annotation."""
    module = importlib.import_module(f"liftlab.kinds.{kinds.MODULES[kind]}")
    annotation = inspect.signature(module.analyze).return_annotation
    name = re.match(r"\w+", str(annotation))
    assert name is not None, annotation
    found: type = getattr(module, name.group(0))
    return found


@pytest.mark.parametrize("kind", sorted(kinds.MODULES))
def test_every_kinds_section_type_has_a_views_module(kind: str) -> None:
    section = _section_type(kind)
    key = f"{section.__module__}.{section.__qualname__}"
    assert key in views.VIEWS, f"{kind}: no views registered for {key}"
    drawn = importlib.import_module(views.VIEWS[key])
    assert callable(drawn.views)
    assert list(inspect.signature(drawn.views).parameters) == ["section", "results"]


def test_every_registered_type_and_module_exists() -> None:
    for key, module in views.VIEWS.items():
        owner, name = key.rsplit(".", 1)
        assert hasattr(importlib.import_module(owner), name), key
        assert module.startswith("liftlab.views.")
        assert hasattr(importlib.import_module(module), "views"), module


def test_a_section_is_drawn_by_the_module_of_its_type_or_of_a_base_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[Any, Any]] = []
    fake = type("FakeViews", (), {"views": staticmethod(lambda s, r: calls.append((s, r)) or [s])})
    real_import = importlib.import_module

    def import_module(name: str) -> Any:
        return fake if name == "liftlab.views.pricing" else real_import(name)

    monkeypatch.setattr(importlib, "import_module", import_module)

    class Subsection(PricingSection):
        pass

    sub = object.__new__(Subsection)
    assert views.views_of(sub, "results") == [sub]  # type: ignore[arg-type]
    assert calls == [(sub, "results")]


def test_a_section_without_views_says_how_to_add_them() -> None:
    @dataclass(frozen=True)
    class NewSection:
        value: float

    with pytest.raises(
        TypeError, match=r"no views for a NewSection: add a module to liftlab\.views"
    ):
        views.views_of(NewSection(1.0), None)  # type: ignore[arg-type]


def test_an_unavailable_section_is_a_warning_box_with_its_reason() -> None:
    [box] = views.views_of(kinds.Unavailable("landing_page", "no funnel <counts>"), None)  # type: ignore[arg-type]
    assert isinstance(box, HTML)
    assert box.data.startswith(views.KIND_ANCHOR)
    assert "Landing page analysis unavailable:" in box.data
    assert "no funnel &lt;counts&gt;" in box.data  # the reason is escaped


def test_unbroken_keeps_numbers_whole_and_lets_an_interval_wrap_before_its_bracket() -> None:
    assert views.unbroken("+0.82 pp [+0.13 pp, +1.51 pp]") == (
        "+0.82\u00a0pp [+0.13\u00a0pp,\u00a0+1.51\u00a0pp]"
    )
    assert views.unbroken("< 0.001") == "<\u00a00.001"
