#!/usr/bin/env bash
# The GPU path, measured: the engine against the Hugging Face Trainer on one card, bf16, on the bundled
# MiniLM and a BERT-base-sized model; throughput, useful MFU against a measured bf16 matmul peak, and the
# time to a saved version for 5,000 labels. Needs only torch, transformers (+ accelerate), numpy and
# scikit-learn. See ftdemo/benchmarks/gpu_check.py and docs/benchmarks.md ("The GPU path").
#
#   bench/gpu_check.sh prepare                       # here: writes .gpucheck/ (MiniLM in fp16, SST-2) to carry
#   bench/gpu_check.sh OUT.json [--n-train 8000 ...] # on the GPU machine: results to OUT.json, a summary to stdout
#   bench/gpu_check.sh OUT.json --device cpu --tiny  # the same steps on tiny sizes, on a CPU
#
# PYTHON picks the interpreter (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 TRANSFORMERS_VERBOSITY=error HF_HUB_OFFLINE=1
exec "${PYTHON:-python3}" -m ftdemo.benchmarks.gpu_check "$@"
