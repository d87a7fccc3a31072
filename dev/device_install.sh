#!/usr/bin/env bash
# Installs the device kit (dev/device_kit.py build; `make device-kit`) on top of a Python that
# already has torch, numpy, Cython and the rest of the lent GPU machine's image, without an
# index: the kit's wheels with `pip --no-index --target SITE`, then xtcocotools and mmcv built
# from the kit's sdists against that Python's numpy and torch (dev/sdist_patches.sh), then an
# import check. Nothing of the machine's own packages is changed; the caller puts SITE (and the
# repository) on PYTHONPATH, as dev/gpu_check.sh does. Rerunning with the same kit and SITE
# reuses what was installed. Each step prints its duration.
#
# mmcv is built with CPU ops only, the GPU hidden from the build (CUDA_VISIBLE_DEVICES='',
# FORCE_CUDA=0): the benchmarked models (CIFAR ResNet-18, SimCC ResNet-50) and tests/test_gpu.py
# run no mmcv op; `import mmpose.models` only needs mmcv.ops to import. Its CUDA kernels would
# take far longer to compile, for nothing the GPU check uses.
#
# Usage: dev/device_install.sh KIT SITE [PY]     (PY default: python3; MAX_JOBS default nproc)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
kit=$(cd "${1:?usage: device_install.sh KIT SITE [PY]}" && pwd)
site=${2:?usage: device_install.sh KIT SITE [PY]}
py=${3:-python3}
# shellcheck source=dev/sdist_patches.sh
source "$root/dev/sdist_patches.sh"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INDEX=1
mkdir -p "$site"
site=$(cd "$site" && pwd)
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
stamp="$site/.device-kit.installed"
t0=$SECONDS
took() { echo "[device_install] $1: $((SECONDS - t0)) s"; t0=$SECONDS; }

if cmp -s "$kit/MANIFEST.tsv" "$stamp"; then
  echo "[device_install] $site already holds this kit ($kit/MANIFEST.tsv)"
else
  echo "[device_install] $kit -> $site: $(sed -n 2p "$kit/MANIFEST.tsv" | cut -d';' -f1 | cut -c3-)"
  # byte-compiled here (pip keeps the compiler's warnings to itself): the OpenMMLab sources'
  # invalid escapes in docstrings would otherwise print SyntaxWarnings in every process
  pip_quiet "$py" install -q --no-deps --upgrade --target "$site" "$kit"/wheels/*.whl
  took "wheels"

  dist=$(mktemp -d)
  xtcocotools_wheel "$py" "$kit"/sdist/xtcocotools-*.tar.gz "$dist"
  took "xtcocotools built against numpy $("$py" -c 'import numpy; print(numpy.__version__)')"

  jobs=${MAX_JOBS:-$(nproc)}
  torch_v=$("$py" -c 'import torch; print(torch.__version__)')
  CUDA_VISIBLE_DEVICES='' FORCE_CUDA=0 MAX_JOBS=$jobs \
    mmcv_wheel "$py" "$kit"/sdist/mmcv-*.tar.gz "$dist"
  took "mmcv built with CPU ops against torch $torch_v ($jobs jobs)"

  pip_quiet "$py" install -q --no-deps --upgrade --target "$site" "$dist"/*.whl
  rm -rf "$dist"
  cp "$kit/MANIFEST.tsv" "$stamp"
fi

# the imports the kit is for (IMPORTS of dev/device_kit.py), mmcv's ops and xtcocotools' masks
NO_ALBUMENTATIONS_UPDATE=1 PYTHONPATH="$root:$PYTHONPATH" "$py" - <<'PY'
import ausam_mm, brevitas, mmcv, mmengine, mmpose.models, mmpretrain.models, torch  # noqa
import xtcocotools.mask as cocomask
from mmcv.ops import nms
nms(torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]]), torch.tensor([0.9, 0.8]), 0.5)
rle = cocomask.frPyObjects([[2., 2., 12., 2., 12., 8., 2., 8.]], 16, 20)
assert int(cocomask.decode(rle).sum()) == 60, 'xtcocotools mask'
print(f'[device_install] imports ok: torch {torch.__version__}, mmcv {mmcv.__version__} '
      f'(ops), mmengine {mmengine.__version__}, ausam_mm {ausam_mm.__version__}, from '
      f'{mmcv.__file__.rsplit("/mmcv/", 1)[0]}')
PY
took "import check"
