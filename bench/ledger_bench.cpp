// The ledger's write path, alone: one sample's insert (what the meter's
// sampling thread pays per sample) and a whole short run's header and end
// (what `joule measure -- true` pays), on a ledger in a temporary directory.
//
//   build/ledger_bench   (JOULE_BUILD_BENCH=ON)
//
// Goals (issue 10): <= 50 us per sample, <= 3 ms per run. The per-run figure
// includes opening the ledger, as each joule process does once.
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <time.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "joule/run_record.hpp"

namespace {

std::string TempLedger() {
  std::string pattern = std::filesystem::temp_directory_path().string() + "/joule_ledger_XXXXXX";
  return std::string(mkdtemp(pattern.data())) + "/ledger.db";
}

double ThreadCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

joule::RunRecord Header() {
  joule::RunRecord header;
  header.kind = "measure";
  header.name = "true";
  header.host = joule::ReadHostRecord({});
  header.energy.method = "estimated:tdp-model";
  return header;
}

void BM_AppendSample(benchmark::State& state) {
  const std::string path = TempLedger();
  auto ledger = joule::Ledger::Open(path);
  std::string id = ledger->BeginRun(Header());
  joule::SampleRow row{1.7e9, 1, 2, 10, 0.5, 0.001};
  for (auto _ : state) {
    row.t_unix_s += 0.1;
    ledger->AppendSample(id, row);
  }
  ledger.reset();
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}
BENCHMARK(BM_AppendSample)->Unit(benchmark::kMicrosecond);

// The same insert at a sampling cadence (one every 10 ms, as --interval 0.01),
// timed in the inserting thread's CPU time: between samples the caches cool,
// which a tight loop hides.
void BM_AppendSampleEvery10ms(benchmark::State& state) {
  const std::string path = TempLedger();
  auto ledger = joule::Ledger::Open(path);
  std::string id = ledger->BeginRun(Header());
  joule::SampleRow row{1.7e9, 1, 2, 10, 0.5, 0.001};
  for (auto _ : state) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    row.t_unix_s += 0.01;
    double start = ThreadCpuSeconds();
    ledger->AppendSample(id, row);
    state.SetIterationTime(ThreadCpuSeconds() - start);
  }
  ledger.reset();
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}
BENCHMARK(BM_AppendSampleEvery10ms)
    ->UseManualTime()
    ->Iterations(300)
    ->Unit(benchmark::kMicrosecond);

// What the meter's sampling thread pays per sample through a RunRecorder
// (a queue push; the insert happens on the recorder's writer thread), at the
// same cadence, in the calling thread's CPU time.
void BM_RecorderSampleEvery10ms(benchmark::State& state) {
  const std::string path = TempLedger();
  {
    joule::RunRecorder recorder({path, true}, Header());
    joule::SampleRow row{1.7e9, 1, 2, 10, 0.5, 0.001};
    for (auto _ : state) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      row.t_unix_s += 0.01;
      double start = ThreadCpuSeconds();
      recorder.AppendSample(row);
      state.SetIterationTime(ThreadCpuSeconds() - start);
    }
    recorder.Finish(joule::RunStatus::kCompleted, "", {}, {});
  }
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}
BENCHMARK(BM_RecorderSampleEvery10ms)
    ->UseManualTime()
    ->Iterations(300)
    ->Unit(benchmark::kMicrosecond);

// Open, BeginRun, two samples, FinishRun: a `joule measure -- true`.
void BM_ShortRun(benchmark::State& state) {
  const std::string path = TempLedger();
  joule::Ledger::Open(path);  // the schema exists, as it does after the first run
  joule::RunRecord header = Header();
  joule::EnergyReport energy;
  energy.method = "estimated:tdp-model";
  for (auto _ : state) {
    joule::RunRecorder recorder({path, true}, header);
    recorder.AppendSample({1.7e9, 1, 2, 10, 0.5, 0.001});
    recorder.AppendSample({1.7e9 + 0.01, 2, 4, 10, 0.5, 0.002});
    recorder.Finish(joule::RunStatus::kCompleted, "", energy, {});
  }
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}
BENCHMARK(BM_ShortRun)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
