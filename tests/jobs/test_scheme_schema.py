"""app/jobs/scheme_schema.py: the scheme object's JSON Schema says what the core accepts.

Checked against the core itself, for every scheme of the registry: a bare name is in the
schema exactly when the core takes it without parameters; every combination of choices is
schema-valid exactly when the core accepts it; each number's bounds hold at the boundary;
unknown and missing parameters are refused by both.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from app.core.errors import WeightInitError
from app.core.schemes import SCHEMES, ParamKind, Scheme, resolve_scheme
from app.jobs.requests import WeightsRequest, scheme_parts
from app.jobs.scheme_schema import names_alone, scheme_object_branches

OBJECT = Draft202012Validator({"anyOf": scheme_object_branches()})
NAMES = [name for scheme in SCHEMES.values() for name in (scheme.name, *scheme.aliases)]


def schema_valid(instance: dict[str, Any]) -> bool:
    return OBJECT.is_valid(instance)


def core_accepts(name: str, params: dict[str, Any]) -> bool:
    try:
        resolve_scheme(name, params)
    except WeightInitError:
        return False
    return True


def sample(scheme: Scheme) -> dict[str, Any]:
    """Values for the required parameters (within their bounds)."""
    values: dict[str, Any] = {}
    for p in scheme.params:
        if p.required:
            values[p.name] = p.choices[0] if p.choices else (p.minimum or 0.0) + 0.5
    return values


def _of(name: str) -> Scheme:
    return SCHEMES.get(name) or next(s for s in SCHEMES.values() if name in s.aliases)


@pytest.mark.parametrize("name", NAMES)
def test_a_bare_name_is_in_the_schema_exactly_when_the_core_takes_it_alone(name: str) -> None:
    assert (name in names_alone()) == core_accepts(name, {})
    assert schema_valid({"name": name, **sample(_of(name))})


@pytest.mark.parametrize("scheme", list(SCHEMES.values()), ids=list(SCHEMES))
def test_every_combination_of_choices_is_valid_exactly_when_the_core_accepts_it(
    scheme: Scheme,
) -> None:
    choices = [p for p in scheme.params if p.kind is ParamKind.CHOICE]
    base = sample(scheme)
    for combo in itertools.product(*(p.choices for p in choices)):
        params = {**base, **{p.name: v for p, v in zip(choices, combo, strict=True)}}
        instance = {"name": scheme.name, **params}
        assert schema_valid(instance) == core_accepts(scheme.name, params), instance


@pytest.mark.parametrize("scheme", list(SCHEMES.values()), ids=list(SCHEMES))
def test_numbers_bounds_unknown_and_missing_parameters_agree_with_the_core(
    scheme: Scheme,
) -> None:
    base = sample(scheme)
    cases: list[dict[str, Any]] = [{**base, "no_such_parameter": 1}]
    for p in scheme.params:
        if p.kind is ParamKind.CHOICE:
            cases.append({**base, p.name: "no_such_choice"})
            continue
        cases.append({**base, p.name: "1"})  # a string for a number
        if p.kind is ParamKind.INTEGER:
            cases.append({**base, p.name: 1.5})
        for bound in (p.minimum, p.maximum):
            if bound is not None:
                cases += [
                    {**base, p.name: bound},
                    {**base, p.name: bound - 1},
                    {**base, p.name: bound + 1},
                ]
        if p.required:
            cases.append({k: v for k, v in base.items() if k != p.name})
    for params in cases:
        instance = {"name": scheme.name, **params}
        assert schema_valid(instance) == core_accepts(scheme.name, params), instance


def test_an_integral_number_is_the_integer_a_parameter_needs() -> None:
    body = {"layer": {"kind": "tensor", "shape": [4, 4, 3]}, "seed": 1}
    request = WeightsRequest.model_validate({**body, "scheme": {"name": "dirac", "groups": 2.0}})
    scheme = request.scheme
    assert scheme is not None and scheme.model_extra == {"groups": 2.0}
    parts = scheme_parts(scheme)
    assert parts == ("dirac", {"groups": 2}) and isinstance(parts[1]["groups"], int)
    assert schema_valid({"name": "dirac", "groups": 2.0})


def test_branches_have_unique_titles_for_client_generators() -> None:
    titles = [branch["title"] for branch in scheme_object_branches()]
    assert len(titles) == len(set(titles))
    assert "he_uniform parameters, gain_rule torch" in titles
