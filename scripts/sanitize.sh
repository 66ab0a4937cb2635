#!/usr/bin/env bash
# Sanitizer builds. ASan+UBSan over the whole suite, or TSan over the concurrent parts
# (transport, store, cluster):
#   bash scripts/sanitize.sh address      # build-asan/, every test
#   bash scripts/sanitize.sh thread       # build-tsan/, tests labelled "concurrent"
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-address}
case "$kind" in
  address) dir=build-asan; label_args=() ;;
  thread) dir=build-tsan; label_args=(-L concurrent) ;;
  *) echo "usage: $0 address|thread" >&2; exit 2 ;;
esac
SPARROW_SKIP_INSTALL=${SPARROW_SKIP_INSTALL:-0} BUILD_DIR=$dir BUILD_TYPE=RelWithDebInfo \
  CMAKE_ARGS="-DSPARROW_SANITIZE=$kind -DSPARROW_BUILD_BENCH=OFF" bash scripts/setup.sh
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Debian's libzmq, oneTBB and glog are not built with TSan; scripts/tsan.supp says which of
# their internals it cannot see through, and why.
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp"
ctest --test-dir "$dir" --output-on-failure -j2 --timeout 900 "${label_args[@]}"
