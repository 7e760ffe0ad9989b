"""A schemathesis run over every operation of the app, in process (ASGI).

Bounded and derandomized, so it never flakes: ``FUZZ_EXAMPLES`` fuzzed examples per operation
(25 by default; ``make fuzz`` asks for 500) plus schemathesis' schema examples, and with
``FUZZ_COVERAGE=1`` (``make fuzz``) its coverage cases: every boundary and missing or extra
field the schema defines, which for the layer union's framework arguments is ~20 minutes of
case generation on 2 cores, too long for ``make test``.

Checks: no server error; responses conform to the schema (documented status code, content
type and headers, body valid against the response schema); requests the schema calls invalid
are rejected with a 4xx (``negative_data_rejection``; a 413 naming its limit counts, as
limits are checked first); requests the schema calls valid are accepted
(``positive_data_acceptance``), except for the rules no JSON Schema can state, excused by
name in :data:`SEMANTIC_RULES` (the README's "What the schema cannot say" lists them).
``FUZZ_ALL_CHECKS=1`` (``make fuzz``) runs every check schemathesis has, as ``--checks all``
does.
"""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any

import httpx
import hypothesis
import schemathesis
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    RejectedPositiveData,
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
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
if os.environ.get("FUZZ_COVERAGE") != "1":  # make fuzz only: see the module's docstring
    schema.config.phases.update(phases=["examples", "fuzzing"])


async def _get(path: str, params: Any, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=APP)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, params=params, headers=headers)


EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
ALL_CHECKS = os.environ.get("FUZZ_ALL_CHECKS") == "1"

