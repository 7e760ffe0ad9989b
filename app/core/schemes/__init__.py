"""Initialization schemes: one registry of canonical names, aliases and framework variants.

``base`` (rows, parameters, engines), ``engines``/``variance``/``defaults`` (the law-building
functions), ``canonical``/``frameworks`` (the tables, one literal row per scheme),
``registry`` (names and aliases to rows), ``table`` (the README's table).
"""

from .base import Engine, Param, ParamKind, ResolvedScheme, Scheme, TensorContext
from .frameworks import LAYOUT_DEFAULT
from .registry import ALIASES, SCHEMES, all_names, get_scheme, resolve_scheme

__all__ = [
    "ALIASES",
    "LAYOUT_DEFAULT",
    "SCHEMES",
    "Engine",
    "Param",
    "ParamKind",
    "ResolvedScheme",
    "Scheme",
    "TensorContext",
    "all_names",
    "get_scheme",
    "resolve_scheme",
]
