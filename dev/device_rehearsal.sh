#!/usr/bin/env bash
# The lent GPU machine's whole path, rehearsed on this CPU (`make device-rehearsal`): the proof
# that the device kit is complete. As close to that machine as this one allows:
#   1. a fresh virtualenv (DEVICE_VENV) of a Python 3.12, the machine's minor version, holding
#      only packages of the machine's image, those the GPU check uses, at the image's versions
#      where they are known (torch 2.11.0, torchvision 0.26.0, numpy 2.5.2): the list of
#      `dev/device_kit.py image-requirements`; nothing of the OpenMMLab stack;
#   2. the kit (.device-kit, `make device-kit`) for that Python, built first if KIT has none;
#   3. the machine's one command (docs/benchmarks.md section 5) with DRY_RUN=1: the kit installed
#      by dev/device_install.sh with pip --no-index, xtcocotools and mmcv built from the kit's
#      sdists, both benchmarks with every variant at tiny batches, `pytest -m gpu` collecting
#      the whole suite and skipping its GPU tests.
# Each step prints its duration and the load average. It builds a second mmcv (about 10 minutes
# on 2 idle cores): it is not part of `make test`.
#
# Environment:
#   PYTHON       the Python 3.12 (default: python3.12 on PATH, else pyenv's newest 3.12)
#   DEVICE_VENV  the stand-in virtualenv (default .venv-device; made anew each run)
#   KIT          the kit (default .device-kit)   KIT_PY  python that builds it (.venv/bin/python)
#   OUT_DIR      the results (default work_dirs/device_rehearsal)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
venv=${DEVICE_VENV:-.venv-device}
kit=${KIT:-.device-kit}
kit_py=${KIT_PY:-.venv/bin/python}
out=${OUT_DIR:-work_dirs/device_rehearsal}
python=${PYTHON:-}
if [ -z "$python" ]; then
  if python3.12 --version >/dev/null 2>&1; then python=python3.12
  else
    pyenv=$(pyenv root 2>/dev/null || echo ~/.pyenv)
    python=$(ls -d "$pyenv"/versions/3.12*/bin/python3 2>/dev/null | sort -V | tail -n 1)
  fi
fi
[ -n "$python" ] || { echo "no Python 3.12 found: set PYTHON" >&2; exit 2; }
py_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
t0=$SECONDS; t_all=$SECONDS
load() { cut -d' ' -f1-3 /proc/loadavg; }
took() { echo "[rehearsal] $((SECONDS - t0)) s: $1 (load $(load))"; t0=$SECONDS; }
echo "[rehearsal] $python (Python $py_version), load $(load)"

rm -rf "$venv" "$out"
"$python" -m venv "$venv"
mapfile -t image < <(PYTHONPATH="$root" "$kit_py" dev/device_kit.py image-requirements)
echo "[rehearsal] the image's packages the GPU check uses: ${image[*]}"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "${image[@]}" 2>&1 \
  | grep -v -E "^WARNING: Location '.*' is ignored" || true
# the venv must hold nothing that the image lacks (what pip pulled in must be listed there too)
canon() { tr 'A-Z_.' 'a-z--' | sort -u; }
extra=$(comm -23 \
  <("$venv/bin/python" -m pip list --format=freeze 2>/dev/null | cut -d= -f1 | canon) \
  <(grep -v '^#' requirements/device-image.txt | cut -d= -f1 | canon))
echo "[rehearsal] in the venv but not in requirements/device-image.txt: ${extra:-none}"
took "venv $venv: $("$venv/bin/python" -c \
  'import torch, numpy; print("torch", torch.__version__, "numpy", numpy.__version__)')"

if [ ! -f "$kit/MANIFEST.tsv" ] || ! grep -q "CPython $py_version " "$kit/MANIFEST.tsv"; then
  PYTHONPATH="$root" "$kit_py" dev/device_kit.py build --out "$kit" --python-version "$py_version"
fi
echo "[rehearsal] kit $kit: $(find "$kit" -type f | wc -l) files, $(du -sb "$kit" | cut -f1) bytes"
took "kit"

rc=0
DRY_RUN=1 KIT="$kit" KIT_SITE="$venv/kit-site" PY="$venv/bin/python" OUT_DIR="$out" \
  bash dev/gpu_check.sh || rc=$?
took "DRY_RUN=1 dev/gpu_check.sh (exit status $rc)"
echo "[rehearsal] total $((SECONDS - t_all)) s; results in $out"
exit "$rc"
