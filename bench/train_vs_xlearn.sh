#!/usr/bin/env bash
# `sparrow train` beside xLearn's FFM on the same data, in the same minutes: rounds of
# xLearn 10 epochs, xLearn 20 epochs and Sparrow 10 epochs, interleaved, medians printed.
#   XLEARN=/path/to/xlearn_train bash bench/train_vs_xlearn.sh [td|fr] [ROUNDS]
# td: configs/talkingdata_ffm.conf; fr: configs/fremtpl_ffm.conf (Poisson) beside xLearn's
# binary FFM on ClaimNb > 0 with the same nine fields. k=4, one thread each, 10 epochs.
#
# xLearn prints epoch times to 10 ms only, so its time per epoch is taken as
# (wall of 20 epochs - wall of 10 epochs) / 10: the training loop alone, parsing and set-up
# cancelled. Sparrow's is the median of its epochs 2-10 from metrics.json (epoch 1 also
# inserts every key), its wall the whole `sparrow train`, cluster start to model file.
#
# xLearn is not a Debian package: build github.com/aksnzhy/xlearn (CMake, Release). Two
# changes were needed on Debian 12: its demo/CMakeLists.txt copies a higgs-train.csv that a
# source snapshot may lack (drop that copy), and get_user_name() in src/base/system.h
# builds a std::string from a null pointer when USER is unset (set USER, or patch).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-td}
rounds=${2:-5}
xlearn=${XLEARN:?set XLEARN to an xlearn_train binary}
bin=./build/sparrow
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export USER=${USER:-sparrow}
case "$data" in
  td)
    conf=configs/talkingdata_ffm.conf
    awk -F, -v train="$work/train.ffm" -v test="$work/test.ffm" -f bench/xlearn/td2ffm.awk \
      ../shared/data/talkingdata/train_sample.csv
    ;;
  fr)
    conf=configs/fremtpl_ffm.conf
    awk -F, -v train="$work/train.ffm" -v test="$work/test.ffm" -f bench/xlearn/fr2ffm.awk \
      ../shared/data/freMTPL2freq/freMTPL2freq.csv
    ;;
  *) echo "usage: XLEARN=... $0 [td|fr] [ROUNDS]" >&2; exit 2 ;;
esac
rows=$(wc -l <"$work/train.ffm")
now() { date +%s.%N; }
for r in $(seq "$rounds"); do
  for e in 10 20; do
    t0=$(now)
    "$xlearn" "$work/train.ffm" -s 2 -k 4 -e "$e" -nthread 1 --dis-es --no-bin -m none \
      -l "$work/xl" >"$work/xl.out" 2>&1
    t1=$(now)
    echo "xl$e $(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')"
  done
  "$bin" train "$conf" --out="$work/run" --set train.epochs=10 \
    --set train.evaluate_every_epoch=false >/dev/null 2>&1
  # metrics.json: "history": [{..."seconds": S...}, ...], "wall_s": W
  tr -d '\n ' <"$work/run/metrics.json" | grep -o '"seconds":[0-9.e-]*' | cut -d: -f2 |
    tail -n +2 | sort -g | awk '{v[NR]=$1} END{printf "sp_epoch %s\n", v[int((NR+1)/2)]}'
  tr -d '\n ' <"$work/run/metrics.json" | grep -o '"wall_s":[0-9.e-]*' | cut -d: -f2 |
    sed 's/^/sp_wall /'
done >"$work/res"
median() { sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
x10=$(awk '$1=="xl10"{print $2}' "$work/res" | median)
per=$(paste <(awk '$1=="xl10"{print $2}' "$work/res") <(awk '$1=="xl20"{print $2}' "$work/res") |
  awk '{print ($2-$1)/10}' | median)
se=$(awk '$1=="sp_epoch"{print $2}' "$work/res" | median)
sw=$(awk '$1=="sp_wall"{print $2}' "$work/res" | median)
awk -v d="$data" -v n="$rounds" -v rows="$rows" -v x10="$x10" -v per="$per" -v se="$se" \
  -v sw="$sw" 'BEGIN{
  printf "%s, %d rounds, medians\n", d, n
  printf "xLearn FFM : %.4f s/epoch (%.2f M examples/s), 10 epochs wall %.3f s\n", per, rows/per/1e6, x10
  printf "Sparrow    : %.4f s/epoch (%.2f M examples/s), 10 epochs wall %.3f s\n", se, rows/se/1e6, sw
  printf "Sparrow/xLearn: epoch speed %.2fx, wall %.2fx\n", per/se, sw/x10 }'
