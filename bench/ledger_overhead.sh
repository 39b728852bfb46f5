#!/usr/bin/env bash
# What recording a run in the ledger costs `joule measure`, side by side with
# the same command unrecorded, in one run.
#
#   bench/ledger_overhead.sh [JOULE_BINARY] [REPETITIONS]
#
# 1. Per run: `joule measure -- true` (the default ledger, $JOULE_HOME/ledger.db)
#    against `joule measure --no-ledger -- true`, interleaved, REPETITIONS (default 200) each, on a
#    ledger that grows as it goes. Wall time (median and trimmed mean) and
#    joule's own CPU time (wait4 rusage). Goal: recording adds <= 3 ms of wall.
# 2. Per sample: `joule measure --interval 0.01 -- sleep 2` (about 200
#    samples) with and without the ledger, interleaved, 20 runs each; joule's
#    CPU difference (all its threads), less the per-run cost of part 1,
#    divided by the samples taken is what recording one sample costs in all.
#    Goal <= 50 us.
# The ledger lives in a temporary JOULE_HOME, never the user's.
set -euo pipefail
cd "$(dirname "$0")/.."
joule="${1:-build/joule}"
reps="${2:-200}"
[[ -x "$joule" ]] || { echo "ledger_overhead: $joule not built" >&2; exit 2; }
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
JOULE_HOME="$home" exec python3 - "$joule" "$reps" "$home/ledger.db" <<'PY'
import json, os, statistics, subprocess, sys, time

joule, reps, ledger = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def run(argv):
    """Wall seconds and the CPU seconds of joule and the children it reaped."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execv(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"ledger_overhead: {argv} failed")
    return wall, usage.ru_utime + usage.ru_stime

def trimmed_mean(xs, cut=0.1):
    xs = sorted(xs)
    k = int(len(xs) * cut)
    return statistics.mean(xs[k:len(xs) - k])

def samples_of_last_run():
    out = subprocess.run([joule, "runs", "list", "--json", "--limit", "1", "--ledger", ledger],
                         capture_output=True, check=True, text=True).stdout
    return json.loads(out)[0]["energy"]["samples"]

# 1. Per run.
off = ["measure", "--no-ledger", "--", "/bin/true"]
on = ["measure", "--", "/bin/true"]  # the default ledger: JOULE_HOME's
run([joule] + on)  # creates the ledger: the first run pays for the schema, not measured
walls = {"off": [], "on": []}
cpus = {"off": [], "on": []}
for _ in range(reps):
    for key, args in (("off", off), ("on", on)):
        w, c = run([joule] + args)
        walls[key].append(w)
        cpus[key].append(c)
for stat, f in (("median", statistics.median), ("trimmed mean", trimmed_mean)):
    a, b = f(walls["off"]), f(walls["on"])
    print(f"'joule measure -- true' wall, {stat} of {reps}: --no-ledger {a*1e3:.2f} ms, "
          f"ledger {b*1e3:.2f} ms (ratio {b/a:.3f}x): recording adds {(b-a)*1e3:.2f} ms")
a, b = statistics.median(cpus["off"]), statistics.median(cpus["on"])
run_cpu = b - a
print(f"  joule's CPU, median: --no-ledger {a*1e3:.2f} ms, ledger {b*1e3:.2f} ms: "
      f"recording adds {(b-a)*1e3:.2f} ms; goal <= 3 ms of wall: "
      f"{'met' if statistics.median(walls['on']) - statistics.median(walls['off']) <= 0.003 else 'NOT met'}")

# 2. Per sample.
sleep = ["--interval", "0.01", "--", "/bin/sleep", "2"]
per_sample = []
for _ in range(20):
    _, c_off = run([joule, "measure", "--no-ledger"] + sleep)
    _, c_on = run([joule, "measure"] + sleep)
    # Less what recording a run costs anyway (part 1), so that the figure is
    # what each sample adds.
    per_sample.append((c_on - c_off - run_cpu) / samples_of_last_run())
us = statistics.median(per_sample) * 1e6
print(f"one sample, median of 20 pairs of 2 s runs at 0.01 s (~{samples_of_last_run()} "
      f"samples each): {us:.1f} us of joule's CPU; goal <= 50 us: {'met' if us <= 50 else 'NOT met'}")
size = os.path.getsize(ledger) + (os.path.getsize(ledger + "-wal") if os.path.exists(ledger + "-wal") else 0)
print(f"ledger after the run: {size/1e6:.1f} MB; load average {os.getloadavg()[0]:.2f} on "
      f"{os.cpu_count()} CPUs")
PY
