#!/usr/bin/env bash
# How well a run's energy is predicted after its first epoch: each bundled
# MNIST recipe and the California housing regression, trained to its epoch
# limit with --predict-after 1, a fixed seed, several times; prints one
# Markdown row per run (prediction, realised total, error) for bench/RESULTS.md.
#   bench/predict_energy.sh [JOULE] [REPEATS]
# Each run goes to its epoch limit (green's target is set out of reach and its
# patience beyond its epochs), the case the prediction is made for.
set -euo pipefail
cd "$(dirname "$0")/.."
joule=${1:-build/joule}
repeats=${2:-3}
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export JOULE_HOME=$home

jobs=(
  "mnist-baseline|--recipe recipes/mnist-baseline.toml"
  "mnist-green|--recipe recipes/mnist-green.toml --target-accuracy 2 --patience 1000"
  "housing|--data data/cal-housing/cal_housing.csv --target median_house_value --task regression --epochs 30 --validation 0.2 --optimizer adam --lr 0.001 --batch 128"
)
echo "| job | run | epochs | predicted after 1 epoch (J) | interval (J) | realised (J) | error |"
echo "|-----|----:|-------:|----------------------------:|-------------:|-------------:|------:|"
for job in "${jobs[@]}"; do
  name=${job%%|*}
  flags=${job#*|}
  for ((i = 1; i <= repeats; i++)); do
    # shellcheck disable=SC2086  # the flags are words on purpose
    "$joule" train $flags --seed 1 --predict-after 1 --json 2>/dev/null |
      python3 -c '
import json, sys
r = json.load(sys.stdin)
p = r["prediction"]
err = p.get("error_percent")
print("| %s | %s | %d | %.2f | %.2f-%.2f | %.2f | %s |" % (
    sys.argv[1], sys.argv[2], r["epochs"], p["energy_j"], p["energy_low_j"], p["energy_high_j"],
    p["realised_energy_j"], "%+.1f %%" % err if err is not None else "not at the limit"))
' "$name" "$i"
  done
done
