"""Process start-up: keep a slow, unused import out of every liftlab process.

Kept apart from :mod:`liftlab.report` so that ``import liftlab`` can call it without loading
anything heavy (the module imports only the standard library). :func:`lazy_names` lets a
package (``liftlab``, ``liftlab.stats``) name its public functions without importing them.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any

__all__ = ["defer_slow_imports", "lazy_module", "lazy_names"]


def defer_slow_imports() -> None:
    """Load ``rfc3987_syntax`` only when a JSON schema checks an ``iri`` format.

    jsonschema (which nbformat, papermill, nbconvert and Altair import) imports it when it is
    installed, and it compiles a Lark grammar as it loads: about 0.9 s in every process that
    touches a notebook or a chart, for a format that neither notebook nor Vega-Lite schemas
    use. A stand-in module takes its name and loads the real one on first use.
    """
    import importlib
    import importlib.util
    import types

    name = "rfc3987_syntax"
    if name in sys.modules or importlib.util.find_spec(name) is None:
        return
    stand_in = types.ModuleType(name)

    def real() -> Any:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
        return importlib.import_module(name)

    def is_valid_syntax(*args: Any, **kwargs: Any) -> Any:
        return real().is_valid_syntax(*args, **kwargs)

    def attribute(attr: str) -> Any:
        if attr.startswith("__"):  # the import system asking (__path__, …): not a package
            raise AttributeError(attr)
        return getattr(real(), attr)

    stand_in.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    stand_in.__getattr__ = attribute  # type: ignore[method-assign]
    sys.modules[name] = stand_in


def lazy_names(
    package: str, names: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` (PEP 562) for public ``names`` (name ->
    the module that defines it): each loads its module on first use and is then cached in the
    package, so importing the package loads none of them."""

    def getattr_(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def dir_() -> list[str]:
        return sorted([*vars(sys.modules[package]), *names])

    return getattr_, dir_


class _LazyModule(types.ModuleType):
    """A stand-in for module ``name`` that imports it on the first attribute asked for and
    keeps each attribute it hands out, so that later uses cost what a module's do."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_lazy_target"] = name

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # the import system or a debugger asking: not loaded
            raise AttributeError(attr)
        value = getattr(importlib.import_module(self._lazy_target), attr)
        setattr(self, attr, value)
        return value


def lazy_module(name: str) -> Any:
    """Module ``name``, imported when first used: ``sc = lazy_module("scipy.special")``
    instead of ``from scipy import special as sc``. The statistics modules take SciPy this
    way, so that reading results (a report's kernel, which only unpickles and draws them)
    does not load SciPy's special functions (0.15 s)."""
    return _LazyModule(name)
