"""Every registered scheme has statistical cases in one of the test_statistics_* families.

Driven from the registry (``SCHEMES``): a new scheme fails here until a family module covers
it, and a scheme that leaves the registry fails here until its cases go too. Random schemes
must be covered by a sampled case, deterministic ones by an exact one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.core.schemes import ALIASES, SCHEMES

from . import (
    test_statistics_constant,
    test_statistics_defaults,
    test_statistics_delta_orthogonal,
    test_statistics_elementwise,
    test_statistics_frameworks,
    test_statistics_identity_dirac,
    test_statistics_orthogonal,
    test_statistics_sparse,
    test_statistics_truncated,
    test_statistics_variance,
)

ELEMENTWISE_CASES = [
    *test_statistics_elementwise.CASES,
    *test_statistics_variance.CASES,
    *test_statistics_frameworks.CASES,
    *test_statistics_defaults.CASES,
]


def _covered_random() -> set[str]:
    return (
        {c.scheme for c in ELEMENTWISE_CASES}
        | {c.scheme for c in test_statistics_truncated.TRUNC_CASES}
        | {c.scheme for c in test_statistics_orthogonal.ORTHO_CASES}
        | {c.scheme for c in test_statistics_defaults.ORTHO_CASES}
        | {c.scheme for c in test_statistics_delta_orthogonal.DELTA_CASES}
        | set(test_statistics_sparse.SPARSE_SCHEMES)
    )


def _covered_deterministic() -> set[str]:
    names = {name for name, _, _ in test_statistics_constant.CONSTANT_CASES}
    names |= {name for name, *_ in test_statistics_identity_dirac.IDENTITY_CASES}
    names |= set(test_statistics_identity_dirac.DIRAC_SCHEMES)
    return {ALIASES.get(n, n) for n in names}


def _registry(random: bool) -> Iterator[str]:
    return (name for name, scheme in SCHEMES.items() if scheme.random is random)


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_every_registered_scheme_has_statistical_cases(name: str) -> None:
    """Driven from SCHEMES: a new scheme fails here until a family module covers it."""
    covered = _covered_random() if SCHEMES[name].random else _covered_deterministic()
    assert name in covered, (
        f"scheme {name!r} has no case in tests/core/schemes/test_statistics_*.py"
    )


def test_covered_schemes_are_exactly_the_registry() -> None:
    """No stale names either: covered random/deterministic sets equal the registry's."""
    assert _covered_random() == set(_registry(True))
    assert _covered_deterministic() == set(_registry(False))


def test_elementwise_case_ids_are_unique_across_families() -> None:
    """Samples are cached by case id: two families must not share one for different draws."""
    ids = [c.id for c in ELEMENTWISE_CASES]
    assert len(ids) == len(set(ids))
