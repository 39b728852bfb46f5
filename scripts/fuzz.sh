#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang, ASan+UBSan) in build-fuzz/ and
# runs them one at a time, each on a scratch copy of its seed corpus
# (fuzz/corpus/<target>/) so the committed seeds stay as they are.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     each target for SECONDS (default 60)
#   scripts/fuzz.sh --runs N [--max-time S] [TARGET...]
#                                             each target to N executions, or S
#                                             seconds (default 1200), whichever
#                                             comes first (the acceptance run)
#   scripts/fuzz.sh --list                    the target names
#   --no-build                                use build-fuzz/ as it is
#
# Before fuzzing, each target replays its kept crash inputs
# (fuzz/regressions/<target>/) once. Prints one line per target: name,
# executions, wall and CPU seconds, coverage (cov: edges, ft: features),
# result. Exits 1 when a target found a crash, leak, time-out or an
# allocation over 2 GiB, and says where the reproducer is
# (build-fuzz/fuzz-work/artifacts/<target>/; replay it with
# `build-fuzz/fuzz/<target> FILE`).
#
# CI's smoke test: `scripts/fuzz.sh 15` (12 targets x 15 s, plus the build).
# The fuzz build uses -O1, the usual level for fuzzing, which also keeps the
# sanitized, coverage-instrumented build of every layer short.
set -euo pipefail
cd "$(dirname "$0")/.."

targets_all=(idx csv safetensors model recipe checkpoint carbon_series rapl hwmon proc prometheus
             grid_provider onnx_import)
# The dictionary each target uses (fuzz/dict/<name>.dict).
declare -A dict=([idx]=idx [csv]=csv [safetensors]=json [model]=json [recipe]=recipe
                 [checkpoint]=json [carbon_series]=carbon_series [rapl]=rapl [hwmon]=hwmon
                 [proc]=proc [prometheus]=http [grid_provider]=grid_provider
                 [onnx_import]=onnx)

seconds=60
runs=""
max_time=1200
targets=()
build_first=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --max-time) max_time="$2"; shift 2 ;;
    --no-build) build_first=0; shift ;;
    --list) printf '%s\n' "${targets_all[@]}"; exit 0 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    [0-9]*) seconds="$1"; shift ;;
    *)
      if [[ -z "${dict[$1]:-}" ]]; then
        echo "fuzz.sh: unknown target '$1' (--list shows them)" >&2
        exit 2
      fi
      targets+=("$1"); shift ;;
  esac
done
[[ ${#targets[@]} -eq 0 ]] && targets=("${targets_all[@]}")

build=build-fuzz
if ! command -v clang++ >/dev/null || ! compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null; then
  echo "fuzz.sh: needs clang and libFuzzer: scripts/setup.sh --ci installs them" >&2
  exit 2
fi
if [[ $build_first -eq 1 && ! -f "$build/build.ninja" ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DJOULE_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=None -DCMAKE_C_FLAGS=-O1 -DCMAKE_CXX_FLAGS=-O1 \
    -DJOULE_BUILD_TESTS=OFF -DJOULE_BUILD_BENCH=OFF >/dev/null
fi
if [[ $build_first -eq 1 ]] && ! ninja -C "$build" "${targets[@]/%/_fuzz}" >"$build/fuzz-build.log" 2>&1; then
  tail -n 40 "$build/fuzz-build.log"
  echo "fuzz.sh: the build failed (log: $build/fuzz-build.log)" >&2
  exit 2
fi

work="$build/fuzz-work"
# oneDNN and the readers need one thread; more would only steal the next
# target's core.
export OMP_NUM_THREADS=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
limits=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10)

failed=0
printf '%-14s %12s %8s %8s %8s %8s  %s\n' target executions seconds cpu_s cov ft result
for t in "${targets[@]}"; do
  binary="$build/fuzz/${t}_fuzz"
  log="$work/logs/$t.log"
  artifacts="$work/artifacts/$t/"
  rm -rf "$work/corpus/$t" "$artifacts"
  mkdir -p "$work/corpus/$t" "$artifacts" "$work/logs"
  cp -r fuzz/corpus/"$t"/. "$work/corpus/$t/"

  if [[ -d "fuzz/regressions/$t" ]] && compgen -G "fuzz/regressions/$t/*" >/dev/null; then
    if ! "$binary" "${limits[@]}" fuzz/regressions/"$t"/* >"$work/logs/$t.replay.log" 2>&1; then
      printf '%-14s %12s %8s %8s %8s %8s  %s\n' "$t" - - - - - \
        "FAILED replaying fuzz/regressions/$t (log: $work/logs/$t.replay.log)"
      failed=1
      continue
    fi
  fi

  budget=(-max_total_time="$seconds")
  [[ -n "$runs" ]] && budget=(-runs="$runs" -max_total_time="$max_time")
  start=$(date +%s)
  status=0
  # CPU seconds beside wall seconds: on a shared machine the fuzzer gets only
  # part of a core, and the CPU figure is the one that compares across runs.
  TIMEFORMAT='%U %S'
  { time "$binary" "${limits[@]}" "${budget[@]}" -dict="fuzz/dict/${dict[$t]}.dict" \
      -artifact_prefix="$artifacts" -print_final_stats=1 "$work/corpus/$t" >"$log" 2>&1; } \
    2>"$work/logs/$t.time" || status=$?
  elapsed=$(($(date +%s) - start))
  cpu=$(awk '{printf "%.0f", $1 + $2}' "$work/logs/$t.time" 2>/dev/null || echo "?")

  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  artifact=$(ls "$artifacts" 2>/dev/null | head -1 || true)
  if [[ $status -eq 0 && -z "$artifact" ]]; then
    result=ok
  else
    what=$(grep -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer|UndefinedBehaviorSanitizer)[^(]*' "$log" | head -1 || true)
    [[ -z "$what" ]] && what=$(grep -m1 -oE 'runtime error: .*|out-of-memory.*|timeout.*' "$log" || echo "exit $status")
    result="FAILED: $what; reproducer: $artifacts$artifact (log: $log)"
    failed=1
  fi
  printf '%-14s %12s %8s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "$elapsed" "${cpu:-?}" "${cov:-?}" \
    "${ft:-?}" "$result"
done
exit $failed
