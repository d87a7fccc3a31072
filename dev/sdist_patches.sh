# The stack's two source builds, each a wheel built from a copy of the sdist with one fix, for
# the two install paths that source this file: dev/install.sh (the project's venvs) and
# dev/device_install.sh (the device kit on the lent GPU machine). Both build without build
# isolation, against the torch, numpy, Cython and setuptools of the interpreter they are given.
#
#   pip_quiet PY ARGS...                     PY's pip, without this machine's index warnings
#   xtcocotools_wheel PY SDIST DIST          build xtcocotools from SDIST into folder DIST
#   mmcv_wheel PY SDIST DIST                 build mmcv with ops from SDIST into folder DIST
#                                            (MAX_JOBS compile jobs, default 2)

pip_quiet() {  # PY ARGS...: pip, without the noise of this machine's unused local index entries
  local py=$1; shift
  "$py" -m pip "$@" 2>&1 | grep -v -E "^WARNING: Location '.*' is ignored" || return "${PIPESTATUS[0]}"
}

unpacked() {  # SDIST: a fresh copy of the sdist's source; prints its folder
  local sdist=$1 tmp
  tmp=$(mktemp -d)
  tar -xzf "$sdist" -C "$tmp"
  echo "$tmp/$(basename "$sdist" .tar.gz)"
}

# xtcocotools (MMPose's COCO API; its mask functions decode crowd and unlabelled people for the
# bottom-up and one-stage models) has no release for numpy >= 2.3: its _mask.pyx sets
# `np.NPY_OWNDATA`, a name numpy 2.3 removed (numpy's own replacement since 1.7 is
# NPY_ARRAY_OWNDATA), and Cython turns the unknown name into a runtime lookup, so the build
# succeeds and every mask decode raises AttributeError. No build flag adds the name back, so the
# build uses a copy of the sdist with that one name changed. Delete this when an xtcocotools
# release builds against the pinned numpy (jin-s13/xtcocoapi on PyPI).
xtcocotools_wheel() {  # PY SDIST DIST
  local py=$1 src
  src=$(unpacked "$2")
  sed -i 's/np\.NPY_OWNDATA/np.NPY_ARRAY_OWNDATA/g' "$src/xtcocotools/_mask.pyx"
  if grep -q 'np\.NPY_OWNDATA' "$src/xtcocotools/_mask.pyx" \
      || ! grep -q 'np\.NPY_ARRAY_OWNDATA' "$src/xtcocotools/_mask.pyx"; then
    echo "$2: _mask.pyx is not the expected source; check the fix in dev/sdist_patches.sh" >&2
    return 1
  fi
  pip_quiet "$py" wheel -q --no-deps --no-build-isolation -w "$3" "$src"
  rm -rf "$(dirname "$src")"
}

# mmcv 2.1.0 has no wheel for the torch versions of the stack: it is built from the sdist with its
# C++ ops (`import mmpose.models` and mmdet's models import mmcv.ops, so mmcv-lite cannot serve).
# Its setup.py hard-codes -std=c++17; newer torch headers (2.14's) need C++20, so when torch's own
# extension builder uses C++20 the build uses a copy of the sdist with that one flag changed
# (torch 2.1 keeps mmcv's c++17). mmcv compiles CUDA ops when torch sees a GPU or FORCE_CUDA=1,
# CPU ops otherwise.
mmcv_wheel() {  # PY SDIST DIST
  local py=$1 src torch_ext
  src=$(unpacked "$2")
  torch_ext=$("$py" -c 'import torch.utils.cpp_extension as e; print(e.__file__)')
  if grep -q -- '-std=c++20' "$torch_ext"; then
    sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
    grep -q -- '-std=c++20' "$src/setup.py"
  fi
  # -g0: no debug info (Python's own CFLAGS ask for -g, which the ops do not need)
  CFLAGS="${CFLAGS:-} -g0" MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} \
    pip_quiet "$py" wheel -q --no-deps --no-build-isolation -w "$3" "$src"
  rm -rf "$(dirname "$src")"
}
