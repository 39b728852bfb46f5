// joule federated: FedAvg / FedProx under mpirun, rank 0 the server and the
// other ranks hosting the simulated clients (joule/dist.hpp). Rank 0 prints a
// line per round and records the job, its rounds and clients in the ledger.
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>

#include "cli/commands.hpp"
#include "cli/distributed.hpp"
#include "cli/ledger_flags.hpp"
#include "cli/progress.hpp"
#include "joule/util.hpp"

namespace joule::cli {
namespace {

struct FederatedFlags {
  int rounds = 10;
  int clients = 0;
  int clients_per_round = 0;
  std::string strategy = "fedavg";
  double mu = 0.01;
  std::string partition = "iid";
  int local_epochs = 1;
  std::int64_t batch_size = 32;
  double lr = 0.05;
  double momentum = 0;
  std::string model = "mlp";
  std::uint64_t seed = 1;
  double client_timeout_s = 60;
  std::int64_t train_rows = 0;
  int threads = 0;
  double power_w = 0;
  bool no_meter = false;
  bool json = false;
  LedgerFlags ledger;
};

#ifdef JOULE_WITH_MPI
void PrintRound(const dist::FederatedRound& r, int rounds) {
  double joules = 0;
  std::int64_t up = 0, down = 0;
  int dropped = 0;
  std::string method;
  for (const dist::ClientRound& c : r.clients) {
    joules += c.energy_j;
    up += c.bytes_up;
    down += c.bytes_down;
    dropped += c.dropped ? 1 : 0;
    if (!c.energy_method.empty()) method = c.energy_method;
  }
  std::fprintf(stderr,
               "round %d/%d: global accuracy %.4f, %zu client(s)%s, clients' training %s (%s), "
               "%.2f MB down, %.2f MB up, %.1f s\n",
               r.round, rounds, r.global_accuracy, r.clients.size(),
               dropped > 0 ? (" (" + std::to_string(dropped) + " dropped)").c_str() : "",
               FormatJoules(joules).c_str(), method.empty() ? "not metered" : method.c_str(),
               static_cast<double>(down) / 1e6, static_cast<double>(up) / 1e6, r.seconds);
}

void RunFederatedCommand(const FederatedFlags& f) {
  dist::Communicator comm(nullptr, nullptr);
  const bool root = comm.rank() == 0;
  // As in train --distributed: a bad option fails every rank alike, and rank
  // 0 alone says so; once the rounds began, the rank that failed does.
  bool started = false;
  try {
    dist::FederatedOptions o;
    o.rounds = f.rounds;
    o.clients = f.clients;
    o.clients_per_round = f.clients_per_round;
    o.strategy = f.strategy;
    o.mu = f.mu;
    o.partition = f.partition;
    o.local_epochs = f.local_epochs;
    o.batch_size = f.batch_size;
    o.lr = f.lr;
    o.momentum = f.momentum;
    o.model = f.model;
    o.seed = f.seed;
    o.client_timeout_s = f.client_timeout_s;
    o.train_rows = f.train_rows;
    o.metering.enabled = !f.no_meter;
    if (f.power_w > 0) o.metering.sensors.declared_power_w = f.power_w;
    dist::CheckFederatedOptions(o, comm.size());
    int threads = f.threads;
    if (threads == 0) {
      threads =
          std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / comm.local_size());
    }
    SetNumThreads(threads);
    nlohmann::json config = {{"rounds", o.rounds},
                             {"clients", o.clients == 0 ? comm.size() - 1 : o.clients},
                             {"clients_per_round", o.clients_per_round},
                             {"strategy", o.strategy},
                             {"mu", o.mu},
                             {"partition", o.partition},
                             {"local_epochs", o.local_epochs},
                             {"batch_size", o.batch_size},
                             {"lr", o.lr},
                             {"model", o.model},
                             {"seed", o.seed},
                             {"train_rows", o.train_rows},
                             {"ranks", comm.size()},
                             {"nodes", comm.nodes()}};
    std::optional<RunRecorder> recorder;
    if (root) {
      recorder.emplace(ResolveLedgerTarget(f.ledger),
                       RunHeader("federated", "federated-" + o.strategy, config));
    }
    auto on_round = [&](const dist::FederatedRound& r) {
      PrintRound(r, o.rounds);
      EpochRow row;
      row.epoch = r.round;
      row.seconds = r.seconds;
      for (const dist::ClientRound& c : r.clients) row.energy_j += c.energy_j;
      row.metrics = {{"accuracy", r.global_accuracy}, {"eval_loss", r.global_loss}};
      recorder->AppendEpoch(row);
    };
    started = true;
    std::function<void(const dist::FederatedRound&)> round_hook;
    if (root) round_hook = on_round;
    dist::FederatedResult r = dist::RunFederated(comm, o, round_hook);
    if (!root) return;
    // The job's figures over the server's report (its times, intensity and
    // method label).
    EnergyReport energy = dist::JobEnergyReport(r.server_report, r.energy);
    nlohmann::json metrics = dist::FederatedJson(r);
    metrics["accuracy"] = r.final_accuracy;
    recorder->Finish(RunStatus::kCompleted,
                     r.dropped_ranks.empty()
                         ? ""
                         : std::to_string(r.dropped_ranks.size()) + " client rank(s) dropped",
                     energy, metrics);
    if (f.json) {
      std::printf("%s\n", metrics.dump().c_str());
    } else {
      std::printf("federated %s, %s partition, %d round(s): global accuracy %.4f in %.1f s\n",
                  o.strategy.c_str(), o.partition.c_str(), o.rounds, r.final_accuracy, r.seconds);
      std::printf(
          "energy: machine %s (each node's leader, once per node), ranks' shares %s, %s; "
          "%.2f MB sent over MPI\n",
          FormatJoules(r.energy.machine_energy_j).c_str(), FormatJoules(r.energy.energy_j).c_str(),
          r.energy.method.empty() ? "not metered" : r.energy.method.c_str(),
          static_cast<double>(r.energy.comm.bytes_sent) / 1e6);
      for (int rank : r.dropped_ranks) {
        std::printf("rank %d stopped answering and was dropped; the job went on without it\n",
                    rank);
      }
    }
    std::fflush(stdout);
  } catch (const std::exception& e) {
    EndJobOnError(comm, started, e);
  }
}
#endif

}  // namespace

