"""The one registry: canonical names and aliases to schemes.

The API's scheme enum, ``GET /v1/schemes`` and the README table are all generated from
:data:`SCHEMES`. Adding a scheme means adding one literal row to a table
(``canonical.CANONICAL_SCHEMES`` or ``frameworks.FRAMEWORK_SCHEMES``) and its golden hashes.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import UnknownNameError
from .base import ResolvedScheme, Scheme
from .canonical import CANONICAL_SCHEMES
from .frameworks import FRAMEWORK_SCHEMES


def _build() -> tuple[dict[str, Scheme], dict[str, str]]:
    schemes: dict[str, Scheme] = {}
    aliases: dict[str, str] = {}
    for row in (*CANONICAL_SCHEMES, *FRAMEWORK_SCHEMES):
        for name in (row.name, *row.aliases):
            if name in schemes or name in aliases:
                raise RuntimeError(f"scheme name {name!r} registered twice")  # pragma: no cover
        schemes[row.name] = row
        for alias in row.aliases:
            aliases[alias] = row.name
    return schemes, aliases


SCHEMES, ALIASES = _build()


def all_names() -> list[str]:
    """Every accepted name: canonical names and aliases."""
    return sorted([*SCHEMES, *ALIASES])


def get_scheme(name: str, *, field: str = "scheme") -> Scheme:
    """The scheme called ``name`` (canonical or alias); names are case-sensitive."""
    if not isinstance(name, str):
        raise UnknownNameError("scheme", repr(name), all_names(), field=field)
    canonical = ALIASES.get(name, name)
    if canonical not in SCHEMES:
        raise UnknownNameError("scheme", name, all_names(), field=field)
    return SCHEMES[canonical]


def resolve_scheme(
    name: str, params: Mapping[str, object] | None = None, *, field: str = "scheme"
) -> ResolvedScheme:
    """Validate ``params`` against the scheme ``name`` and fill in every default."""
    return get_scheme(name, field=field).resolve(params, where=field)
