# parasim — `make run` trains → evaluates → exports on the embedded data; `make test` runs the tests.
# Both create the virtualenv (.venv/) and fetch the all-mpnet-base-v2 weights when missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
# what `make run` trains: the recipe found by benchmarks/recipe.sh (RECIPE.md); EXPERIMENT=seed_card reproduces the seed
EXPERIMENT ?= recipe
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
	$(BIN)/python scripts/train.py experiment=$(EXPERIMENT) $(ARGS)

smoke: weights
	$(BIN)/python scripts/train.py debug=smoke $(ARGS)

test: weights
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check src tests scripts benchmarks

bench: weights
	$(BIN)/python benchmarks/run.py

# What benchmarks/gpu_run.sh needs on a GPU machine (Python 3.12; no hydra-core, omegaconf or datasets there):
# the weight-less model files and the missing packages, at this venv's versions. Carry .whl and benchmarks/.kit.
GPU_WHEELS = hydra-core omegaconf datasets dill multiprocess
gpu-kit: weights
	$(BIN)/python benchmarks/gpu.py --kit benchmarks/.kit
	rm -rf .whl
	$(BIN)/python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
		$$($(BIN)/python -c "import importlib.metadata as m; print(*(f'{p}=={m.version(p)}' for p in '$(GPU_WHEELS)'.split()))")
	# omegaconf's parser runtime is published as source only (pure Python; built there with its setuptools)
	$(BIN)/python -m pip download --quiet --no-deps --no-binary=:all: -d .whl \
		antlr4-python3-runtime==$$($(BIN)/python -c "import importlib.metadata as m; print(m.version('antlr4-python3-runtime'))")

clean:
	rm -rf $(VENV) outputs/*/ .pytest_cache
