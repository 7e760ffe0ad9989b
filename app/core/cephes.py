"""The Cephes single-precision ``logf`` constants (Stephen L. Moshier, Cephes Math Library,
``logf.c``), as printed there.

``log(x) = log(m) + e·ln 2`` with ``m`` in [√½, √2): a degree-9 polynomial in ``m - 1`` and
``ln 2`` split in two (``q1 + q2``) so that ``e·q2`` is exact. Two kernels the service
reproduces evaluate it, each in its own operation order and rounding of the constants:
torch's AVX2 ``log256_ps`` (``avx_mathfun.h``, for torch-cpu's ``normal_``) and XLA's CPU
vectorised ``log`` (for jax-threefry's ``log1p``).
"""

from __future__ import annotations

LOGF_P = (  # p0..p8, highest degree first
    7.0376836292e-2,
    -1.1514610310e-1,
    1.1676998740e-1,
    -1.2420140846e-1,
    1.4249322787e-1,
    -1.6668057665e-1,
    2.0000714765e-1,
    -2.4999993993e-1,
    3.3333331174e-1,
)
LOGF_Q1 = -2.12194440e-4
LOGF_Q2 = 0.693359375
SQRTHF = 0.707106781186547524  # √½
