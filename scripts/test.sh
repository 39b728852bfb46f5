#!/usr/bin/env bash
# The tests on a fresh Debian 12 machine: install, build, run every CTest
# label (unit, integration, e2e, browser, python: PyTorch -> ONNX -> joule; mpi:
# under mpirun, when built with Open MPI).
#   scripts/test.sh              Release build, all tests
#   scripts/test.sh --sanitize   ASan+UBSan build, unit and e2e tests (not mpi:
#                                Open MPI's own allocations would trip LeakSanitizer)
set -euo pipefail
# ctest runs two tests at once on two cores: one compute thread each, or
# OpenMP teams wait on each other's cores and every test slows tenfold.
export OMP_NUM_THREADS=1
cd "$(dirname "$0")/.."
scripts/setup.sh --test
if [[ "${1:-}" == "--sanitize" ]]; then
  scripts/build.sh --sanitize
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  ctest --test-dir build-asan -L 'unit|e2e' --output-on-failure -j 2 --timeout 600
else
  scripts/build.sh
  ctest --test-dir build --output-on-failure -j 2 --timeout 1800
fi
