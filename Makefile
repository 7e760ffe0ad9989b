# weightinit developer entry points. `make run` and `make test` bootstrap .venv themselves.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
LOCK := requirements.lock
# Quiet, non-interactive pip; no self-upgrade (nothing unpinned gets upgraded).
PIP_FLAGS := --disable-pip-version-check --no-input

.PHONY: help install run test soak fuzz check audit fmt lock bench bench-extras frameworks architecture-fixtures readme openapi clean clients ts-install ts-test chromium FORCE

FORCE:

help:
	@echo "make run    - bootstrap .venv, serve on http://$(HOST):$(PORT)"
	@echo "make test   - bootstrap .venv, run check, then the test suite"
	@echo "make soak   - the long loopback load test (20 000 requests): prints RSS and small p99"
	@echo "make fuzz   - schemathesis, every check (--checks all), 500 examples per operation"
	@echo "make check  - ruff check, ruff format --check, mypy --strict on app/ and clients/python,"
	@echo "             hadolint Dockerfile, pip-audit of requirements.lock (reports only)"
	@echo "make audit  - pip-audit of requirements.lock, failing on any known vulnerability"
	@echo "make fmt    - ruff check --fix and ruff format"
	@echo "make lock   - regenerate $(LOCK) from a fresh temporary venv"
	@echo "make bench  - run every bench/bench_*.py"
	@echo "make bench-extras - build .venv-bench (torch for the benchmarks, never in .venv)"
	@echo "make architecture-fixtures - build .venv-transformers, rewrite tests/fixtures/architectures"
	@echo "make frameworks - build .venv-frameworks (torch, jax, flax for tests/frameworks; make test does it)"
	@echo "make chromium - apt-get install Debian's chromium when /usr/bin/chromium is missing (make test does it)"
	@echo "make readme - regenerate README.md's generated tables and docs/why-initialization.svg"
	@echo "make openapi - regenerate openapi.json from the app"
	@echo "make clients - regenerate clients/typescript/src/schema.ts from openapi.json"
	@echo "make ts-test - npm ci (when needed), build, drift check and node tests of the TypeScript SDK"
	@echo "make clean  - remove .venv and caches"

# The server (this directory's pyproject.toml) and the client (weightinit-client: the Python
# SDK and the `weightinit` command line), both editable, both constrained by the lock. Two pip
# runs, the client second: a .venv from before the split has a `weightinit` script recorded
# as the server's, which reinstalling the server deletes, even after the client wrote its own.
CLIENT := clients/python
# torch, jax and flax, for tests/frameworks only: see the frameworks target.
FRAMEWORKS_VENV := .venv-frameworks
FRAMEWORKS_STAMP := $(FRAMEWORKS_VENV)/.installed

# The compiled kernels (setup.py): pip install -e builds them in place, again when they change.
KERNEL_SOURCES := setup.py $(wildcard app/core/_*.c app/core/_*.h app/encoders/_*.c)

# (Re)install when pyproject.toml, the lock or the kernels change, or the venv's python is missing.
$(STAMP): pyproject.toml $(CLIENT)/pyproject.toml $(LOCK) $(KERNEL_SOURCES) $(shell test -x $(VPY) || echo FORCE)
	@if [ ! -x $(VPY) ]; then \
	  echo "creating $(VENV) with $(PYTHON)"; \
	  rm -rf $(VENV); \
	  $(PYTHON) -m venv $(VENV); \
	fi
	$(VPY) -m pip install $(PIP_FLAGS) -q -c $(LOCK) -e '.[test]'
	$(VPY) -m pip install $(PIP_FLAGS) -q -c $(LOCK) -e ./$(CLIENT)
	@touch $@

install: $(STAMP)

run: $(STAMP)
	$(VPY) -m app.server --host $(HOST) --port $(PORT)

test: check $(FRAMEWORKS_STAMP) chromium
	$(VPY) -m pytest

