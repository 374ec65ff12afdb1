#!/usr/bin/env bash
# One command from a fresh clone to a working `build/bert` (idempotent: re-running it only does
# what is missing). Installs Debian's C++ dependencies, creates .venv with the pinned PyTorch
# CPU wheel (its LibTorch is what we link) and the Python reference packages, then configures
# and builds with CMake + Ninja.
#
#   scripts/setup.sh            # everything
#   BUILD_DIR=build-asan CMAKE_ARGS=-DBERT_SANITIZE=ON scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
VENV=${VENV:-$ROOT/.venv}

DEBIAN_PACKAGES=(cmake g++ ninja-build pkg-config libcli11-dev libspdlog-dev catch2 nlohmann-json3-dev
                 libsentencepiece-dev libutf8proc-dev libgloo-dev)
missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "[setup] installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" - <<'PY' 2>/dev/null
import importlib.metadata as m, re, sys
wanted = [l.split("#")[0].strip() for l in open("scripts/requirements.txt")]
for spec in filter(None, wanted):
    name, version = spec.split("==")
    if not m.version(name).startswith(version): sys.exit(1)
PY
then
  echo "[setup] installing Python packages (scripts/requirements.txt)"
  "$VENV/bin/pip" install -q --disable-pip-version-check torch==2.13.0
  "$VENV/bin/pip" install -q --disable-pip-version-check -r scripts/requirements.txt
fi

TORCH_PREFIX=$("$VENV/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
GENERATOR=()
[ -f "$BUILD_DIR/CMakeCache.txt" ] || GENERATOR=(-G Ninja)
cmake -S . -B "$BUILD_DIR" "${GENERATOR[@]}" -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
      -DBERT_PYTHON="$VENV/bin/python" ${CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j "$(nproc)"
echo "[setup] done: $BUILD_DIR/bert"
