// joule train --distributed: data-parallel training under mpirun, one rank
// per process. Rank 0 prints, records the run and saves the model; every rank
// trains its slice of each global batch (joule/dist.hpp).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>

#include "cli/commands.hpp"
#include "cli/distributed.hpp"
#include "cli/progress.hpp"
#include "joule/util.hpp"

namespace joule::cli {

const char kNoMpiMessage[] =
    "joule was built without MPI: install libopenmpi-dev openmpi-bin (scripts/setup.sh does) "
    "and rebuild";

bool BuiltWithMpi() {
#ifdef JOULE_WITH_MPI
  return true;
#else
  return false;
#endif
}

#ifdef JOULE_WITH_MPI
namespace {

void PrintJobEnergy(const dist::JobEnergy& job, int epochs) {
  std::printf(
      "distributed: %zu rank(s) on %zu node(s); machine energy %s (each node's leader, "
      "once per node), ranks' shares %s, %s\n",
      job.ranks.size(), job.nodes.size(), FormatJoules(job.machine_energy_j).c_str(),
      FormatJoules(job.energy_j).c_str(), job.method.c_str());
  for (const dist::RankEnergy& r : job.ranks) {
    std::printf("  rank %d (node %d%s): %s, sent %.1f MB, %.2f s in MPI over %d epoch(s)\n", r.rank,
                r.node, r.leader ? ", leader" : "", FormatJoules(r.energy_j).c_str(),
                static_cast<double>(r.comm.bytes_sent) / 1e6, r.comm.mpi_s, epochs);
  }
}

}  // namespace

void RunTrainDistributed(JobConfig config, const std::string& name, const LedgerTarget& ledger,
                         bool json) {
  dist::Communicator comm(nullptr, nullptr);
  const bool root = comm.rank() == 0;
  // Until training starts every rank checks the same things and fails alike:
  // rank 0 alone says so. After, the rank that failed does.
  bool started = false;
  try {
    if (config.budget.energy_j || config.budget.co2_g || config.prediction.after_epochs != 0 ||
        config.prediction.max_energy_j) {
      throw Error(
          "--distributed: budgets and cost predictions would stop each rank on its own energy; "
          "not available with --distributed");
    }
    // The ranks of a node share its cores.
    if (config.threads == 0) {
      int cores = static_cast<int>(std::thread::hardware_concurrency());
      config.threads = std::max(1, cores / comm.local_size());
    }
    if (!root) config.save_dir.clear();
    nlohmann::json config_json = JobConfigJson(config);
    config_json["distributed.ranks"] = comm.size();
    config_json["distributed.nodes"] = comm.nodes();
    config_json["distributed.local_batch_size"] = config.batch_size / comm.size();
    std::optional<RunRecorder> recorder;
    std::unique_ptr<EpochPrinter> printer;
    std::vector<Callback*> callbacks;
    if (root) {
      recorder.emplace(root ? ledger : LedgerTarget{},
                       RunHeader("train", name.empty() ? "train" : name, config_json));
      config.metering.on_sample = recorder->SampleCallback();
      printer = std::make_unique<EpochPrinter>(config.epochs);
      callbacks.push_back(printer.get());
    }
    auto on_epoch = [&](const EpochStats& s) {
      if (!root) return;
      printer->Print(s);
      recorder->AppendEpoch(EpochRowOf(s));
    };
    std::unique_ptr<dist::DataParallel> dp;
    auto adapt = [&](Sequential& model, Loss& loss, const PreparedData& data, FitOptions& options) {
      dp = std::make_unique<dist::DataParallel>(comm, model, loss);
      dp->BroadcastWeights();
      dp->Install(options, data.target_scaler);
    };
    started = true;
    JobResult r = RunJob(config, on_epoch, callbacks, nullptr, /*validated=*/true, adapt);
    dist::JobEnergy job = dist::ReduceJobEnergy(comm, r.energy);
    if (!root) return;
    r.energy = dist::JobEnergyReport(r.energy, job);
    nlohmann::json metrics = JobMetrics(r);
    nlohmann::json d = dist::JobEnergyJson(job);
    d["global_batch_size"] = config.batch_size;
    d["ranks_count"] = comm.size();
    d["nodes_count"] = comm.nodes();
    metrics["distributed"] = d;
    recorder->Finish(RunStatus::kCompleted, r.stop_message, r.energy, metrics);
    if (json) {
      nlohmann::json j = JobResultJson(config, r);
      j["distributed"] = d;
      std::printf("%s\n", j.dump().c_str());
    } else {
      PrintFinal(config, r);
      PrintJobEnergy(job, r.epochs);
    }
    std::fflush(stdout);
  } catch (const std::exception& e) {
    EndJobOnError(comm, started, e);
  }
}

void EndJobOnError(dist::Communicator& comm, bool started, const std::exception& e) {
  if (comm.rank() == 0 || started) {
    std::fprintf(stderr, "joule: error: rank %d of %d: %s\n", comm.rank(), comm.size(), e.what());
    std::fflush(stderr);
  } else {
    // Rank 0 fails the same way: let it print and end the job first.
    std::this_thread::sleep_for(std::chrono::seconds(5));
  }
  if (comm.size() == 1) throw CliExit{2};  // no other rank to end
  comm.Abort(2);
}
#else
void RunTrainDistributed(JobConfig, const std::string&, const LedgerTarget&, bool) {
  throw Error(kNoMpiMessage);
}
#endif

}  // namespace joule::cli