# Rules of a schema-valid body that only the core can judge: (name, status, field, message).
# A refusal of a schema-valid request is excused when every error in it matches one of these.
# A field that names a scheme: scheme, bias_scheme, role_schemes.<role>, per layer or not.
SCHEME_FIELD = r".*scheme(s\.[a-z_]+)?"
# A layer's own field or framework argument, and its initializer arguments (Keras' *_initializer,
# Flax's *_init), per layer or not.
# (digits too: in1_features, force_fp32_for_softmax)
LAYER_FIELD = r"(layers\[\d+\]\.)?layer\.[a-z0-9_]+"
INITIALIZER_FIELD = LAYER_FIELD + r"_init(ializer)?(\..*)?"
# What the core says of a layer's framework arguments (app.core.layer_values).
FRAMEWORK_RULES = "|".join(
    (
        "is an argument of",  # another layout's framework name
        "both give the layer's",  # two names of one field
        "weightinit builds",  # a value weightinit does not build (reset_after=false...)
        "asks for .* parameters",  # a dtype other than the request's
        "Unknown dtype",
        "dtype name",
        "fixed values",  # running statistics' initializers
        "both or neither",  # a batch norm's scale and shift
        "shift but no scale",
        "one scheme per tensor",  # Keras LSTM's unit_forget_bias with a random bias
        "one scheme per role",  # Flax attention's out_bias_init other than bias_init's
        "both give the slopes'",  # PReLU's init and an initializer of its slope
        "needs '",  # a field required under one of its names
    )
)
SEMANTIC_RULES: list[tuple[str, int, str, str]] = [
    ("a limit: elements, layers, bytes or cost", 413, r".*", r".*"),
    # fans on a shape without them, a rank (dirac: 3..5), two dims (orthogonal, eye)...
    ("what a scheme needs of the tensor", 422, SCHEME_FIELD, r"^Scheme '[^']+' needs"),
    (
        "fan_in/fan_out on a tensor with no fans of its own",
        422,
        r"(tensors\[.*\]\.)?fan_(in|out)",
        r"no fans",
    ),
    ("in_axes/out_axes/batch_axes given together", 422, r".*_axes", r"in_axes"),
    ("axes within the tensor's rank", 422, r".*_axes", r"outside a rank|rank >= 1"),
    ("padding_idx within -num_embeddings..num_embeddings-1", 422, r".*padding_idx", r"within"),
    ("a shard index below its count", 422, r"shard(\.index)?", r"out of range|INDEX in 0"),
    # a slice's start:stop entries and a shard's dim against the returned tensor's rank (the
    # schema states a slice's grammar)
    (
        "a shard dim within the tensor's rank",
        422,
        r"shard(\.dim.*)?",
        r"out of range for a tensor|0-d tensor cannot be sharded",
    ),
    ("a slice of no more dimensions than the tensor", 422, r"slice", r"dimensions but the"),
    # The bodies state these two; the GET shortcut's query cannot (OpenAPI does not relate
    # parameters to each other).
    ("numpy-legacy's 32-bit seed (GET query)", 422, r"seed", r"with algorithm numpy-legacy"),
    ("jax-threefry's seeds and float32 (GET query)", 422, r"seed|dtype", r"jax-threefry"),
    ("torch-cpu's torch layout (GET query)", 422, r"layout", r"reproduces torch modules"),
    ("slice or shard, not both (GET query)", 422, r"shard", r"not both"),
    ("a shard plan's patterns each match a tensor", 422, r"shard\.dims", r"matches no tensor"),
    ("layer names unique in a model", 422, r"layers\[\d+\]\.name", r"used twice"),
    ("groups dividing the channels", 422, r".*groups", r"must divide"),
    # the layout is the request's, the kind and its arguments the layer's (app/core/kinds.py)
    ("a layer kind or argument the layout's framework lacks", 422, r".*layer\.\w+", r"use layout"),
    ("heads dividing the features", 422, r".*(num_heads|nhead|key_dim|qkv_features)", r"divide"),
    ("an LSTM's proj_size below its hidden_size", 422, r".*proj_size", r"smaller than"),
    ("a layer with no tensors (norm without affine)", 422, r".*layer", r"has no tensors"),
    ("the `tensor` query names a tensor of the body's layer", 422, r"tensor", r"Unknown tensor"),
    # JSON Schema tools compare integers as doubles (2**64-1+384 "is" 2**64-1 to them), and a
    # decimal string's pattern cannot bound its value.
    ("seed above 2**64-1", 422, r"seed", r"^seed must be an integer .*; got \"?\d{20}\"?\.$"),
    # Each scheme's parameters are in the schema (names, types, ranges, choices, required
    # ones, which choices go together); relations between its numbers are not, nor what
    # floating point cannot hold (which depends on the fans and the dtype).
    ("a scheme's bounds in order (low < high)", 422, SCHEME_FIELD + r"\.\w+", r"must be less than"),
    (
        "a truncation interval near enough to the mean",
        422,
        SCHEME_FIELD + r"(\.\w+)?",
        r"standard deviations from the mean",
    ),
    (
        "a scheme's numbers within floating point",
        422,
        SCHEME_FIELD + r"(\.\w+)?",
        r"rounds it to zero|narrower than float64 can resolve|square overflows"
        r"|beyond float64's range",
    ),
    ("values within the dtype's range", 422, r"dtype", r"beyond \w+'s largest finite value"),
    # Architectures: a config's fields and values, and the classes, are the family's.
    ("a class of the named architecture", 422, r"class", r"Unknown class|belong to 'architecture'"),
    ("an architecture's config fields and values", 422, r"config(\..*)?", r".*"),
    (
        "the manifest needs safetensors or JSON (a query option)",
        422,
        r"manifest",
        r"no place for it",
    ),
    (
        "an architecture's torch layout and algorithms",
        422,
        r"layout|algorithm",
        r"An architecture|transformers or torchvision",
    ),
    ("a recipe's own parameters and what it needs of the model", 422, r"recipe(\..+)?", r".*"),
    ("a recipe's rules per role (role_schemes names the rest)", 422, r".*", r"[Rr]ecipe '"),
    # /v1/audit's statistics: numel is the product of shape; a non-empty tensor has them all.
    (
        "an audited tensor's numel and statistics agree with its shape",
        422,
        r"tensors\[.*\]\.\w+",
        r"not the product of its shape|give its mean, std, min, max",
    ),
    # The framework-exact algorithms reproduce their framework's own calls only.
    (
        "a scheme the framework-exact algorithm has no call for",
        422,
        r"algorithm",
        r"or use algorithm 'blocks-v1'|Under algorithm 'jax-threefry'",
    ),
    (
        "jax-threefry's truncation bounds",
        422,
        SCHEME_FIELD + r"(\.\w+)?",
        r"jax-threefry reproduces jax.random.truncated_normal",
    ),
    ("a layer's framework arguments, read per layout", 422, LAYER_FIELD, FRAMEWORK_RULES),
    # POST /v1/diagnostics: a chain feeds each layer's output to the next, which only the shapes
    # the layers' fields imply can tell; and the combinations of its options.
    (
        "a diagnostics chain's layers follow each other",
        422,
        r"layers\[\d+\](\..*)?|input_shape",
        r"does not follow|chain|kernel is larger|self-attention|first layer|normalises over"
        r"|per spatial axis|input_shape|activation|[Pp]arameter|slope|alpha",
    ),
    (
        "the coordinate check varies an mlp's hidden width under one scheme",
        422,
        r"widths|mlp\.sizes|compare|steps|optimizer|learning_rate",
        r"coordinate check|'compare'",
    ),
    ("one activation per mlp layer", 422, r"mlp\.activation(_param)?", r".*"),
    # Initializer arguments name schemes in the framework's vocabulary, with their parameters.
    ("an initializer argument's name and parameters", 422, INITIALIZER_FIELD, r".*"),
    ("npy of a layer with several tensors names one", 422, r"tensor", r"a \.npy file holds"),
    # Shape maps (tensors): what the names, ranks and the rest of the map say.
    ("a shape map's role that names cannot decide", 422, r"tensors\[.*\]", r"Cannot tell the role"),
    (
        "a shape map's tensor without the fans its scheme needs",
        422,
        r"tensors\[.*\]",
        r"has no fans",
    ),
    ("a shape map's recurrent tensor without its sizes", 422, r"tensors\[.*\]", r"recurrent layer"),
    (
        "a running statistic or counter takes no scheme",
        422,
        r"tensors\[.*\]\.scheme",
        r"fixed value",
    ),
]


