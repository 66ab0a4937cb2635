#!/usr/bin/env bash
# Sparrow's `bench kv` beside dmlc/ps-lite (../shared/peers/pslite) on the same shapes, in
# the same minute: N unique keys, 1 float each, one request in flight, push then pull.
#   bash bench/kv_vs_pslite.sh [ROUNDS]
# ps-lite's peer script runs 1 worker; the S=2,W=2 line of Sparrow is printed for scale.
# Sparrow S=1,W=1 runs twice: over links (its default on one host) and over ZeroMQ.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
peers=../shared/peers/pslite/run.sh
for round in $(seq "$rounds"); do
  for n in 100000 1000000; do
    if [ -x "$(command -v bash)" ] && [ -f "$peers" ]; then
      bash "$peers" 1 "$n" 2>/dev/null | awk -v n="$n" '/op=(push|pull) /{for(i=1;i<=NF;i++){split($i,a,"=");v[a[1]]=a[2]}; printf "pslite  S=1 W=1 N=%s %s %.1fM keys/s\n", n, v["op"], v["Mkeys_s_med"]} /op=pull_lat/{for(i=1;i<=NF;i++){split($i,a,"=");v[a[1]]=a[2]}; printf "pslite  S=1 W=1 100-key pull p50 %sus p99 %sus\n", v["p50_us"], v["p99_us"]}'
    fi
    # Links (the default between nodes of one host), then ZeroMQ over loopback TCP as
    # ps-lite uses and as nodes on different hosts do.
    for sw in "1 1 true" "1 1 false" "2 2 true"; do
      set -- $sw
      printf "sparrow S=%s W=%s N=%s %s " "$1" "$2" "$n" "$([ "$3" = true ] && echo links || echo zeromq)"
      ./build/sparrow bench kv --servers="$1" --workers="$2" --keys="$n" --seconds=3 \
        --local_ipc="$3" 2>/dev/null | tail -1
    done
  done
done
