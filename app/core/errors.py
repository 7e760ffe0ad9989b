"""Typed errors the core raises on bad input.

Every error the core raises for a caller's mistake is a :class:`WeightInitError`
(a ``ValueError``), carries a sentence a person understands and, when known, the
dotted ``field`` path of the offending input, so the API layer can map it to a
4xx problem+json body without parsing messages.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class WeightInitError(ValueError):
    """Base class: the request cannot be served as given."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class InvalidParameterError(WeightInitError):
    """A parameter value is out of range, of the wrong type, or not finite."""


class ShapeError(WeightInitError):
    """A shape does not fit the scheme or layer (rank, divisibility, zero size...)."""


class UnknownNameError(WeightInitError):
    """A name (scheme, activation, layer kind, layout...) is not known.

    The message lists the valid names and suggests the nearest one.
    """

    def __init__(
        self,
        what: str,
        name: str,
        choices: Iterable[str],
        *,
        field: str | None = None,
        context: str = "",
        suggestion: str | None = None,
    ) -> None:
        self.what = what
        self.name = name
        self.choices = sorted(set(choices))
        # A caller that knows better (a framework's class name for a layer kind) suggests.
        self.suggestion = suggestion or nearest_name(name, self.choices)
        hint = f" Did you mean {self.suggestion!r}?" if self.suggestion else ""
        where = f" {context}" if context else ""
        valid = ", ".join(self.choices)
        message = f"Unknown {what} {name!r}{where}.{hint} Valid {_plural(what)}: {valid}."
        super().__init__(message, field=field)


class LimitExceededError(WeightInitError):
    """A request is larger than a configured limit (checked before allocating)."""

    def __init__(
        self,
        limit_name: str,
        limit: int,
        requested: int,
        *,
        unit: str = "elements",
        hint: str = "",
        field: str | None = None,
    ) -> None:
        self.limit_name = limit_name
        self.limit = limit
        self.requested = requested
        self.unit = unit
        message = f"The request needs {requested} {unit}, over the limit {limit_name}={limit}." + (
            f" {hint}" if hint else ""
        )
        super().__init__(message, field=field)


def nearest_name(name: str, choices: Iterable[str]) -> str | None:
    """The closest valid name by edit similarity, or None if nothing is close."""
    lowered = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def _plural(noun: str) -> str:
    """English plural of a vocabulary word: activity -> activities, scheme -> schemes,
    class -> classes."""
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "sh", "ch")):
        return noun + "es"
    return noun + "s"
