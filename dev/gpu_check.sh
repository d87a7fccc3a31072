#!/usr/bin/env bash
# GPU evidence in one go, for a lent H100/H200 (no downloads, synthetic data):
#   0. with KIT set (the lent machine, whose image lacks the OpenMMLab stack): install the device
#      kit (dev/device_kit.py build; `make device-kit`) with dev/device_install.sh into
#      KIT_SITE on top of the machine's packages, mmcv's ops built there;
#   1. benchmarks/speed.py on mmpretrain's CIFAR ResNet-18 (resnet18_8xb16_cifar10.py),
#      batch 256, on generated 32x32 PNGs (a CustomDataset folder, the upstream train pipeline);
#   2. benchmarks/speed.py on MMPose's SimCC ResNet-50 MPII 256x256
#      (simcc_res50_wo-deconv-8xb64-210e_mpii-256x256.py), batch 64, on the 5 MPII images of
#      tests/data/mpii repeated (RepeatDataset), no pretrained weights;
#      both bf16 (--amp, optim_wrapper.dtype=bfloat16), each variant's throughput and peak
#      memory (benchmarks/speed.py);
#   3. pytest -m gpu (tests/test_gpu.py: the fp16 loss-scaler path on CUDA);
#   4. the CIFAR benchmark again, each of COMPILE_VARIANTS eagerly and with compile=True (last:
#      the longest and the one to lose should the call run out of time).
# Everything lands in $OUT_DIR (default results/gpu_<date>), 8 files (the lent machine returns
# at most 8): 3 speed_*.json, pytest_gpu.xml, env.txt (versions, pip list), cfg/ (the 2
# configs) and gpu_check.log (everything printed, each step's duration at the end). A failing step does
# not stop the others; the exit status is the number of failed steps (99: the kit did not install,
# nothing else ran).
#
# Environment:
#   OUT_DIR   results folder              PY        python (default .venv/bin/python; with
#                                                   KIT: python3, the machine's)
#   KIT       the device kit to install first; KIT_SITE where (default /tmp/ausam_kit_site)
#   VARIANTS  benchmark variants (default "base sam ausam_0.5 random_0.5 sam_every_2 esam_0.5")
#   COMPILE_VARIANTS  those timed eager vs compiled (default "base sam ausam_0.5": each compiles)
#   LIMIT     seconds each benchmark and the tests may run (default 120, with DRY_RUN none): a
#             stopped benchmark keeps the turns it finished, the steps after it still run
#   ITERS, SKIP, ROUNDS  timed / warm-up iterations per turn, turns (default 30, 5, 2)
#   WORKERS   dataloader workers (default: CPU cores - 2, at most 14)
#   DRY_RUN=1 CPU smoke test of this script: batch 8 / 2, float32, 2 iterations, 1 round
#             (with KIT: dev/device_rehearsal.sh, the whole GPU path on this CPU).
#
# Examples (docs/benchmarks.md section 5 has the lent machine's one command):
#   KIT=.device-kit PY=python3 OUT_DIR=$OUT bash dev/gpu_check.sh   # the lent machine
#   bash dev/gpu_check.sh                      # a GPU machine with the project's .venv
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
KIT=${KIT:-}
PY=${PY:-$([ -n "$KIT" ] && echo python3 || echo .venv/bin/python)}
OUT=${OUT_DIR:-results/gpu_$(date +%Y%m%d_%H%M%S)}
VARIANTS=${VARIANTS:-base sam ausam_0.5 random_0.5 sam_every_2 esam_0.5}
COMPILE_VARIANTS=${COMPILE_VARIANTS:-base sam ausam_0.5}
cores=$(nproc)
WORKERS=${WORKERS:-$(( cores > 16 ? 14 : (cores > 3 ? cores - 2 : 1) ))}
if [ "${DRY_RUN:-0}" = 1 ]; then
  CIFAR_BS=8; SIMCC_BS=2; ITERS=${ITERS:-2}; SKIP=${SKIP:-1}; ROUNDS=${ROUNDS:-1}
  PRECISION=(); TAG=fp32_dry; WORKERS=${WORKERS_DRY:-0}; LIMIT=${LIMIT:-0}
else
  CIFAR_BS=256; SIMCC_BS=64; ITERS=${ITERS:-30}; SKIP=${SKIP:-5}; ROUNDS=${ROUNDS:-2}
  PRECISION=(--amp); TAG=bf16; LIMIT=${LIMIT:-120}
