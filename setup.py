"""The compiled parts of weightinit (everything else is in pyproject.toml):

- app/core/_householder.c: the QR's matrix products (app.core.linalg);
- app/core/_normal.c: the float32 Box-Muller normal sampler (app.core.normal);
- app/core/_uniform.c: the float32 uniform blocks (app.core.sampling);
- app/encoders/_suspects.c: the JSON writer's suspects (app.encoders.json_fast);
- app/encoders/_buffers.c: bytes filled in place (app.encoders.raw.fresh_bytes).

All are optional: without a C compiler the install goes on and the modules use their numpy
paths, which give the same bytes, several times slower. -ffp-contract=off is part of the
outputs' definition: an FMA rounds once where the algorithms round twice.
"""

from setuptools import Extension, setup

NO_FMA = ["-O3", "-ffp-contract=off", "-fno-fast-math"]

setup(
    ext_modules=[
        Extension(
            "app.core._householder",
            sources=["app/core/_householder.c"],
            depends=["app/core/_householder_kernels.h", "app/core/_kernels.h"],
            extra_compile_args=NO_FMA,
            optional=True,
        ),
        Extension(
            "app.core._normal",
            sources=["app/core/_normal.c"],
            depends=["app/core/_normal_kernels.h", "app/core/_kernels.h"],
            # sqrtf without errno (its argument is never negative): the same value, and the
            # loop vectorises.
            extra_compile_args=[*NO_FMA, "-fno-math-errno"],
            optional=True,
        ),
        Extension(
            "app.core._uniform",
            sources=["app/core/_uniform.c"],
            depends=["app/core/_kernels.h"],
            extra_compile_args=NO_FMA,
            optional=True,
        ),
        Extension(
            "app.encoders._suspects",
            sources=["app/encoders/_suspects.c"],
            extra_compile_args=NO_FMA,
            optional=True,
        ),
        Extension(
            "app.encoders._buffers",
            sources=["app/encoders/_buffers.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
    ]
)
