#!/usr/bin/env bash
# Everything a GPU must prove, unattended, in one command on a lent GPU machine (≈ 5 minutes on an H200):
#   bash benchmarks/gpu_run.sh       (from the repo root, with `.whl` and `benchmarks/.kit` carried: `make gpu-kit`)
# 1. tests/test_gpu.py — packed vs plain per SDPA backend (fp32, fp16), 16-mixed with dropout, no CUDA sync in the
#    forward, the CLI end to end (experiment=seed_card trainer=gpu, export loaded by sentence-transformers on CUDA);
# 2. benchmarks/gpu.py — peer vs parasim pairs/s at batch 4 (target ≥ 10×), tokens/s and MFU at batch 64 (≥ 40 %).
# Each result prints as it finishes; a failing check does not stop the others. That machine has torch, transformers,
# lightning and sentence-transformers but not hydra-core, omegaconf or datasets: their wheels travel in .whl.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --no-build-isolation --upgrade \
  --target /tmp/site .whl/* || exit 1
export PYTHONPATH="/tmp/site:$PWD/src:$PWD/tests" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export PARASIM_MODEL_FILES="$PWD/benchmarks/.kit" PARASIM_CACHE=/tmp/parasim-cache WANDB_MODE=offline
mkdir -p "$PARASIM_CACHE" && ln -sfn "$PARASIM_MODEL_FILES" "$PARASIM_CACHE/all-mpnet-base-v2"  # tokenizer for tiny
out="${OUT:-/tmp}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch, transformers, lightning; print('torch', torch.__version__, 'transformers', transformers.__version__, 'lightning', lightning.__version__)"
status=0
timeout 300 python3 -m pytest tests/test_gpu.py -v -s -rA -p no:cacheprovider -o addopts="" --junitxml="$out/gpu_tests.xml" \
  2>&1 | tee "$out/gpu_tests.log" || status=1
timeout 240 python3 benchmarks/gpu.py --model-files benchmarks/.kit --output "$out/gpu.json" "$@" \
  2>&1 | tee "$out/gpu_bench.log" || status=1
exit $status
