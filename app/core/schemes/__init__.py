"""Initialization schemes: one registry of canonical names, aliases and framework variants."""

from .base import Param, ParamKind, ResolvedScheme, Scheme, TensorContext
from .frameworks import LAYOUT_DEFAULT
from .registry import ALIASES, SCHEMES, all_names, get_scheme, resolve_scheme

__all__ = [
    "ALIASES",
    "LAYOUT_DEFAULT",
    "SCHEMES",
    "Param",
    "ParamKind",
    "ResolvedScheme",
    "Scheme",
    "TensorContext",
    "all_names",
    "get_scheme",
    "resolve_scheme",
]
