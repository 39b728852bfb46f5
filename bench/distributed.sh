#!/usr/bin/env bash
# Centralised vs data-parallel (1 and 2 ranks) vs federated (IID and
# Dirichlet 0.1) on MNIST's MLP, side by side in one run: time, energy (the
# machine's, measured once per node by its leader, and the processes' shares),
# bytes handed to MPI, accuracy. Prints Markdown rows for bench/RESULTS.md and
# the parallel efficiency of 2 ranks over 1. Every energy figure carries its
# method (estimated:tdp-model on a machine without RAPL).
#   bench/distributed.sh [JOULE] [EPOCHS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
joule=${1:-build/joule}
epochs=${2:-3}
rounds=${3:-8}
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export JOULE_HOME=$home OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun="mpirun --oversubscribe --allow-run-as-root"
train="train --epochs $epochs --batch 128 --seed 1 --no-ledger --json"
py=/usr/bin/python3

row() {  # name, JSON of a train run on stdin
  $py -c '
import json, sys
r = json.load(sys.stdin)
d = r.get("distributed", {})
machine = d.get("machine_energy_j", r.get("machine_energy_j", 0))
mb = d.get("bytes_sent", 0) / 1e6
mpi = d.get("mpi_s", 0)
print("| %s | %d epochs | %.4f | %.2f | %.1f | %.2f | %.1f | %.2f | %s |" % (
    sys.argv[1], r["epochs"], r["test_accuracy"], r["seconds"], machine, r["energy_j"], mb, mpi,
    r["energy_method"]))
print("%s %.4f" % (sys.argv[1], r["seconds"]), file=sys.stderr)
' "$1"
}

fed_row() {  # name, JSON of a federated run on stdin
  $py -c '
import json, sys
r = json.load(sys.stdin)
e = r["energy"]
reach = next((x["round"] for x in r["rounds"] if x["global_accuracy"] >= 0.97), None)
clients_j = sum(c["energy_j"] for x in r["rounds"] for c in x["clients"])
print("| %s | %d rounds (%s) | %.4f | %.2f | %.1f | %.2f (clients %.2f) | %.1f | %.2f | %s |" % (
    sys.argv[1], len(r["rounds"]), "97%% at round %d" % reach if reach else "97% not reached",
    r["final_accuracy"], r["seconds"],
    e["machine_energy_j"], e["energy_j"], clients_j, e["bytes_sent"] / 1e6, e["mpi_s"], e["method"]))
' "$1"
}

echo "| job | length | test accuracy | time (s) | machine energy (J) | processes' share (J) | MB to MPI | s in MPI | method |"
echo "|-----|--------|--------------:|---------:|-------------------:|---------------------:|----------:|---------:|--------|"
times=$(mktemp)
"$joule" $train --threads 1 2>/dev/null | row "centralised, 1 thread" 2>>"$times"
"$joule" $train --threads 2 2>/dev/null | row "centralised, 2 threads" 2>>"$times"
$mpirun -n 1 "$joule" $train --distributed --threads 1 2>/dev/null | row "data-parallel, 1 rank" 2>>"$times"
$mpirun -n 2 "$joule" $train --distributed --threads 1 2>/dev/null | row "data-parallel, 2 ranks" 2>>"$times"
fed="federated --rounds $rounds --clients 4 --local-epochs 1 --batch 32 --lr 0.05 --threads 1 --no-ledger --json"
$mpirun -n 3 "$joule" $fed --partition iid 2>/dev/null | fed_row "FedAvg IID, 4 clients on 2 ranks"
$mpirun -n 3 "$joule" $fed --partition dirichlet:0.1 2>/dev/null | fed_row "FedAvg Dirichlet 0.1"
$mpirun -n 3 "$joule" $fed --partition dirichlet:0.1 --strategy fedprox --mu 0.01 2>/dev/null |
  fed_row "FedProx mu 0.01, Dirichlet 0.1"
$py - "$times" <<'PY'
import sys
t = dict(l.rsplit(" ", 1) for l in open(sys.argv[1]).read().split("\n") if l)
t1, t2 = float(t["data-parallel, 1 rank"]), float(t["data-parallel, 2 ranks"])
print("\n2 ranks over 1: speed-up %.2f, parallel efficiency %.0f %%" % (t1 / t2, 100 * t1 / (2 * t2)))
PY
rm -f "$times"
