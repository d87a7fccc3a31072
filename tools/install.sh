#!/usr/bin/env bash
# The one install path of ausam_mm (README, `make install`, `make test`, CI):
# creates .venv/ at the repository root with the pinned stack of requirements/lock.txt and
# ausam_mm installed editable. Safe to rerun; a second run reuses the cached mmcv wheel.
#
# Environment:
#   PYTHON            interpreter for the venv (default: python3.11)
#   AUSAM_WHEEL_CACHE where the built mmcv wheel is kept (default: ~/.cache/ausam_mm/wheels)
#   MAX_JOBS          parallel compile jobs for mmcv (default: 2)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
lock=requirements/lock.txt
python=${PYTHON:-python3.11}
venv=.venv
pip="$venv/bin/pip"
py="$venv/bin/python"
pin() { grep -E "^$1==" "$lock" | head -n1 | cut -d= -f3; }
step() { printf '\n[install] %s\n' "$*"; }
quiet_pip() {  # pip, without the noise of this machine's unused local index entries
  "$pip" "$@" 2>&1 | grep -v -E "^WARNING: Location '.*' is ignored" || return "${PIPESTATUS[0]}"
}

step "venv $venv ($($python --version))"
[ -x "$py" ] || "$python" -m venv "$venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1

step "build tools"
quiet_pip install -q -c "$lock" setuptools wheel ninja Cython

step "torch $(pin torch), torchvision $(pin torchvision)"
quiet_pip install -q -c "$lock" torch torchvision

step "runtime dependencies (exact pins of $lock)"
special='^(mmcv|mmpose|mmdet|mmpretrain|xtcocotools|setuptools|wheel|ninja|Cython|torch|torchvision)=='
mapfile -t rest < <(grep -E '^[A-Za-z0-9_.-]+==' "$lock" | grep -v -E "$special")
quiet_pip install -q -c "$lock" "${rest[@]}"

step "xtcocotools $(pin xtcocotools), built against numpy $(pin numpy)"
if ! "$py" -c "import xtcocotools.coco" 2>/dev/null; then
  quiet_pip install -q -c "$lock" --no-binary xtcocotools --no-build-isolation xtcocotools
fi

# mmcv 2.1.0 has no wheel for torch 2.14: build it from the sdist with its C++ ops. Its setup.py
# hard-codes -std=c++17, but torch 2.14's headers need C++20, so the build uses a copy of the
# sdist with that one flag changed. The wheel is cached per (mmcv, torch, python) version.
mmcv_v=$(pin mmcv); torch_v=$(pin torch)
py_tag=$("$py" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
# mmcv compiles CUDA ops when torch sees a GPU or FORCE_CUDA=1, CPU ops otherwise
ops=$("$py" -c 'import os, torch; print("cuda" if torch.cuda.is_available() or os.environ.get("FORCE_CUDA") == "1" else "cpu")')
cache=${AUSAM_WHEEL_CACHE:-$HOME/.cache/ausam_mm/wheels}/mmcv${mmcv_v}-torch${torch_v}-${py_tag}-${ops}
step "mmcv $mmcv_v with ops (wheel cache: $cache)"
if ! ls "$cache"/mmcv-"$mmcv_v"-*.whl >/dev/null 2>&1; then
  src=$(mktemp -d)
  quiet_pip download -q --no-deps --no-binary :all: --no-build-isolation -d "$src" "mmcv==$mmcv_v"
  tar -xzf "$src/mmcv-$mmcv_v.tar.gz" -C "$src"
  sed -i 's/-std=c++17/-std=c++20/g' "$src/mmcv-$mmcv_v/setup.py"
  grep -q -- '-std=c++20' "$src/mmcv-$mmcv_v/setup.py"
  echo "building mmcv (about 13 min on 2 cores)..."
  mkdir -p "$cache"
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} quiet_pip wheel -q --no-deps --no-build-isolation \
    -w "$src/dist" "$src/mmcv-$mmcv_v"
  mv "$src"/dist/mmcv-"$mmcv_v"-*.whl "$cache"/
  rm -rf "$src"
fi
quiet_pip install -q --no-deps "$cache"/mmcv-"$mmcv_v"-*.whl

step "mmpose, mmdet, mmpretrain (--no-deps; their real needs are in $lock)"
quiet_pip install -q --no-deps -c "$lock" mmpose mmdet mmpretrain

step "ausam_mm (editable)"
quiet_pip install -q --no-deps --no-build-isolation -e .

step "pip check"
# Two reports are known and harmless: mmpose declares chumpy (only its SMPL tools use it; it
# does not build against numpy 2) and mmpretrain declares `modelindex`, which PyPI ships as
# `model-index`. Anything else fails the install.
check=$("$pip" check 2>&1 | grep -v -E "^WARNING: Location" || true)
unexpected=$(printf '%s\n' "$check" | grep -v -E \
  '^(mmpose [0-9.]+ requires chumpy|mmpretrain [0-9.]+ requires modelindex|No broken requirements)' \
  | grep -v '^$' || true)
printf '%s\n' "$check"
if [ -n "$unexpected" ]; then
  echo "pip check found unexpected problems:" >&2; printf '%s\n' "$unexpected" >&2; exit 1
fi

step "import check"
"$py" - <<'PY'
import brevitas, mmcv, mmcv.ops, mmdet, mmengine, mmpose.models, mmpretrain.models, torch
import ausam_mm
from mmcv.ops import nms
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
nms(boxes, torch.tensor([0.9, 0.8]), 0.5)
print(f'torch {torch.__version__}, mmcv {mmcv.__version__} (ops ok), mmengine '
      f'{mmengine.__version__}, mmpose {mmpose.__version__}, mmpretrain '
      f'{mmpretrain.__version__}, brevitas {brevitas.__version__}, ausam_mm '
      f'{ausam_mm.__version__}')
PY