# Debian's Chromium for tests/playground (Playwright drives it by executable_path: it cannot
# download browsers of its own here). Installed only when missing; when it cannot be (not
# root, no network), say so and go on: the browser tests then skip, or fail under CI=true.
CHROMIUM := /usr/bin/chromium
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "installing Debian's chromium (tests/playground)"; \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	      --no-install-recommends chromium; } \
	    || echo "make: could not install chromium: tests/playground skips (fails under CI=true)"; \
	fi

# The long variant of tests/api/test_load.py: figures (RSS, small-request p99), not assertions
# beyond the short one's (README, "Operations").
soak: $(STAMP)
	WEIGHTINIT_SOAK=1 $(VPY) -m pytest -q -s -p no:cacheprovider tests/api/test_load.py

# The long variant of tests/api/test_schemathesis.py: every schemathesis check, a larger budget.
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} FUZZ_ALL_CHECKS=1 FUZZ_COVERAGE=1 $(VPY) -m pytest -q -p no:cacheprovider \
	  -p no:logging tests/api/test_schemathesis.py

check: $(STAMP)
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .
	$(VPY) -m mypy --strict app/
	$(VPY) -m mypy --strict clients/python
	$(VENV)/bin/hadolint Dockerfile
	$(VPY) .ci/audit.py

# Dependency audit that fails on any known vulnerability (make check only reports them).
audit: $(STAMP)
	$(VPY) .ci/audit.py --strict

fmt: $(STAMP)
	$(VPY) -m ruff check --fix .
	$(VPY) -m ruff format .

# Fresh temporary venv -> install .[test] and the client unconstrained -> freeze everything
# but the two projects.
lock:
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install $(PIP_FLAGS) -q '.[test]' ./$(CLIENT); \
	{ echo "# Generated by 'make lock' from pyproject.toml ([test] extra) and $(CLIENT)/pyproject.toml. Do not edit by hand."; \
	  "$$tmp/venv/bin/python" -m pip freeze --exclude-editable \
	    | grep -v -i -E '^weightinit([-_]client)?( @|==)' \
	    | LC_ALL=C sort -f; \
	} > $(LOCK).tmp; \
	mv $(LOCK).tmp $(LOCK); \
	echo "wrote $(LOCK)"

