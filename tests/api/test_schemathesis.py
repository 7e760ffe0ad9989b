"""A schemathesis run over every operation of the app, in process (ASGI).

Bounded (25 fuzzed examples per operation, plus schemathesis' schema examples and coverage
cases) and derandomized, so it never flakes and stays fast. Checks: no server error, and
responses that conform to the schema (documented status code, documented content type,
documented headers, body valid against the response schema). Requests the schema calls
invalid must be rejected with a 4xx (``negative_data_rejection``).

Not checked, on purpose: ``positive_data_acceptance`` (a schema-valid body may still be a
422: the schema cannot express that orthogonal needs rank >= 2, that groups divide channels,
or the element limits, and the issue makes those 422/413 by design).
"""

from __future__ import annotations

from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.api.settings import Settings
from app.main import create_app

from .test_openapi import OPERATION_IDS

# Small limits keep every generated request cheap (fuzzed shapes are random): responses over a
# limit are documented 413s, which the checks validate like any other response.
APP = create_app(
    Settings(
        max_elements=1 << 16,
        max_json_elements=1 << 12,
        max_matrix_elements=1 << 12,
        max_layers=16,
        threads=2,
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def test_the_run_covers_every_operation() -> None:
    ids = {
        operation.ok().definition.raw.get("operationId")
        for operation in schema.get_all_operations()
    }
    assert ids == OPERATION_IDS


@schema.parametrize()
@hypothesis.settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_conforms_to_the_schema(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)
