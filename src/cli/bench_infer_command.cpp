// joule bench-infer: what a model directory costs to run, in the same figures
// for any model (f32, int8, pruned, distilled, early-exit), so that they line
// up: accuracy, batch-1 latency, batch throughput, joules per 1000 inferences
// (with how they were obtained), size on disk.
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/ledger_flags.hpp"
#include "joule/run.hpp"

namespace joule::cli {
namespace {

struct BenchInferFlags {
  std::string model_dir;
  std::string data = "mnist";
  int threads = 1;
  std::int64_t latency_samples = 1000;
  std::int64_t batch = 256;
  double seconds = 2.0;
  bool no_energy = false;
  bool json = false;
  LedgerFlags ledger;
};

void RunBenchInfer(const BenchInferFlags& f) {
  if (f.latency_samples < 1) throw Error("--latency-samples must be >= 1");
  if (f.batch < 1) throw Error("--batch must be >= 1");
  if (!(f.seconds > 0 && f.seconds <= 3600)) throw Error("--seconds must be in (0, 3600]");
  SetNumThreads(f.threads);
  MeteringOptions metering;
  metering.enabled = !f.no_energy;
  InferenceBenchOptions options;
  options.latency_samples = f.latency_samples;
  options.throughput_batch = f.batch;
  options.throughput_seconds = f.seconds;
  options.metering = &metering;
  auto on_loaded = [&f](std::int64_t rows) {
    if (f.json) return;
    std::fprintf(stderr,
                 "bench-infer: %s on %lld rows: accuracy, then latency, then %.0f s of "
                 "throughput...\n",
                 f.model_dir.c_str(), static_cast<long long>(rows), f.seconds);
  };
  const SavedModelBench saved =
      BenchSavedModel(f.model_dir, f.data, options, on_loaded, ResolveLedgerTarget(f.ledger));
  const InferenceBenchResult& r = saved.bench;

  nlohmann::ordered_json j;
  j["model"] = f.model_dir;
  j["kind"] = saved.kind;
  j["accuracy"] = r.accuracy;
  j["rows"] = r.rows;
  j["latency_p50_ms"] = r.latency_p50_ms;
  j["latency_p99_ms"] = r.latency_p99_ms;
  j["throughput_per_s"] = r.throughput_per_s;
  j["batch"] = f.batch;
  j["j_per_1000"] = r.j_per_1000;
  j["energy_method"] = r.energy.method;
  j["size_bytes"] = r.size_bytes;
  j["parameters"] = r.parameters;
  j["macs_per_sample"] = r.macs_per_sample;
  j["full_macs_per_sample"] = r.full_macs_per_sample;
  j["threads"] = NumThreads();
  if (f.json) {
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  const bool estimated = r.energy.method.rfind("measured:", 0) != 0;
  std::printf("model            %s (%s, %lld parameters)\n", f.model_dir.c_str(),
              saved.kind.c_str(), static_cast<long long>(r.parameters));
  std::printf("accuracy         %.2f%% over %lld rows\n", 100 * r.accuracy,
              static_cast<long long>(r.rows));
  std::printf("cost             %.0f MACs per sample (full network %.0f)\n", r.macs_per_sample,
              r.full_macs_per_sample);
  std::printf("latency batch 1  p50 %.3f ms, p99 %.3f ms\n", r.latency_p50_ms, r.latency_p99_ms);
  std::printf("throughput       %.0f samples/s at batch %lld, %d thread(s)\n", r.throughput_per_s,
              static_cast<long long>(f.batch), NumThreads());
  if (f.no_energy) {
    std::printf("energy           not measured (--no-energy)\n");
  } else {
    std::printf("energy           %.4f J per 1000 inferences [%s]%s\n", r.j_per_1000,
                r.energy.method.c_str(), estimated ? " (ESTIMATE: no energy sensor here)" : "");
  }
  std::printf("size on disk     %lld bytes\n", static_cast<long long>(r.size_bytes));
}

}  // namespace

void RegisterBenchInferCommand(CLI::App& app) {
  auto f = std::make_shared<BenchInferFlags>();
  CLI::App* cmd = app.add_subcommand(
      "bench-infer",
      "What a model costs to run: accuracy, latency p50/p99 at batch 1, throughput at batch 256,\n"
      "joules per 1000 inferences (with the method that obtained them), size on disk.\n"
      "Works on any model directory (f32, int8, pruned, distilled, early-exit).");
  cmd->add_option("model", f->model_dir, "model directory (joule train --save, joule compress)")
      ->required();
  cmd->add_option("--data", f->data, "mnist, an IDX directory (its t10k files), or a FILE.csv")
      ->capture_default_str();
  cmd->add_option("--threads", f->threads, "compute threads (0: all cores)")->capture_default_str();
  cmd->add_option("--latency-samples", f->latency_samples, "batch-1 calls timed for p50/p99")
      ->capture_default_str();
  cmd->add_option("--batch", f->batch, "batch size of the throughput run")->capture_default_str();
  cmd->add_option("--seconds", f->seconds, "length of the throughput run (metered)")
      ->capture_default_str();
  cmd->add_flag("--no-energy", f->no_energy, "do not meter the throughput run");
  cmd->add_flag("--json", f->json,
                "print one JSON object: accuracy, latency_p50_ms, latency_p99_ms, "
                "throughput_per_s, j_per_1000, energy_method, size_bytes, ...");
  AddLedgerFlags(*cmd, f->ledger);
  cmd->callback([f] { RunBenchInfer(*f); });
}

}  // namespace joule::cli