def semantic_rule(status: int, problem: Any) -> str | None:
    """The name of the rule a refusal is about, when every error in it is one of ours."""
    if not isinstance(problem, dict):
        return None
    errors = problem.get("errors") or [
        {"field": problem.get("field") or "", "message": problem.get("detail") or ""}
    ]
    names = set()
    for error in errors:
        field, message = str(error.get("field", "")), str(error.get("message", ""))
        field = field.removeprefix("request.")  # /v1/audit's request: a models or weights body
        name = next(
            (
                name
                for name, code, where, what in SEMANTIC_RULES
                if code == status and re.fullmatch(where, field) and re.search(what, message)
            ),
            None,
        )
        if name is None:
            return None
        names.add(name)
    return ", ".join(sorted(names))


def problem_of(response: Any, case: Any) -> Any:
    """The problem+json of a refusal; a HEAD's (no body) from the same request as a GET."""
    if case.method.upper() == "HEAD":
        response = asyncio.run(_get(case.formatted_path, case.query, case.headers or {}))
    try:
        return response.json()
    except ValueError:
        return None


@schemathesis.check
def schema_valid_bodies_are_accepted(ctx: Any, response: Any, case: Any) -> bool | None:
    """positive_data_acceptance, with the refusals of SEMANTIC_RULES excused."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if semantic_rule(response.status_code, problem_of(response, case)) is None:
            raise
        return None


@schemathesis.check
def schema_invalid_bodies_are_refused(ctx: Any, response: Any, case: Any) -> bool | None:
    """negative_data_rejection, where a 413 naming its limit is the refusal it is: limits are
    checked before the parts they bound are read (a model over WEIGHTINIT_MAX_LAYERS is
    refused before its layers' schemes are resolved, however invalid)."""
    if response.status_code == 413:
        try:
            problem = response.json()
        except ValueError:
            problem = None
        if isinstance(problem, dict) and str(problem.get("limit", "")).startswith("WEIGHTINIT_"):
            return None
    return negative_data_rejection(ctx, response, case)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    schema_invalid_bodies_are_refused,
    schema_valid_bodies_are_accepted,
]


def test_the_run_covers_every_operation() -> None:
    ids = {
        operation.ok().definition.raw.get("operationId")
        for operation in schema.get_all_operations()
    }
    assert ids == OPERATION_IDS


def test_only_the_named_semantic_rules_are_excused() -> None:
    fans = {"errors": [{"field": "scheme", "message": "Scheme 'he_normal' needs fans, and..."}]}
    assert semantic_rule(422, fans) == "what a scheme needs of the tensor"
    one_of = {"errors": [{"field": "layers", "message": "Give exactly one of 'layers'..."}]}
    assert semantic_rule(422, one_of) is None
    mixed = {"errors": [fans["errors"][0], {"field": "seed", "message": "Expected a string"}]}
    assert semantic_rule(422, mixed) is None
    assert semantic_rule(400, fans) is None


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_conforms_to_the_schema(case: Any) -> None:
    if ALL_CHECKS:
        case.call_and_validate(
            excluded_checks=[positive_data_acceptance, negative_data_rejection],
            additional_checks=[schema_valid_bodies_are_accepted, schema_invalid_bodies_are_refused],
        )
    else:
        case.call_and_validate(checks=CHECKS)
