#!/usr/bin/env bash
# The one install path of ausam_mm (README, `make install`, `make test`, `make test-compat`, CI):
# creates a venv at the repository root with the pinned stack of a lock file and ausam_mm
# installed editable. Safe to rerun; a second run reuses the cached mmcv wheel.
#
# Environment:
#   LOCK              the lock file (default: requirements/lock.txt; the old end of the supported
#                     range: requirements/lock-torch2.1.txt)
#   VENV              the venv to create (default: .venv; for the torch 2.1 lock: .venv-torch2.1)
#   PYTHON            interpreter for the venv (default: python3.11)
#   AUSAM_WHEEL_CACHE where the built mmcv wheel is kept (default: ~/.cache/ausam_mm/wheels)
#   MAX_JOBS          parallel compile jobs for mmcv (default: 2)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
lock=${LOCK:-requirements/lock.txt}
python=${PYTHON:-python3.11}
venv=${VENV:-.venv}
[ -f "$lock" ] || { echo "LOCK: no such lock file: $lock" >&2; exit 2; }
pip="$venv/bin/pip"
py="$venv/bin/python"
pin() { grep -E "^$1==" "$lock" | head -n1 | cut -d= -f3; }
step() { printf '\n[install] %s\n' "$*"; }
# shellcheck source=dev/sdist_patches.sh
source dev/sdist_patches.sh  # pip_quiet and the xtcocotools and mmcv source builds
quiet_pip() { pip_quiet "$py" "$@"; }

step "venv $venv ($($python --version))"
[ -x "$py" ] || "$python" -m venv "$venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1

step "build tools"
quiet_pip install -q -c "$lock" setuptools wheel ninja Cython

step "torch $(pin torch), torchvision $(pin torchvision)"
quiet_pip install -q -c "$lock" torch torchvision

step "runtime dependencies (exact pins of $lock)"
special='^(mmcv|mmpose|mmdet|mmpretrain|xtcocotools|albumentations|albucore|setuptools|wheel|ninja|Cython|torch|torchvision)=='
mapfile -t rest < <(grep -E '^[A-Za-z0-9_.-]+==' "$lock" | grep -v -E "$special")
quiet_pip install -q -c "$lock" "${rest[@]}"

# xtcocotools and mmcv are built from their sdists with one fix each (dev/sdist_patches.sh)
xt_v=$(pin xtcocotools)
step "xtcocotools $xt_v, built against numpy $(pin numpy) (NPY_OWNDATA -> NPY_ARRAY_OWNDATA)"
mask_ok='import xtcocotools.mask as m; m.decode(m.frPyObjects([[0., 0., 3., 0., 3., 3.]], 4, 4))'
if ! "$py" -c "$mask_ok" 2>/dev/null; then
  src=$(mktemp -d)
  quiet_pip download -q --no-deps --no-binary :all: --no-build-isolation -d "$src" \
    "xtcocotools==$xt_v"
  xtcocotools_wheel "$py" "$src/xtcocotools-$xt_v.tar.gz" "$src/dist"
  quiet_pip install -q --no-deps --force-reinstall "$src"/dist/xtcocotools-"$xt_v"-*.whl
  rm -rf "$src"
fi

# albumentations (MMPose's `Albumentation` transform: RTMPose, RTMO, CSPNeXt-UDP) 1.4.24, not
# 2.x: 2.x drops CoarseDropout's max_holes/max_height/... (the RTMPose configs' arguments) with
# a warning and trains with its defaults instead. --no-deps: both it and albucore ask for
# opencv-python-headless, a second distribution of the same cv2 module that opencv-python
# (mmcv's) already provides at the same version; their other needs are in the lock.
step "albumentations $(pin albumentations), albucore $(pin albucore) (--no-deps)"
quiet_pip install -q --no-deps -c "$lock" albumentations albucore

