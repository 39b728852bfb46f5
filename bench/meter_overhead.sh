#!/usr/bin/env bash
# The meter's own cost, side by side with the work it measures.
#
#   bench/meter_overhead.sh [JOULE_BINARY] [RUN_SECONDS]
#
# 1. CPU: `joule measure --interval 0.1 -- sleep RUN_SECONDS` (default 30);
#    joule's own user+system CPU time (wait4 rusage, minus the sleep child's)
#    as a fraction of one core over the run. Goal <= 0.2 %. The steady-state
#    figure subtracts the CPU of a `joule measure -- true` run (start-up and
#    shut-down), leaving the sampling alone.
# 2. Wall: `joule measure -- true` against bare `true`, interleaved, 30 runs
#    each; the median difference is joule's overhead. Goal <= 20 ms. `joule
#    --version` runs alongside: the part of the overhead that is only starting
#    the joule binary (its shared libraries), not measuring.
# Runs use --no-ledger: this is the meter's cost alone (bench/ledger_overhead.sh
# measures recording's), and a benchmark should not fill the user's ledger.
set -euo pipefail
cd "$(dirname "$0")/.."
joule="${1:-build/joule}"
seconds="${2:-30}"
[[ -x "$joule" ]] || { echo "meter_overhead: $joule not built (scripts/build.sh)" >&2; exit 2; }
exec python3 - "$joule" "$seconds" <<'PY'
import os, statistics, subprocess, sys, time

joule, seconds = sys.argv[1], float(sys.argv[2])

def run(argv):
    """Wall seconds, and the CPU seconds of argv[0]'s process itself and of its children."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execv(argv[0], argv)
    before = os.times()
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    after = os.times()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"meter_overhead: {argv} failed")
    # usage covers joule and the children it reaped (the measured command).
    return wall, usage.ru_utime + usage.ru_stime

true_bin = "/bin/true"
sleep_bin = "/bin/sleep"

# 1. CPU over a long run at a 0.1 s interval.
_, startup_cpu = run([joule, "measure", "--no-ledger", "--", true_bin])
_, sleep_alone_cpu = run([sleep_bin, "0.01"])
wall, cpu = run([joule, "measure", "--no-ledger", "--interval", "0.1", "--", sleep_bin, str(seconds)])
own_cpu = cpu - sleep_alone_cpu
fraction = own_cpu / wall
steady = max(0.0, own_cpu - startup_cpu) / wall
print(f"meter CPU at 0.1 s interval over {wall:.1f} s: {own_cpu*1e3:.1f} ms = "
      f"{100*fraction:.3f}% of one core (start-up and shut-down {startup_cpu*1e3:.1f} ms; "
      f"sampling alone {100*steady:.3f}%); goal <= 0.2%: {'met' if fraction <= 0.002 else 'NOT met'}")

# 2. Wall overhead of `joule measure -- true`, interleaved with bare `true`.
bare, measured, started = [], [], []
for _ in range(30):
    bare.append(run([true_bin])[0])
    measured.append(run([joule, "measure", "--no-ledger", "--", true_bin])[0])
    started.append(run([joule, "--version"])[0])
b, m, v = (statistics.median(x) for x in (bare, measured, started))
print(f"'true' alone: median {b*1e3:.2f} ms; 'joule measure -- true': median {m*1e3:.2f} ms "
      f"(ratio {m/b:.1f}x); overhead {(m-b)*1e3:.2f} ms; goal <= 20 ms: "
      f"{'met' if m - b <= 0.020 else 'NOT met'}")
print(f"  of which starting the joule binary ('joule --version', median {v*1e3:.2f} ms): "
      f"{(v-b)*1e3:.2f} ms; measuring: {(m-v)*1e3:.2f} ms")
print(f"machine load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
PY
