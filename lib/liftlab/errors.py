"""Errors that speak to the analyst.

Every user mistake (a bad plan, bad data, a bad command-line value) raises a
:class:`LiftlabError` whose message is one line naming the file, the field and the fix,
for example ``experiments/x.yaml: variants: weights sum to 0.9, they must sum to 1``.
The command line prints that line and exits with status 2; no traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LiftlabError(Exception):
    """A mistake in the user's input, reported as one line."""

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None):
        self.source = source
        self.field = field
        self.detail = message
        parts = [p for p in (source, field) if p]
        super().__init__(": ".join([*parts, message]))


class PlanError(LiftlabError):
    """The plan file is missing, unreadable or invalid."""


class DataError(LiftlabError):
    """The data does not match what the plan says it holds."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