# The mmcv wheel is cached per (mmcv, torch, python) version and ops flavour.
mmcv_v=$(pin mmcv); torch_v=$(pin torch)
py_tag=$("$py" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
# mmcv compiles CUDA ops when torch sees a GPU or FORCE_CUDA=1, CPU ops otherwise
ops=$("$py" -c 'import os, torch; print("cuda" if torch.cuda.is_available() or os.environ.get("FORCE_CUDA") == "1" else "cpu")')
cache=${AUSAM_WHEEL_CACHE:-$HOME/.cache/ausam_mm/wheels}/mmcv${mmcv_v}-torch${torch_v}-${py_tag}-${ops}
step "mmcv $mmcv_v with $ops ops (wheel cache: $cache)"
if ! ls "$cache"/mmcv-"$mmcv_v"-*.whl >/dev/null 2>&1; then
  src=$(mktemp -d)
  quiet_pip download -q --no-deps --no-binary :all: --no-build-isolation -d "$src" "mmcv==$mmcv_v"
  echo "building mmcv with ops (11 to 16 min on 2 idle cores, much longer under load)..."
  mkdir -p "$cache"
  mmcv_wheel "$py" "$src/mmcv-$mmcv_v.tar.gz" "$src/dist"
  mv "$src"/dist/mmcv-"$mmcv_v"-*.whl "$cache"/
  rm -rf "$src"
fi
quiet_pip install -q --no-deps "$cache"/mmcv-"$mmcv_v"-*.whl

step "mmpose, mmdet, mmpretrain (--no-deps; their real needs are in $lock)"
quiet_pip install -q --no-deps -c "$lock" mmpose mmdet mmpretrain

step "ausam_mm (editable)"
quiet_pip install -q --no-deps --no-build-isolation -e .

step "pip check"
# Known and harmless reports: mmpose declares chumpy (only its SMPL tools use it; it does not
# build against numpy 2), mmpretrain declares `modelindex`, which PyPI ships as `model-index`,
# and albumentations/albucore declare opencv-python-headless (cv2 comes from opencv-python, see
# above). Anything else fails the install.
check=$("$pip" check 2>&1 | grep -v -E "^WARNING: Location" || true)
unexpected=$(printf '%s\n' "$check" | grep -v -E \
  '^(mmpose [0-9.]+ requires chumpy|mmpretrain [0-9.]+ requires modelindex|(albumentations|albucore) [0-9.]+ requires opencv-python-headless|No broken requirements)' \
  | grep -v '^$' || true)
printf '%s\n' "$check"
if [ -n "$unexpected" ]; then
  echo "pip check found unexpected problems:" >&2; printf '%s\n' "$unexpected" >&2; exit 1
fi

step "import check"
NO_ALBUMENTATIONS_UPDATE=1 "$py" - <<'PY'
import brevitas, mmcv, mmcv.ops, mmdet, mmengine, mmpose.models, mmpretrain.models, torch
import numpy as np
import xtcocotools.mask as cocomask
from mmpose.datasets.transforms import Albumentation
import flake8, onnx, onnxoptimizer, onnxruntime, onnxscript, tensorboard  # make test
import ausam_mm
from mmcv.ops import nms
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
nms(boxes, torch.tensor([0.9, 0.8]), 0.5)
# MMPose's Albumentation transform with the RTMPose configs' CoarseDropout arguments: one hole
# of exactly half the height and width (albumentations 2.x would ignore them)
img = np.random.default_rng(0).integers(1, 256, (64, 48, 3), dtype=np.uint8)
albu = Albumentation(transforms=[dict(type='CoarseDropout', max_holes=1, min_holes=1,
                                      max_height=0.5, min_height=0.5, max_width=0.5,
                                      min_width=0.5, p=1.0)])
out = albu(dict(img=img.copy()))['img']
assert out.shape == img.shape and int((out == 0).all(-1).sum()) == 32 * 24, 'Albumentation'
# xtcocotools' masks, as MMPose's bottom-up transforms use them: polygon -> RLE -> mask -> RLE
rle = cocomask.merge(cocomask.frPyObjects([[2., 2., 12., 2., 12., 8., 2., 8.]], 16, 20))
mask = cocomask.decode(rle)
assert mask.shape == (16, 20) and int(mask.sum()) == int(cocomask.area(rle)) == 60, 'polygon'
assert cocomask.encode(np.asfortranarray(mask)) == rle, 'encode'
raw = cocomask.frPyObjects({'size': [16, 20], 'counts': [5, 10, 305]}, 16, 20)
assert int(cocomask.decode(raw).sum()) == 10, 'uncompressed RLE'
print(f'torch {torch.__version__}, mmcv {mmcv.__version__} (ops ok), mmengine '
      f'{mmengine.__version__}, mmpose {mmpose.__version__}, mmpretrain '
      f'{mmpretrain.__version__}, brevitas {brevitas.__version__}, ausam_mm '
      f'{ausam_mm.__version__}; albumentations and xtcocotools masks ok')
PY