fi
mkdir -p "$OUT/cfg"
exec > >(tee -a "$OUT/gpu_check.log") 2>&1
work=$(mktemp -d)  # the generated images: never in $OUT
trap 'rm -rf "$work"' EXIT
failed=0
took=()  # "seconds step" of the steps done
step() {  # end the step under way (its duration), begin the next
  [ -n "${current:-}" ] && took+=("$((SECONDS - began)) s  $current (load after: $(cut -d' ' \
    -f1-3 /proc/loadavg))")
  current="$*"; began=$SECONDS
  [ -n "$current" ] && printf '\n[gpu_check %s, load %s] %s\n' "$(date +%T)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$current"
}
limit=()  # the time limit of the benchmarks and the tests
[ "$LIMIT" -gt 0 ] && limit=(timeout -s INT -k 20 "$LIMIT")
run() {  # run a step, count it as failed on a non-zero exit, carry on
  "$@"; local rc=$?
  if [ $rc -ne 0 ]; then failed=$((failed + 1)); echo "[gpu_check] FAILED (rc=$rc): $*"; fi
}

if [ -n "$KIT" ]; then
  KIT_SITE=${KIT_SITE:-/tmp/ausam_kit_site}
  KIT_SITE=$(mkdir -p "$KIT_SITE" && cd "$KIT_SITE" && pwd)
  step "device kit $KIT -> $KIT_SITE (dev/device_install.sh)"
  bash dev/device_install.sh "$KIT" "$KIT_SITE" "$PY" || {
    echo "[gpu_check] FAILED: the device kit did not install; nothing else can run"; exit 99; }
  export PYTHONPATH="$root:$KIT_SITE${PYTHONPATH:+:$PYTHONPATH}"
fi

step "environment -> $OUT/env.txt"
{ date; uname -a; nvidia-smi 2>&1 || echo 'nvidia-smi: not available'
  "$PY" -c "import torch, mmengine, mmpretrain, mmpose; print('torch', torch.__version__, \
'cuda', torch.version.cuda, 'device', torch.cuda.get_device_name() if torch.cuda.is_available() \
else 'cpu'); print('mmengine', mmengine.__version__, 'mmpretrain', mmpretrain.__version__, \
'mmpose', mmpose.__version__)"; echo "PYTHONPATH=${PYTHONPATH:-}"; "$PY" -m pip list \
--format=freeze 2>/dev/null; } > "$OUT/env.txt" 2>&1
head -n 40 "$OUT/env.txt"

step "synthetic inputs and configs -> $OUT/cfg"
run "$PY" -m benchmarks.paper_configs "$work" --workers "$WORKERS"
cp "$work"/cfg/*.py "$OUT/cfg/"

bench() {  # name config batch
  local name=$1 cfg=$2 bs=$3
  step "benchmark_speed $name (batch $bs, $TAG, variants: $VARIANTS)"
  # shellcheck disable=SC2086
  run "${limit[@]}" "$PY" -m benchmarks.speed "$cfg" --batch-size "$bs" --iters "$ITERS" \
    --skip "$SKIP" --rounds "$ROUNDS" --variants $VARIANTS "${PRECISION[@]}" \
    --out "$OUT/speed_${name}_bs${bs}_${TAG}.json" \
    --cfg-options ${PRECISION:+optim_wrapper.dtype=bfloat16} randomness.seed=0
}
bench cifar_resnet18 "$work/cfg/cifar_resnet18_synthetic.py" "$CIFAR_BS"
bench simcc_res50_mpii256 "$work/cfg/simcc_res50_mpii_synthetic.py" "$SIMCC_BS"

step "pytest -m gpu"
run "${limit[@]}" "$PY" -m pytest -q -m gpu tests -p no:cacheprovider \
  --junitxml="$OUT/pytest_gpu.xml"

# -- torch.compile: eager vs compiled, CIFAR ResNet-18 ------------------------------------------
# Each variant eagerly and then with MMEngine's compile=True (torch.compile of train_step,
# inductor) in the same turns; compiled/eager ratios in compile_ratios of the JSON
# (docs/benchmarks.md, "torch.compile"). COMPILE_ROUNDS turns (default 1); at least 3 untimed
# iterations, where the compilation falls.
step "benchmark_speed cifar_resnet18 eager vs compiled (batch $CIFAR_BS, $TAG, variants: \
$COMPILE_VARIANTS)"
# shellcheck disable=SC2086
run "${limit[@]}" "$PY" -m benchmarks.speed "$work/cfg/cifar_resnet18_synthetic.py" \
  --batch-size "$CIFAR_BS" --iters "$ITERS" --skip "$(( SKIP > 3 ? SKIP : 3 ))" \
  --rounds "${COMPILE_ROUNDS:-1}" --variants $COMPILE_VARIANTS --compile "${PRECISION[@]}" \
  --out "$OUT/speed_cifar_resnet18_bs${CIFAR_BS}_${TAG}_compile.json" \
  --cfg-options ${PRECISION:+optim_wrapper.dtype=bfloat16} randomness.seed=0

step ""
echo; echo "[gpu_check] step durations (total $SECONDS s):"; printf '  %s\n' "${took[@]}"
echo "[gpu_check] done: $failed failed step(s); $(find "$OUT" -type f | wc -l) files in $OUT"
ls -lR "$OUT"
exit "$failed"
