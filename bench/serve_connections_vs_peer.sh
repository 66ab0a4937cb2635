#!/usr/bin/env bash
# Same-minute comparison: old daemon (main), new daemon (branch), bare libmicrohttpd peer,
# each on core 0 (a fresh process per load tool), loaded from core 1 by wrk -t1 and by the
# bench's client sweep.
cd "$(dirname "$0")/.."
LUA=../shared/peers/http_const/gmsc_record.lua
# OLD: a `sparrow` built before the change (issue 15 item 8); the peer binary is built from
# ../shared/peers/http_const/http_const.cc (g++ -O2 ... -lmicrohttpd) into /tmp/peers.
NEW=./build/sparrow; OLD=${OLD:-/tmp/sparrow_before}; M=${MODEL:-/tmp/gmsc/model.bin}
mkdir -p /tmp/peers
[ -x /tmp/peers/http_const ] || g++ -O2 -std=c++17 -o /tmp/peers/http_const \
  ../shared/peers/http_const/http_const.cc -lmicrohttpd
start() {  # srv port
  case $1 in
    old) taskset -c 0 $OLD serve --model=$M --http=127.0.0.1:$2 --binary=off --threads=1 >/dev/null 2>&1 & ;;
    new) taskset -c 0 $NEW serve --model=$M --http=127.0.0.1:$2 --binary=off --threads=1 >/dev/null 2>&1 & ;;
    peer) taskset -c 0 /tmp/peers/http_const $2 120 & ;;
  esac
  pid=$!; sleep 0.7
}
for round in ${ROUNDS:-1 2 3}; do
  echo "round=$round start $(date +%T) load $(cut -d" " -f1 /proc/loadavg)"
  for srv in old new peer; do
    case $srv in old) o=1;; new) o=2;; peer) o=3;; esac; port=$((30000 + round * 10 + o))
    start $srv $port
    for c in ${WRK_C:-64 512 1024}; do
      r=$(taskset -c 1 wrk -t1 -c$c -d3s --latency -s $LUA http://127.0.0.1:$port/v1/score 2>&1)
      echo "round=$round srv=$srv tool=wrk c=$c $(date +%T) rps=$(echo "$r" | awk '/Requests\/sec/{print $2}') p99=$(echo "$r" | awk '$1=="99%"{print $2}') non2xx=$(echo "$r" | awk '/Non-2xx/{print $5}')"
    done
    kill $pid; wait $pid 2>/dev/null
    start $srv $((port + 100))
    $NEW bench serve --model=$M --target=127.0.0.1:$((port + 100)) --connections=${SWEEP:-64,256,1024,4096} --seconds=3 2>&1 | grep '^sweep:' | sed "s/^/round=$round srv=$srv tool=client $(date +%T) /"
    kill $pid; wait $pid 2>/dev/null
  done
done
