# parasim — `make run` trains → evaluates → exports on the embedded data; `make test` runs the tests.
# Both create the virtualenv (.venv/) and fetch the all-mpnet-base-v2 weights when missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
PYTEST_ARGS ?=

.PHONY: venv weights run smoke test lint bench gpu-kit clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# the CPU build of torch from this machine's disk first; a bare `torch` would pull a multi-GB CUDA build
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

weights: venv
	$(BIN)/python -m parasim.weights

run: weights
	$(BIN)/python scripts/train.py $(ARGS)

smoke: weights
	$(BIN)/python scripts/train.py debug=smoke $(ARGS)

test: weights
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check src tests scripts benchmarks

bench: weights
	$(BIN)/python benchmarks/run.py

# What benchmarks/gpu_run.sh needs on a GPU machine (Python 3.12, no `datasets`): carry .whl and benchmarks/.kit
gpu-kit: weights
	$(BIN)/python benchmarks/gpu.py --kit benchmarks/.kit
	$(BIN)/python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
		datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19

clean:
	rm -rf $(VENV) outputs/*/ .pytest_cache
