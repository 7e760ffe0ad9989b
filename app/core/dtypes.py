"""Output dtypes and how each is derived.

Values are sampled in a *working precision*: float64 for float64 output, float32 for float32,
float16 and bfloat16. float16 and bfloat16 values are the float32 values rounded once to the
nearest representable value, ties to even (numpy's cast for float16, ml_dtypes' for bfloat16);
both are IEEE-exact operations, so identical on every machine. Scalar constants (std, bounds)
are float64 numbers rounded once to the working precision before they touch the samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import ml_dtypes
import numpy as np
from numpy.typing import NDArray

from .errors import InvalidParameterError
from .types import DType

_NUMPY_DTYPES: dict[DType, np.dtype[np.generic]] = {
    DType.FLOAT32: np.dtype(np.float32),
    DType.FLOAT64: np.dtype(np.float64),
    DType.FLOAT16: np.dtype(np.float16),
    DType.BFLOAT16: np.dtype(ml_dtypes.bfloat16),
}


def numpy_dtype(dtype: DType) -> np.dtype[np.generic]:
    """The numpy dtype of an output dtype."""
    return _NUMPY_DTYPES[dtype]


def working_dtype(dtype: DType) -> type[np.float32] | type[np.float64]:
    """The precision values are sampled and scaled in for ``dtype``."""
    return np.float64 if dtype is DType.FLOAT64 else np.float32


# numpy's finfo, bfloat16 included. ml_dtypes.finfo (an np.finfo subclass) has an
# unannotated constructor: this names the signature used, and mypy checks the class against it.
finfo: Callable[[np.dtype[Any]], np.finfo[Any]] = ml_dtypes.finfo


def finfo_max(dtype: DType) -> float:
    """Largest finite value of ``dtype``."""
    return float(finfo(numpy_dtype(dtype)).max)


def _all_finite(values: NDArray[Any]) -> bool:
    """Whether no value is NaN or infinite. float32/float64: their min and max (a NaN
    propagates into both; an infinity is one of them) without a bool array as large as the
    values (allocating it cost more than the check on large tensors); others: isfinite."""
    if values.dtype in (np.dtype(np.float32), np.dtype(np.float64)):
        with np.errstate(invalid="ignore"):
            return bool(np.isfinite(values.min()) and np.isfinite(values.max()))
    return bool(np.isfinite(values).all())


def cast_output(
    values: NDArray[Any], dtype: DType, *, bound: float | None = None
) -> NDArray[np.generic]:
    """Round working-precision values to ``dtype`` (RNE), refusing any non-finite result.

    Parameters are validated as finite, but finite parameters can still overflow a dtype
    (``constant(1e300)`` in float32, ``normal(std=1e5)`` in float16): that is refused here,
    with the dtype's range in the message, instead of handing out infinities. ``bound``, an
    upper bound on every ``|value|`` known from the law (``sampling.magnitude_bound``),
    skips the scan when it is under half the dtype's largest value (nothing can overflow).
    """
    target = numpy_dtype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        out = values if values.dtype == target else values.astype(target)
    if bound is not None and math.isfinite(bound) and bound < finfo_max(dtype) / 2:
        return out
    if out.size and not _all_finite(out):
        raise InvalidParameterError(
            f"Values overflow {dtype.value} (largest finite value {finfo_max(dtype):g}); "
            "use a smaller scale or a wider dtype.",
            field="dtype",
        )
    return out
