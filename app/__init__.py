"""weightinit: a service that hands out initialized neural-network weights."""

import os

# One BLAS thread unless the environment says otherwise (set before numpy loads OpenBLAS): the
# diagnostics' matmuls, the only BLAS work on the serving path, then give the same bits in
# every process of a machine, and the cores belong to the generation pool (Dockerfile: same).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
