#!/usr/bin/env bash
# Configures and builds joule with CMake + Ninja.
#   scripts/build.sh            Release build in build/
#   scripts/build.sh --sanitize ASan+UBSan build in build-asan/
#   scripts/build.sh [--sanitize] TARGET...   only those targets (demo.sh: joule)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--sanitize" ]]; then
  shift
  dir=build-asan
  # -g1: line tables for the sanitizers' stack traces, without the full debug
  # information that made this the slowest build of CI.
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DJOULE_SANITIZE=ON -DJOULE_BUILD_BENCH=OFF
         "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG")
else
  dir=build
  flags=(-DCMAKE_BUILD_TYPE=Release)
fi
# ccache, where a developer has it, makes rebuilds across checkouts cheap; a
# fresh machine has none and builds the same way without it.
if command -v ccache >/dev/null; then flags+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
if [[ ! -f "$dir/build.ninja" ]]; then
  cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
fi
targets=()
for t in "$@"; do targets+=(--target "$t"); done
# Every core: nproc honours OMP_NUM_THREADS, which scripts/test.sh sets to 1
# for the tests, and would otherwise build on one core.
jobs=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
cmake --build "$dir" -j "$jobs" "${targets[@]}"
