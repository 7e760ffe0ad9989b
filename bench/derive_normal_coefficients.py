"""Derive the frozen polynomial coefficients of ``app/core/normal.py`` with mpmath.

Run ``python bench/derive_normal_coefficients.py`` from the repository root; it prints the
literals that ``app/core/normal.py`` freezes.  ``tests/core/test_normal.py`` imports
:func:`derive` and asserts that the frozen literals equal what it computes, so the two can
never drift apart.

Method: every polynomial is a Chebyshev approximation (``mpmath.chebyfit``, 60 significant
digits, near-minimax in absolute error) of a smooth auxiliary function on a closed interval,
then rounded ONCE to the target precision (53 bits for float64, 24 bits for float32) with
round-to-nearest-even in mpmath (no intermediate double rounding).  Coefficients are listed in
ascending powers.

* ``LOG32`` (3 terms):  ``R(z) = (4*atanh(sqrt z)/sqrt z - 4)/z`` on ``z in [0, ZMAX]``; the
  float32 path evaluates ``2*log1p(f) = s*(4 + z*R(z))`` with ``s = f/(2+f)``, ``z = s*s``.
* ``LOG64`` (7 terms):  ``T(z) = (2*atanh(sqrt z)/sqrt z - 2)/z`` on ``[0, ZMAX]``; the float64
  log uses ``R = z*T(z)`` in the fdlibm arrangement
  ``log1p(f) = f - hfsq + s*(hfsq + R)``, ``hfsq = f*f/2``.
* ``SIN32``/``SIN64`` (4/7 terms): ``sin(pi/4*sqrt y)/sqrt y`` on ``y in [0, 1]``; so
  ``sin(pi/4*x) = x*P(x*x)`` for ``x in [-1, 1]``.
* ``COS32``/``COS64`` (4/7 terms): ``(cos(pi/4*sqrt y) - 1)/y`` on ``[0, 1]``; so
  ``cos(pi/4*x) = 1 + x*x*P(x*x)``.
* ``EXP64`` (5 terms): ``(r*coth(r/2) - 2)/z`` with ``r = sqrt z`` on ``z in [0, ZEXP]``, the
  fdlibm exp arrangement ``c = r - z*P(z)``, ``exp(r) = 1 + r + r*c/(2 - c)``.

``ZMAX = 0.02944`` is just above ``(3 - 2*sqrt 2)**2 = 0.029437...``, the largest ``s*s`` when
``1 + f`` lies in ``[sqrt(1/2), sqrt 2]``; ``ZEXP = 0.1202`` is just above ``(ln(2)/2)**2``.
Constants: ``ln 2`` split as fdlibm (``LN2_HI`` has 32 significant bits, so ``k*LN2_HI`` is
exact for ``|k| < 2**21``) and the float32 pair ``LN2X2_HI32`` (2 ln 2 rounded to 16 bits, so
``k*LN2X2_HI32`` is exact for ``k <= 255``) with its remainder rounded to 24 bits; ``1/ln 2``,
``sqrt(1/2)`` and ``ln`` of the largest float64 rounded to 53 bits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mpmath

DPS = 60
ZMAX = "0.02944"
ZEXP = "0.1202"

# name -> (number of terms, float bits)
SPECS: dict[str, tuple[int, int]] = {
    "LOG32": (3, 24),
    "SIN32": (4, 24),
    "COS32": (4, 24),
    "LOG64": (7, 53),
    "SIN64": (7, 53),
    "COS64": (7, 53),
    "EXP64": (5, 53),
}


def _round(x: Any, bits: int) -> float:
    """Round an mpf once to ``bits`` significant bits (nearest, ties to even)."""
    with mpmath.workprec(bits):
        return float(+x)


def _log_aux(scale: int) -> Callable[[Any], Any]:
    def f(z: Any) -> Any:
        s = mpmath.sqrt(z)
        return (scale * mpmath.atanh(s) / s - scale) / z

    return f


def _sin_aux(y: Any) -> Any:
    x = mpmath.sqrt(y)
    return mpmath.sin(mpmath.pi / 4 * x) / x


def _cos_aux(y: Any) -> Any:
    return (mpmath.cos(mpmath.pi / 4 * mpmath.sqrt(y)) - 1) / y


def _exp_aux(z: Any) -> Any:
    r = mpmath.sqrt(z)
    return (r * mpmath.coth(r / 2) - 2) / z


def _aux(name: str) -> tuple[Callable[[Any], Any], tuple[Any, Any]]:
    """The function to fit for ``name`` and its interval (evaluated at the working precision)."""
    zero, one = mpmath.mpf(0), mpmath.mpf(1)
    if name == "LOG32":
        return _log_aux(4), (zero, mpmath.mpf(ZMAX))
    if name == "LOG64":
        return _log_aux(2), (zero, mpmath.mpf(ZMAX))
    if name.startswith("SIN"):
        return _sin_aux, (zero, one)
    if name.startswith("COS"):
        return _cos_aux, (zero, one)
    if name == "EXP64":
        return _exp_aux, (zero, mpmath.mpf(ZEXP))
    raise KeyError(name)


def derive_with_errors() -> dict[str, tuple[tuple[float, ...], float]]:
    """Coefficients (ascending) and the fit's max absolute error, per polynomial."""
    out: dict[str, tuple[tuple[float, ...], float]] = {}
    with mpmath.workdps(DPS):
        for name, (terms, bits) in SPECS.items():
            f, (a, b) = _aux(name)
            poly, err = mpmath.chebyfit(f, [a, b], terms, error=True, asc=True)
            out[name] = (tuple(_round(c, bits) for c in poly), float(err))
    return out


def constants() -> dict[str, float]:
    """The split ln 2 constants and the other rounded constants (see module docstring)."""
    with mpmath.workdps(DPS):
        ln2 = mpmath.log(2)
        hi = _round(ln2, 32)
        lo = _round(ln2 - mpmath.mpf(hi), 53)
        hi32 = _round(2 * ln2, 16)
        lo32 = _round(2 * ln2 - mpmath.mpf(hi32), 24)
        inv_ln2 = _round(1 / ln2, 53)
        sqrt_half = _round(mpmath.sqrt(mpmath.mpf(1) / 2), 53)
        # ln of the largest float64, rounded; exp of the next float64 up overflows.
        largest = mpmath.mpf(2) ** 1024 * (1 - mpmath.mpf(2) ** -53)
        exp_max = _round(mpmath.log(largest), 53)
    return {
        "LN2_HI": hi,
        "LN2_LO": lo,
        "LN2X2_HI32": hi32,
        "LN2X2_LO32": lo32,
        "INV_LN2": inv_ln2,
        "SQRT_HALF": sqrt_half,
        "EXP_MAX": exp_max,
    }


def derive() -> dict[str, tuple[float, ...]]:
    """Every frozen literal of ``app/core/normal.py``, by name."""
    out: dict[str, tuple[float, ...]] = {k: v[0] for k, v in derive_with_errors().items()}
    out.update({k: (v,) for k, v in constants().items()})
    return out


def main() -> None:
    for name, (coeffs, err) in derive_with_errors().items():
        print(f"# {name}: Chebyshev fit max abs error {err:.3e}")
        body = ", ".join(repr(c) for c in coeffs)
        print(f"_{name} = ({body})")
    for name, value in constants().items():
        print(f"_{name} = {value!r}")


if __name__ == "__main__":
    main()
