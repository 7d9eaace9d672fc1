# Cove: `make run` installs everything and runs the end-to-end scenario; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEBIAN_PACKAGES := iproute2 nftables conntrack fuse3 gocryptfs util-linux procps postgresql

SDK_VENV := .venv-sdk
SDK_STAMP := $(SDK_VENV)/.installed
# The SageMaker Python SDK the compatibility tests drive, unchanged, in a virtualenv of its own
# (it pins its own numpy, pandas and boto3 ranges; Cove's environment stays as pyproject says).
SAGEMAKER_SDK := sagemaker==2.257.7
# v3 (ModelTrainer) is a different package tree under the same name: a virtualenv of its own too.
SDK3_VENV := .venv-sdk3
SDK3_STAMP := $(SDK3_VENV)/.installed
SAGEMAKER_SDK3 := sagemaker==3.27.0

.PHONY: run test lint typecheck contracts unit system-deps install images sdk clean bench

run: install images
	$(VENV)/bin/cove run --state-dir .cove

test: install images sdk
	$(MAKE) lint typecheck contracts unit

sdk: $(SDK_STAMP) $(SDK3_STAMP)

$(SDK_STAMP): Makefile
	$(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SDK_VENV)/bin/python -m pip install --quiet '$(SAGEMAKER_SDK)'
	touch $(SDK_STAMP)

$(SDK3_STAMP): Makefile
	$(PYTHON) -m venv $(SDK3_VENV)
	$(SDK3_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SDK3_VENV)/bin/python -m pip install --quiet '$(SAGEMAKER_SDK3)'
	touch $(SDK3_STAMP)

install: system-deps $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

# The framework images jobs run in (venvs with the SageMaker training toolkit, under COVE_IMAGE_DIR or
# ~/.cache/cove/images); each image records the hash of its inputs, so this is a no-op when up to date.
images: $(STAMP)
	$(VENV)/bin/cove image build

# Debian packages Cove drives (namespaces, nftables, conntrack, FUSE) and PostgreSQL for the
# backend tests; installed only when missing.
system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "warning: missing Debian packages:$$missing (run as root on Debian to install them)"; fi; \
	fi

lint:
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck:
	$(VENV)/bin/mypy

contracts:
	$(VENV)/bin/lint-imports

unit:
	$(VENV)/bin/pytest -n 2 -p no:cacheprovider

bench: install
	$(PY) bench/api.py

clean:
	rm -rf $(VENV) $(SDK_VENV) $(SDK3_VENV) .cove .mypy_cache .ruff_cache