bench: $(STAMP)
	@shopt -s nullglob; files=(bench/bench_*.py); \
	if [ $${#files[@]} -eq 0 ]; then echo "no benchmarks in bench/"; exit 0; fi; \
	for f in "$${files[@]}"; do echo "== $$f"; PYTHONPATH=. $(VPY) "$$f"; done

# A separate venv for benchmarks that compare with torch: the service's .venv never gets
# torch. torch==2.13.0 is the CPU wheel this machine kind keeps on local disk (any other
# version may pull a multi-GB CUDA build); numpy and ml_dtypes are the lock's versions so
# the timings are of the service's numpy. torch's sympy brings a compatible mpmath.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
TORCH_VERSION := 2.13.0
BENCH_PINS = $(shell grep -i -E '^(numpy|ml_dtypes)==' $(LOCK))

$(BENCH_STAMP): $(LOCK) $(shell test -x $(BENCH_VENV)/bin/python || echo FORCE)
	@if [ ! -x $(BENCH_VENV)/bin/python ]; then \
	  echo "creating $(BENCH_VENV) with $(PYTHON)"; \
	  rm -rf $(BENCH_VENV); \
	  $(PYTHON) -m venv $(BENCH_VENV); \
	fi
	$(BENCH_VENV)/bin/python -m pip install $(PIP_FLAGS) -q torch==$(TORCH_VERSION) $(BENCH_PINS) mpmath
	@touch $@

bench-extras: $(BENCH_STAMP)
	@echo "run: PYTHONPATH=. $(BENCH_VENV)/bin/python bench/bench_qr.py"

# A separate venv with the reference frameworks, used only by tests/frameworks (they run
# scripts in it and compare what torch, JAX and Flax produce with the service's bytes) and by
# tools/make_framework_fixtures.py. The service's .venv never gets them. Pinned to the versions
# the reference notes verified; torch 2.13.0 is the ~190 MB CPU wheel this machine kind keeps
# on local disk. The client (weightinit-client, editable) comes too, for its torch and Flax
# adapters; numpy, ml_dtypes and httpx are the lock's versions (not the whole lock: its
# sympy is not torch's).
JAX_VERSION := 0.10.2
FLAX_VERSION := 0.12.8
HTTPX_PINS = $(shell grep -i -E '^(httpx|httpcore|h11|anyio|idna|certifi|sniffio)==' $(LOCK))

$(FRAMEWORKS_STAMP): $(LOCK) $(CLIENT)/pyproject.toml $(shell test -x $(FRAMEWORKS_VENV)/bin/python || echo FORCE)
	@if [ ! -x $(FRAMEWORKS_VENV)/bin/python ]; then \
	  echo "creating $(FRAMEWORKS_VENV) with $(PYTHON)"; \
	  rm -rf $(FRAMEWORKS_VENV); \
	  $(PYTHON) -m venv $(FRAMEWORKS_VENV); \
	fi
	$(FRAMEWORKS_VENV)/bin/python -m pip install $(PIP_FLAGS) -q torch==$(TORCH_VERSION) \
	  jax==$(JAX_VERSION) jaxlib==$(JAX_VERSION) flax==$(FLAX_VERSION) $(BENCH_PINS) $(HTTPX_PINS)
	$(FRAMEWORKS_VENV)/bin/python -m pip install $(PIP_FLAGS) -q --no-deps -e ./$(CLIENT)
	@touch $@

frameworks: $(FRAMEWORKS_STAMP)

# The architecture fixtures (tests/fixtures/architectures) come from the libraries themselves,
# in their own venv (never .venv, never a dependency of make test).
TRANSFORMERS_VENV := .venv-transformers
architecture-fixtures:
	test -x $(TRANSFORMERS_VENV)/bin/python || $(PYTHON) -m venv $(TRANSFORMERS_VENV)
	$(TRANSFORMERS_VENV)/bin/python -m pip install $(PIP_FLAGS) -q transformers==5.18.0 \
	  torchvision==0.29.1
	$(TRANSFORMERS_VENV)/bin/python tools/make_architecture_fixtures.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# The README's scheme table is generated from the registry (tests/test_readme.py checks it), and
# its shape-map table from app/core/shape_maps.py (tests/core/test_shape_maps.py checks it).
readme: $(STAMP)
	$(VPY) -m app.core.schemes.table --write README.md
	$(VPY) -m app.core.shape_map_table --write README.md
	$(VPY) -m app.jobs.arguments --write README.md
	$(VPY) -m app.core.torch_table --write README.md
	$(VPY) -m app.core.jax_table --write README.md
	$(VPY) -m app.core.recipes.table --write README.md
	$(VPY) tools/make_why_init_plot.py

# openapi.json is generated from the app (tests/api/test_openapi.py fails when it drifts).
openapi: $(STAMP)
	$(VPY) -m app.api.openapi_export openapi.json

# --- TypeScript SDK (clients/typescript). node and npm come from the machine. -------------
# `npm ci` reruns when package.json or package-lock.json changes or node_modules is missing;
# the stamp (inside node_modules, so `npm ci` wiping it wipes the stamp) holds their sha256,
# the same check tests/clients/test_typescript_sdk.py makes.
TS_DIR := clients/typescript
TS_STAMP := $(TS_DIR)/node_modules/.weightinit-installed
NPM_CI_FLAGS := --no-audit --no-fund

$(TS_STAMP): $(TS_DIR)/package.json $(TS_DIR)/package-lock.json
	cd $(TS_DIR) && npm ci $(NPM_CI_FLAGS)
	cat $(TS_DIR)/package.json $(TS_DIR)/package-lock.json | sha256sum | sed 's/ .*//' > $@

ts-install: $(TS_STAMP)

# Regenerate the committed TypeScript types (the drift check in `make test` fails until you do).
clients: $(TS_STAMP)
	cd $(TS_DIR) && npm run --silent generate

# Build, drift check, then node --test against a uvicorn the pytest file starts and stops.
ts-test: $(STAMP) $(TS_STAMP)
	cd $(TS_DIR) && npm run --silent build && npm run --silent check-generated
	$(VPY) -m pytest -q tests/clients/test_typescript_sdk.py
