#!/usr/bin/env bash
# The GPU row on a lent GPU machine, from the repo root: `bash benchmarks/gpu_run.sh` with `.whl` and
# `benchmarks/.kit` carried (both made here by `make gpu-kit`). That machine has torch, transformers,
# lightning and sentence-transformers but not `datasets` (the peer's trainer needs it): its wheels travel.
set -euo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH="/tmp/site:$PWD/src" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 benchmarks/gpu.py --model-files benchmarks/.kit --output "${OUT:-/tmp}/gpu.json" "$@"