void RegisterFederatedCommand(CLI::App& app) {
  auto f = std::make_shared<FederatedFlags>();
  CLI::App* cmd = app.add_subcommand(
      "federated",
      "Federated learning on MNIST under mpirun (rank 0 the server, the others the clients): "
      "FedAvg or FedProx, energy and bytes per client and round");
  cmd->add_option("--rounds", f->rounds, "communication rounds (>= 1)");
  cmd->add_option("--clients", f->clients,
                  "simulated clients in all, spread over ranks 1..R-1 (0: one per rank)");
  cmd->add_option("--clients-per-round", f->clients_per_round,
                  "clients sampled per round, seeded (0: all)");
  cmd->add_option("--strategy", f->strategy, "fedavg | fedprox");
  cmd->add_option("--mu", f->mu, "fedprox: weight of the proximal term mu/2 |w - w_global|^2");
  cmd->add_option("--partition", f->partition,
                  "iid | dirichlet:ALPHA (non-IID labels; smaller ALPHA, more skew)");
  cmd->add_option("--local-epochs", f->local_epochs, "epochs each client trains per round");
  cmd->add_option("--batch", f->batch_size, "local batch size (rows per client step)");
  cmd->add_option("--lr", f->lr, "local SGD learning rate");
  cmd->add_option("--momentum", f->momentum, "local SGD momentum (fresh each round)");
  cmd->add_option("--model", f->model, "mlp | cnn | mlp:W1,W2,...");
  cmd->add_option("--seed", f->seed, "partition, sampling, initial weights and shuffles");
  cmd->add_option("--client-timeout", f->client_timeout_s,
                  "seconds the server waits for a client rank in a round before dropping it");
  cmd->add_option("--train-rows", f->train_rows, "use the first N training rows (0: all)");
  cmd->add_option("--threads", f->threads,
                  "compute threads per rank (0: the node's cores / ranks)");
  cmd->add_option("--power", f->power_w,
                  "declared wall power in W instead of the sensors (labelled declared)");
  cmd->add_flag("--no-meter", f->no_meter, "do not meter the clients' training");
  cmd->add_flag("--json", f->json, "print the rounds and energy as one JSON object on stdout");
  AddLedgerFlags(*cmd, f->ledger);
  cmd->callback([f] {
#ifdef JOULE_WITH_MPI
    RunFederatedCommand(*f);
#else
    throw Error(kNoMpiMessage);
#endif
  });
}

}  // namespace joule::cli
