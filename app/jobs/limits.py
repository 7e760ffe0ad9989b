"""Every limit of the service, read from ``WEIGHTINIT_*`` once, and the cost of a request.

Limits are checked before any array exists. Streamed formats (npy, npz, safetensors) hold
O(pieces in flight) memory whatever the size of the request, so for them the element limit
bounds time, not memory; what bounds time is the **cost**:

    cost = sum over generated tensors of (elements generated x the law's weight) + 65 536

in *cost units*, one unit being about the work of one float32 uniform value (about 3.4 ns of
one core, measured through the body path). Weights (rounded up): constant, counter, identity,
dirac and piecewise-constant laws 1; uniform 1; normal 2; truncated normal 3. Whole-matrix laws
(orthogonal, delta-orthogonal, sparse) cost ``rows x cols x min(rows, cols) / 4`` for their
Householder QR (O(n^3); a 2048 x 2048 orthogonal matrix takes about 6 s of one core) plus 2 per
element. "Elements generated" is what is actually produced: the 65 536-element blocks that
cover a slice or shard, or the whole matrix for whole-matrix laws. Every tensor adds one
block's worth (65 536, about 0.2 ms: planning, its header entry, its stream) for its
per-tensor overhead, so a model of thousands of tiny tensors (deep recurrent stacks) is not
free. JSON adds the text encoding: 40 units per number (8 for base64), about ten times the
sampling. The default ``WEIGHTINIT_MAX_REQUEST_COST`` (2**40) admits a 70-billion-element
model (7e10 normal values = 1.4e11 units, about 8 minutes of one core) with room to spare.

The cost also chooses the request's *lane* (:mod:`app.jobs.admission`): up to
``WEIGHTINIT_SMALL_REQUEST_COST`` (2**24 units, about 60 ms) a request is small and runs in
the small lane, which expensive requests never occupy.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from app.core.dtypes import finfo_max
from app.core.errors import InvalidParameterError, LimitExceededError
from app.core.laws import (
    ConstantLaw,
    DeltaOrthogonalLaw,
    DiracLaw,
    IdentityLaw,
    Law,
    NormalLaw,
    OrthogonalLaw,
    SegmentsLaw,
    SparseLaw,
    TruncatedNormalLaw,
    UniformLaw,
)
from app.core.plans import TensorPlan
from app.core.streams import BLOCK_SIZE
from app.core.types import DType

V = TypeVar("V")

log = logging.getLogger("weightinit")

TENSOR_OVERHEAD_COST = BLOCK_SIZE
QR_DIVISOR = 4  # rows x cols x min(rows, cols) / 4: the measured cost of our Householder QR
JSON_NUMBER_COST = 40  # per number written as JSON text (shortest round-trip repr)
JSON_BASE64_COST = 8  # per element written as base64 in JSON


class SettingsError(ValueError):
    """An environment variable holds an unusable value (the service refuses to start)."""


def _cgroup_cpus() -> int | None:
    """The CPU quota of this cgroup (v2 ``cpu.max``, v1 ``cfs_quota/period``), rounded up."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            return max(1, -(-int(quota) // int(period)))
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_v1 = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period_v1 = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return max(1, -(-quota_v1 // period_v1)) if quota_v1 > 0 else None
    except (OSError, ValueError):
        return None


def usable_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by the cgroup CPU quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        count = os.cpu_count() or 1
    quota = _cgroup_cpus()
    return max(1, min(count, quota) if quota else count)


def _int_env(name: str, default: int, minimum: int = 1, *, errors: list[str] | None = None) -> int:
    """``name`` as an integer >= ``minimum`` (``default`` when unset or empty).

    A bad value raises :class:`SettingsError`, or, with ``errors``, is recorded there (and
    ``default`` returned) so that every bad variable is reported at once.
    """
    raw = os.environ.get(name)
    what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = minimum - 1
    if value < minimum:
        message = f"{name} must be {what}, got {raw!r}"
        if errors is None:
            raise SettingsError(message)
        errors.append(message)
        return default
    return value


def _collected(read: Callable[[], V], default: V, errors: list[str]) -> V:
    """``read()``, or ``default`` with its :class:`SettingsError` recorded in ``errors`` (so
    that every bad variable is named at once, as :func:`_int_env` does)."""
    try:
        return read()
    except SettingsError as exc:
        errors.append(str(exc))
        return default


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise SettingsError(f"{name} must be a number >= 0, got {raw!r}")
    return value


def _list_env(name: str) -> tuple[str, ...]:
    """A comma-separated list; blanks around items and empty items are dropped."""
    return tuple(item.strip() for item in os.environ.get(name, "").split(",") if item.strip())


def _origins_from_env() -> tuple[str, ...]:
    origins = _list_env("WEIGHTINIT_CORS_ORIGINS")
    for origin in origins:
        scheme, _, host = origin.partition("://")
        if origin != "*" and (scheme not in ("http", "https") or not host or "/" in host):
            raise SettingsError(
                "WEIGHTINIT_CORS_ORIGINS must be comma-separated origins such as "
                "https://app.example.com (scheme, host, optional port; no path) or *, "
                f"got {origin!r}"
            )
    return origins


def _api_keys_from_env() -> tuple[str, ...]:
    """WEIGHTINIT_API_KEYS (comma-separated) plus WEIGHTINIT_API_KEYS_FILE (one key a line,
    ``#`` comments). Messages name the variable and line, never the key."""
    keys = [(key, "WEIGHTINIT_API_KEYS") for key in _list_env("WEIGHTINIT_API_KEYS")]
    path = os.environ.get("WEIGHTINIT_API_KEYS_FILE", "").strip()
    if path:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
            raise SettingsError(
                f"WEIGHTINIT_API_KEYS_FILE: cannot read {path!r}: {reason}"
            ) from None
        where = "WEIGHTINIT_API_KEYS_FILE line {}"
        keys += [
            (line.strip(), where.format(n))
            for n, line in enumerate(lines, 1)
            if line.strip() and not line.strip().startswith("#")
        ]
    for key, origin in keys:
        if not all(33 <= ord(c) <= 126 for c in key):
            raise SettingsError(
                f"{origin}: an API key must be printable ASCII without spaces (it travels in "
                "an HTTP header)"
            )
    return tuple(dict.fromkeys(key for key, _ in keys))


def _threads_from_env(default: int, errors: list[str] | None = None) -> int:
    if os.environ.get("WEIGHTINIT_THREADS", "").strip():
        return _int_env("WEIGHTINIT_THREADS", default, errors=errors)
    if os.environ.get("WEIGHTINIT_WORKERS", "").strip():
        message = "WEIGHTINIT_WORKERS is deprecated; set WEIGHTINIT_THREADS instead."
        warnings.warn(message, DeprecationWarning, stacklevel=2)
        log.warning(message)
        return _int_env("WEIGHTINIT_WORKERS", default, errors=errors)
    return default


@dataclass(frozen=True)
class Settings:
    """Limits (checked before any array exists), buffering and the generation pool.

    Each field is the environment variable ``WEIGHTINIT_<FIELD>`` (upper case); the README's
    "Limits" table lists them with their defaults.
    """

    max_elements: int = 1 << 40  # elements in one request (all tensors, before slicing)
    max_request_cost: int = 1 << 40  # cost units (module docstring)
    max_json_elements: int = 1 << 20  # elements in one JSON response
    max_matrix_elements: int = 1 << 22  # one whole-matrix (orthogonal, sparse) tensor
    max_body_bytes: int = 1 << 20  # request bodies
    max_layers: int = 1000  # layers of one request, each layer of a recurrent stack counted
    max_digest_blocks: int = 1 << 16  # block digests in one /digests response
    max_whole_elements: int = 1 << 28  # requests built whole in memory (numpy-legacy)
    max_torch_cpu_elements: int = 1 << 24  # torch-cpu requests (one sequential MT19937 stream)
    max_diagnostics_flops: int = 1 << 36  # POST /v1/diagnostics: forward + backward work
    max_diagnostics_bytes: int = 512 << 20  # POST /v1/diagnostics: activations and weights held
    buffer_bytes: int = 8 << 20  # bodies up to this size are built whole (and carry sha256)
    cache_bytes: int = 64 << 20  # small whole responses kept for identical requests (0: off)
    threads: int = usable_cpus()  # the generation pool
    header_timeout_s: int = 10  # the whole request head (slowloris), else 408 (app/server.py)
    body_timeout_s: int = 30  # the whole request body, else 408 (app/api/middleware.py)
    write_timeout_s: int = 60  # a stalled reader of a started response is cut (app/server.py)
    api_keys: tuple[str, ...] = field(default=(), repr=False)  # empty: no authentication
    rate_limit: float = 0.0  # requests per second per key (or client IP); 0: off
    rate_burst: int = 20  # token-bucket size: requests allowed at once
    cors_origins: tuple[str, ...] = ()  # browser origins allowed (CORS); empty: CORS off
    # Admission control (app.jobs.admission), per process:
    max_concurrent_jobs: int = 8  # jobs generating at once, both lanes (at least 2)
    max_queued_jobs: int = 64  # jobs waiting for a slot, per lane; more: 503 at once
    max_buffered_bytes: int = 1 << 30  # estimated bytes the admitted jobs hold in memory
    queue_timeout_s: int = 10  # longest wait for a slot before a 503 (0: never wait)
    small_request_cost: int = 1 << 24  # cost units up to which a request is "small"

    @classmethod
    def from_env(cls) -> Settings:
        """The settings from ``WEIGHTINIT_*``; every bad variable is named in one error."""
        d = cls()
        e: list[str] = []
        settings = cls(
            max_elements=_int_env("WEIGHTINIT_MAX_ELEMENTS", d.max_elements, errors=e),
            max_request_cost=_int_env("WEIGHTINIT_MAX_REQUEST_COST", d.max_request_cost, errors=e),
            max_json_elements=_int_env(
                "WEIGHTINIT_MAX_JSON_ELEMENTS", d.max_json_elements, errors=e
            ),
            max_matrix_elements=_int_env(
                "WEIGHTINIT_MAX_MATRIX_ELEMENTS", d.max_matrix_elements, errors=e
            ),
            max_body_bytes=_int_env("WEIGHTINIT_MAX_BODY_BYTES", d.max_body_bytes, errors=e),
            max_layers=_int_env("WEIGHTINIT_MAX_LAYERS", d.max_layers, errors=e),
            max_digest_blocks=_int_env(
                "WEIGHTINIT_MAX_DIGEST_BLOCKS", d.max_digest_blocks, errors=e
            ),
            max_whole_elements=_int_env(
                "WEIGHTINIT_MAX_WHOLE_ELEMENTS", d.max_whole_elements, errors=e
            ),
            max_torch_cpu_elements=_int_env(
                "WEIGHTINIT_MAX_TORCH_CPU_ELEMENTS", d.max_torch_cpu_elements, errors=e
            ),
            max_diagnostics_flops=_int_env(
                "WEIGHTINIT_MAX_DIAGNOSTICS_FLOPS", d.max_diagnostics_flops, errors=e
            ),
            max_diagnostics_bytes=_int_env(
                "WEIGHTINIT_MAX_DIAGNOSTICS_BYTES", d.max_diagnostics_bytes, errors=e
            ),
            buffer_bytes=_int_env("WEIGHTINIT_BUFFER_BYTES", d.buffer_bytes, errors=e),
            cache_bytes=_int_env("WEIGHTINIT_CACHE_BYTES", d.cache_bytes, minimum=0, errors=e),
            threads=_threads_from_env(d.threads, e),
            max_concurrent_jobs=_int_env(
                "WEIGHTINIT_MAX_CONCURRENT_JOBS", d.max_concurrent_jobs, minimum=2, errors=e
            ),
            max_queued_jobs=_int_env(
                "WEIGHTINIT_MAX_QUEUED_JOBS", d.max_queued_jobs, minimum=0, errors=e
            ),
            max_buffered_bytes=_int_env(
                "WEIGHTINIT_MAX_BUFFERED_BYTES", d.max_buffered_bytes, errors=e
            ),
            queue_timeout_s=_int_env(
                "WEIGHTINIT_QUEUE_TIMEOUT_S", d.queue_timeout_s, minimum=0, errors=e
            ),
            small_request_cost=_int_env(
                "WEIGHTINIT_SMALL_REQUEST_COST", d.small_request_cost, errors=e
            ),
            header_timeout_s=_int_env("WEIGHTINIT_HEADER_TIMEOUT_S", d.header_timeout_s, errors=e),
            body_timeout_s=_int_env("WEIGHTINIT_BODY_TIMEOUT_S", d.body_timeout_s, errors=e),
            write_timeout_s=_int_env("WEIGHTINIT_WRITE_TIMEOUT_S", d.write_timeout_s, errors=e),
            api_keys=_collected(_api_keys_from_env, (), e),
            rate_limit=_collected(
                lambda: _float_env("WEIGHTINIT_RATE_LIMIT", d.rate_limit), d.rate_limit, e
            ),
            rate_burst=_int_env("WEIGHTINIT_RATE_BURST", d.rate_burst, errors=e),
            cors_origins=_collected(_origins_from_env, (), e),
        )
        if e:
            raise SettingsError(
                "invalid configuration (fix these environment variables):\n  " + "\n  ".join(e)
            )
        return settings


def law_weight(plan: TensorPlan) -> int:
    """Cost units per generated element of ``plan``'s law (module docstring)."""
    law = plan.law
    if isinstance(law, TruncatedNormalLaw):
        return 3
    if isinstance(law, NormalLaw | SparseLaw | OrthogonalLaw | DeltaOrthogonalLaw):
        return 2
    return 1


def tensor_cost(plan: TensorPlan, generated: int) -> int:
    """Cost of producing ``generated`` elements of ``plan`` (whole-matrix: the whole QR)."""
    law = plan.law
    if isinstance(law, OrthogonalLaw):
        rows, cols = law.rows, law.cols
    elif isinstance(law, DeltaOrthogonalLaw):
        rows, cols = law.in_channels, law.out_channels
    elif isinstance(law, SparseLaw):
        rows, cols = plan.shape[0], plan.shape[1]
    else:
        return generated * law_weight(plan) + TENSOR_OVERHEAD_COST
    qr = rows * cols * min(rows, cols) // QR_DIVISOR
    return qr + 2 * plan.numel + TENSOR_OVERHEAD_COST


def json_cost(elements: int, encoding: str) -> int:
    """Cost of writing ``elements`` numbers as JSON text (or base64) on top of generating them."""
    return elements * (JSON_BASE64_COST if encoding == "base64" else JSON_NUMBER_COST)


def check_cost(cost: int, settings: Settings) -> None:
    if cost > settings.max_request_cost:
        raise LimitExceededError(
            "WEIGHTINIT_MAX_REQUEST_COST",
            settings.max_request_cost,
            cost,
            unit="cost units",
            hint="Ask for a slice or shard of the large tensors, or fewer layers.",
        )


def check_whole_matrix(plans: list[TensorPlan], settings: Settings) -> None:
    for plan in plans:
        if plan.is_whole_matrix and plan.numel > settings.max_matrix_elements:
            raise LimitExceededError(
                "WEIGHTINIT_MAX_MATRIX_ELEMENTS",
                settings.max_matrix_elements,
                plan.numel,
                hint=f"Tensor {plan.name!r} uses a whole-matrix scheme, which costs O(n^3).",
            )


def check_elements(total: int, settings: Settings) -> None:
    if total > settings.max_elements:
        raise LimitExceededError("WEIGHTINIT_MAX_ELEMENTS", settings.max_elements, total)


def check_whole_elements(total: int, settings: Settings) -> None:
    if total > settings.max_whole_elements:
        raise LimitExceededError(
            "WEIGHTINIT_MAX_WHOLE_ELEMENTS",
            settings.max_whole_elements,
            total,
            hint="numpy-legacy draws every tensor in order, in memory; use blocks-v1 "
            "(streamed) for large requests.",
        )


def check_torch_cpu_elements(total: int, settings: Settings) -> None:
    if total > settings.max_torch_cpu_elements:
        raise LimitExceededError(
            "WEIGHTINIT_MAX_TORCH_CPU_ELEMENTS",
            settings.max_torch_cpu_elements,
            total,
            hint="torch-cpu draws every tensor of the request from one MT19937 stream, in "
            "order, in memory (up to 0.2 us per element on one core); request fewer or smaller "
            "tensors, or use blocks-v1 (streamed, parallel) for large ones.",
        )


def check_diagnostics(flops: int, memory: int, settings: Settings) -> None:
    """POST /v1/diagnostics: its forward and backward work and the memory it holds."""
    if flops > settings.max_diagnostics_flops:
        raise LimitExceededError(
            "WEIGHTINIT_MAX_DIAGNOSTICS_FLOPS",
            settings.max_diagnostics_flops,
            flops,
            unit="floating-point operations (6 per multiply-add of the batch through every "
            "layer, per compared scheme, per coordinate-check width and step)",
            hint="Use a smaller batch or input_shape, fewer or narrower layers, fewer compared "
            "schemes, widths or steps.",
            field="batch",
        )
    if memory > settings.max_diagnostics_bytes:
        raise LimitExceededError(
            "WEIGHTINIT_MAX_DIAGNOSTICS_BYTES",
            settings.max_diagnostics_bytes,
            memory,
            unit="bytes (the batch's activations and gradients, and the weights, in float64)",
            hint="Use a smaller batch or input_shape, or narrower layers.",
            field="batch",
        )


def check_json(total: int, settings: Settings) -> None:
    if total > settings.max_json_elements:
        raise LimitExceededError(
            "WEIGHTINIT_MAX_JSON_ELEMENTS",
            settings.max_json_elements,
            total,
            hint="Ask for format=npy, npz or safetensors for large tensors.",
        )


def check_layers(count: int, settings: Settings, field: str | None = None) -> None:
    if count > settings.max_layers:
        raise LimitExceededError(
            "WEIGHTINIT_MAX_LAYERS", settings.max_layers, count, unit="layers", field=field
        )


# Largest |z| the blocks-v1 normal sampler can return: sqrt(2 W ln 2) (normal.py).
NORMAL_MAX_Z = {32: 6.67, 64: 9.43}


def _magnitude(plan: TensorPlan) -> float | None:
    """The largest |value| ``plan``'s law can produce before the cast (None: no float law)."""
    law = plan.law
    if isinstance(law, NormalLaw):  # the sampler's largest |z| depends on the working width
        return abs(law.mean) + law.std * NORMAL_MAX_Z[64 if plan.dtype is DType.FLOAT64 else 32]
    if isinstance(law, SparseLaw):  # the float64 sampler's bound, the larger of the two
        return law.value_std * NORMAL_MAX_Z[64]
    return _bound(law)


def _bound(law: Law) -> float | None:
    """The largest |value| of a law with hard bounds (None: no float law)."""
    if isinstance(law, ConstantLaw):
        return abs(law.value)
    if isinstance(law, UniformLaw | TruncatedNormalLaw):
        return max(abs(law.low), abs(law.high))
    if isinstance(law, IdentityLaw | OrthogonalLaw | DeltaOrthogonalLaw):
        return abs(law.gain)  # orthogonal entries are at most 1 in magnitude
    if isinstance(law, DiracLaw):
        return 1.0
    if isinstance(law, SegmentsLaw):
        return max((abs(v) for v in law.values), default=0.0)
    return None


def check_overflow(plans: list[TensorPlan]) -> None:
    """Refuse, before any work, every tensor whose law can exceed its dtype's range.

    A streamed body cannot turn into a 4xx after its first byte, and whether a request is
    served must not depend on its size, slice, range or the values drawn: so the rule is the
    law's bound (uniform and truncated bounds, normal mean + 6.67 or 9.43 std, the largest
    value the blocks-v1 sampler can return), for every response, HEAD and digest alike.
    """
    for plan in plans:
        if plan.is_integer:
            continue
        bound = _magnitude(plan)
        if bound is not None and bound * (1 + 2**-20) >= finfo_max(plan.dtype):
            raise InvalidParameterError(
                f"Tensor {plan.name!r}: values of this scheme can reach {bound:g}, beyond "
                f"{plan.dtype.value}'s largest finite value {finfo_max(plan.dtype):g}; use a "
                "smaller scale or a wider dtype.",
                field="dtype",
            )
