#!/usr/bin/env bash
# The main job: set up, generate synthetic credit data with a known ground truth, train a
# logistic model on a local cluster (1 scheduler, 2 servers, 2 workers), and score the
# test split with the trained model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p runs/demo_data
./build/sparrow synth --kind=credit --rows=200000 --seed=1 --output=runs/demo_data/credit.csv
./build/sparrow train configs/demo.conf
./build/sparrow eval --model=runs/demo/model.bin
./build/sparrow predict --model=runs/demo/model.bin --data=runs/demo_data/credit.csv --split=test \
  --output=runs/demo/test_scores.txt
echo "demo: scored $(wc -l < runs/demo/test_scores.txt) test rows into runs/demo/test_scores.txt;" \
  "report in runs/demo/report.html"
