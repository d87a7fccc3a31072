#!/usr/bin/env bash
# GPU evidence in one go, for a lent H100/H200 (about 5 minutes, no downloads, synthetic data):
#   1. tools/benchmark_speed.py on mmpretrain's CIFAR ResNet-18 (resnet18_8xb16_cifar10.py),
#      batch 256, on generated 32x32 PNGs (a CustomDataset folder, the upstream train pipeline);
#   2. tools/benchmark_speed.py on MMPose's SimCC ResNet-50 MPII 256x256
#      (simcc_res50_wo-deconv-8xb64-210e_mpii-256x256.py), batch 64, on the 5 MPII images of
#      tests/data/mpii repeated (RepeatDataset), no pretrained weights;
#      both bf16 (--amp, optim_wrapper.dtype=bfloat16), variants base/SAM/AUSAM(0.5);
#   3. pytest -m gpu (tests/test_gpu.py: the fp16 loss-scaler path on CUDA).
# Everything lands in $OUT_DIR (default results/gpu_<date>): speed_*.json, pytest_gpu.xml,
# env.txt, the configs used and gpu_check.log. A failing step does not stop the others; the
# exit status is the number of failed steps.
#
# Environment:
#   OUT_DIR   results folder              PY        python (default .venv/bin/python)
#   VARIANTS  benchmark variants (default "base sam ausam_0.5")
#   ITERS, SKIP, ROUNDS  timed / warm-up iterations per turn, turns (default 30, 5, 2)
#   WORKERS   dataloader workers (default: CPU cores - 2, at most 14)
#   DRY_RUN=1 CPU smoke test of this script: batch 8 / 2, float32, 2 iterations, 1 round.
#
# Example (on the lent machine, from the repository root):
#   bash tools/gpu_check.sh                      # then see docs/benchmarks.md, "GPU"
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PY=${PY:-.venv/bin/python}
OUT=${OUT_DIR:-results/gpu_$(date +%Y%m%d_%H%M%S)}
VARIANTS=${VARIANTS:-base sam ausam_0.5}
cores=$(nproc)
WORKERS=${WORKERS:-$(( cores > 16 ? 14 : (cores > 3 ? cores - 2 : 1) ))}
if [ "${DRY_RUN:-0}" = 1 ]; then
  CIFAR_BS=8; SIMCC_BS=2; ITERS=${ITERS:-2}; SKIP=${SKIP:-1}; ROUNDS=${ROUNDS:-1}
  PRECISION=(); TAG=fp32_dry; WORKERS=${WORKERS_DRY:-0}
else
  CIFAR_BS=256; SIMCC_BS=64; ITERS=${ITERS:-30}; SKIP=${SKIP:-5}; ROUNDS=${ROUNDS:-2}
  PRECISION=(--amp); TAG=bf16
fi
mkdir -p "$OUT/cfg"
exec > >(tee -a "$OUT/gpu_check.log") 2>&1
failed=0
step() { printf '\n[gpu_check %s] %s\n' "$(date +%T)" "$*"; }
run() {  # run a step, count it as failed on a non-zero exit, carry on
  "$@"; local rc=$?
  if [ $rc -ne 0 ]; then failed=$((failed + 1)); echo "[gpu_check] FAILED (rc=$rc): $*"; fi
}

step "environment -> $OUT/env.txt"
{ date; uname -a; nvidia-smi 2>&1 || echo 'nvidia-smi: not available'
  "$PY" -c "import torch, mmengine, mmpretrain, mmpose; print('torch', torch.__version__, \
'cuda', torch.version.cuda, 'device', torch.cuda.get_device_name() if torch.cuda.is_available() \
else 'cpu'); print('mmengine', mmengine.__version__, 'mmpretrain', mmpretrain.__version__, \
'mmpose', mmpose.__version__)"; } > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

step "synthetic inputs and configs -> $OUT/cfg"
run "$PY" tools/paper_configs.py "$OUT" --workers "$WORKERS"

bench() {  # name config batch
  local name=$1 cfg=$2 bs=$3
  step "benchmark_speed $name (batch $bs, $TAG, variants: $VARIANTS)"
  # shellcheck disable=SC2086
  run "$PY" tools/benchmark_speed.py "$cfg" --batch-size "$bs" --iters "$ITERS" \
    --skip "$SKIP" --rounds "$ROUNDS" --variants $VARIANTS "${PRECISION[@]}" \
    --out "$OUT/speed_${name}_bs${bs}_${TAG}.json" \
    --cfg-options ${PRECISION:+optim_wrapper.dtype=bfloat16} randomness.seed=0
}
bench cifar_resnet18 "$OUT/cfg/cifar_resnet18_synthetic.py" "$CIFAR_BS"
bench simcc_res50_mpii256 "$OUT/cfg/simcc_res50_mpii_synthetic.py" "$SIMCC_BS"

step "pytest -m gpu"
run "$PY" -m pytest -q -m gpu tests -p no:cacheprovider --junitxml="$OUT/pytest_gpu.xml"

rm -rf "$OUT/cifar_images"
step "done: $failed failed step(s); results in $OUT"
ls -l "$OUT"
exit "$failed"
