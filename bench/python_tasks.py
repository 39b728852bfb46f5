#!/usr/bin/env python3
"""What a task costs from Python: 10,000 start_task/stop_task pairs of
joule.Tracker in a plain loop (goal: under 50 us a pair).

    JOULE_LIBRARY=build/libjoule.so /usr/bin/python3 bench/python_tasks.py [PAIRS] [ROUNDS]

Prints the wall time per pair of each round and their median, the same loop
with no tracker call (the loop's own cost), and the cost of read(), which
always samples: what each boundary cost before a boundary within 10 ms of
the last sample stopped taking a sample of its own.
No ledger is written (ledger=False), so only the meter's cost is timed.
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import joule  # noqa: E402


def main():
    pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    names = ["step-%d" % i for i in range(pairs)]
    empty = []
    per_pair = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for name in names:
            pass
        empty.append((time.perf_counter() - t0) / pairs)
        tracker = joule.Tracker("bench", ledger=False, interval=1.0)
        tracker.start()
        start_task, stop_task = tracker.start_task, tracker.stop_task
        t0 = time.perf_counter()
        for name in names:
            start_task(name)
            stop_task(name)
        per_pair.append((time.perf_counter() - t0) / pairs)
        report = tracker.stop()
        assert len(report.tasks) == pairs
    # What a boundary cost when each one took a sample (before boundaries
    # within 10 ms of a sample extrapolated): read() always samples.
    tracker = joule.Tracker("bench", ledger=False, interval=1.0)
    tracker.start()
    n = min(pairs, 2000)
    t0 = time.perf_counter()
    for _ in range(n):
        tracker.read()
    per_sample = (time.perf_counter() - t0) / n
    tracker.stop()
    print("library: %s" % joule.library_path())
    print("method: %s" % report.method)
    print("pairs per round: %d, rounds: %d" % (pairs, rounds))
    print("per pair (us): " + ", ".join("%.1f" % (x * 1e6) for x in per_pair))
    print(
        "median per pair: %.1f us (empty loop %.3f us)"
        % (statistics.median(per_pair) * 1e6, statistics.median(empty) * 1e6)
    )
    print("read(), which samples, from Python: %.1f us each (%d calls)" % (per_sample * 1e6, n))


if __name__ == "__main__":
    main()
