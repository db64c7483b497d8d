#!/usr/bin/env bash
# The whole GPU table of bench/RESULTS.md in one command, on a machine with one CUDA GPU and torch 2.x:
#   bash bench/gpu/run.sh [--python PY] [--lengths-from DATA.h5ad]
#   bash bench/gpu/run.sh --smoke [--python PY]      # tiny models on CPU: checks every part runs (CI runs this)
# Prints, each beside the figure it must beat:
#   1. the worker's environment (python -m scwb_worker env: torch, CUDA, GPU, free memory);
#   2. fine-tune cells/s: scBERT full size batch 32 fp32 and bf16 (published code 34.7 / 42.9 cells/s on one H100),
#      scGPT size (512 d x 12) bf16 at maximum lengths 1,201 and 3,001, padded vs length-bucketed (published padded
#      475 / 159 cells/s), with peak GPU memory and the worker's memory estimate beside it
#      (bench/gpu/finetune_throughput.py);
#   3. the benchmark transformer at the paper's configuration (d 256, 6 layers, 8 heads, 512 tokens, batch 128):
#      tokens/s of the worker's pre-training step vs a plain-torch reference, peak GPU memory (bench/pretrain_cpu.py);
#   4. ONNX Runtime inference of the exported scBERT and scGPT vs torch, on ONNX Runtime's CUDA provider when it has
#      one (bench/gpu/onnx_inference.py).
# Exits non-zero when a part fails. Budget: under 8 minutes on one H100/H200 (the elapsed time is printed).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=python3
SMOKE=()
LENGTHS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=(--smoke) ;;
    --python) PY=$2; shift ;;
    --lengths-from) LENGTHS=(--lengths-from "$2"); shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "bench/gpu/run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
export PYTHONPATH="$ROOT/resources/worker${PYTHONPATH:+:$PYTHONPATH}"
cd "$ROOT"
start=$(date +%s)
section() { printf '\n== %s (%ds)\n' "$*" "$(( $(date +%s) - start ))"; }

section "environment"
"$PY" -m scwb_worker env
if [ ${#SMOKE[@]} -eq 0 ]; then
  "$PY" - <<'PY' || exit 1
import sys, torch
if int(torch.__version__.split(".")[0]) < 2:
    sys.exit("bench/gpu/run.sh: torch %s: the GPU table is taken on torch 2.x" % torch.__version__)
if not torch.cuda.is_available():
    sys.exit("bench/gpu/run.sh: torch sees no CUDA device (--smoke runs the script on CPU)")
PY
fi

section "fine-tune throughput (scBERT, scGPT)"
"$PY" bench/gpu/finetune_throughput.py "${SMOKE[@]}" "${LENGTHS[@]}"

section "benchmark transformer, pre-training step"
if [ ${#SMOKE[@]} -eq 0 ]; then
  "$PY" bench/pretrain_cpu.py --dim 256 --depth 6 --heads 8 --seq 512 --batch 128 --repeats 10 --device cuda
else
  "$PY" bench/pretrain_cpu.py --dim 16 --depth 1 --heads 2 --seq 32 --batch 4 --repeats 2 --device cpu
fi

section "ONNX Runtime inference of the exported classifiers"
"$PY" bench/gpu/onnx_inference.py "${SMOKE[@]}"

section "done"
