#!/usr/bin/env bash
# Installs every Debian 12 package Sparrow builds, tests and benchmarks with, then builds
# Release into build/. Idempotent; run as root (or with sudo available).
#   bash scripts/setup.sh            # install + build
#   SPARROW_SKIP_INSTALL=1 bash scripts/setup.sh   # build only
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git
  libzmq3-dev cppzmq-dev
  libprotobuf-dev protobuf-compiler
  libgoogle-glog-dev libgflags-dev
  libtbb-dev libeigen3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libxxhash-dev libfast-float-dev libzstd-dev zlib1g-dev
  libmicrohttpd-dev libsimdjson-dev nlohmann-json3-dev libcurl4-openssl-dev curl wrk
  clang libclang-rt-14-dev
)

if [ "${SPARROW_SKIP_INSTALL:-0}" != 1 ]; then
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

BUILD_DIR=${BUILD_DIR:-build}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "${launcher[@]}" ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
echo "setup: built $BUILD_DIR/sparrow"
