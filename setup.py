"""The one compiled part of weightinit: app/core/_householder.c (everything else is in
pyproject.toml).

The extension is optional: without a C compiler the install goes on and app.core.linalg uses
its numpy products, which give the same bytes, about 5x slower. -ffp-contract=off is part
of the output's definition: an FMA rounds once where the algorithm rounds twice.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "app.core._householder",
            sources=["app/core/_householder.c"],
            depends=["app/core/_householder_kernels.h"],
            extra_compile_args=["-O3", "-ffp-contract=off", "-fno-fast-math"],
            optional=True,
        )
    ]
)
