# weightinit: a small non-root image. Dependencies are pinned by requirements.lock.
#   docker build -t weightinit:0.1.0 .
#   docker run --rm -p 8000:8000 -e WEIGHTINIT_WORKERS=2 weightinit:0.1.0
# Kubernetes and compose files: deploy/README.md. Checked by hadolint in `make check` and
# statically by tests/deploy/test_dockerfile.py (COPY sources, exec-form CMD/HEALTHCHECK).

# Both stages must use the same interpreter: the venv is copied from one to the other.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: a venv in /opt/venv with the pinned dependencies, then the project itself.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_NO_INPUT=1
WORKDIR /src
# gcc for the compiled kernels (app/core/_householder.c, _normal.c, _uniform.c and
# app/encoders/_suspects.c, _buffers.c, built by setup.py); the runtime stage gets the built
# extensions in the venv, never the compiler.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
# Dependencies first (their own layer, rebuilt only when pyproject.toml or the lock changes):
# the runtime requirements listed in pyproject.toml, each constrained to its locked version.
COPY pyproject.toml requirements.lock README.md ./
RUN python -m venv /opt/venv \
    && python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > /tmp/runtime-requirements.txt \
    && /opt/venv/bin/pip install -c requirements.lock -r /tmp/runtime-requirements.txt
# Then the project (a regular, non-editable install into site-packages; byte-compiled here
# so that the read-only container never needs to write .pyc files).
COPY setup.py MANIFEST.in ./
COPY app ./app
RUN /opt/venv/bin/pip install -c requirements.lock . \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/python -P -c "from app.core import linalg, normal, sampling; from app.encoders import json_fast, raw; assert linalg.compiled_kernel_sets() and normal.compiled_kernel_sets() and sampling._uniform and json_fast._suspects and raw._buffers, 'kernels not built'"

# ---- runtime: the venv and nothing else (no compilers, no pip cache, no source tree).
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="weightinit" \
      org.opencontainers.image.description="Initialized neural-network weights over HTTP (byte-identical on every replica)" \
      org.opencontainers.image.version="0.1.0"
# A fixed numeric uid/gid (10001) so that Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 weightinit \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin weightinit
COPY --from=build /opt/venv /opt/venv
# OPENBLAS_NUM_THREADS=1: only POST /v1/diagnostics' matmuls use BLAS on the serving path; one
# thread gives them the same bits in every replica, and no OpenBLAS thread per host CPU.
# MPLCONFIGDIR: matplotlib (the diagnostics plots) keeps its font cache in a writable
# directory; the root file system is read-only and the home directory does not exist, so
# it goes on the /tmp volume (without it matplotlib warns and makes a new temporary one).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OPENBLAS_NUM_THREADS=1 \
    MPLCONFIGDIR=/tmp/matplotlib
# An empty working directory: uvicorn puts it on sys.path; the code comes from site-packages.
WORKDIR /srv/weightinit
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# app.server: uvicorn with h11 and our protocol class (header/write timeouts, problem+json for
# malformed HTTP, CL+TE refused); extra uvicorn options may follow, e.g. --workers 2.
# On SIGTERM the app drains (readiness fails, new work gets 503) and uvicorn lets in-flight
# responses finish for up to 25 s; compose's stop_grace_period and Kubernetes'
# terminationGracePeriodSeconds (with its 5 s preStop) leave room for it.
CMD ["python", "-m", "app.server", "--host", "0.0.0.0", "--port", "8000", "--timeout-graceful-shutdown", "25"]
