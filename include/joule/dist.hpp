// joule/dist.hpp: beyond one machine, on Open MPI. The communicator (ranks,
// nodes, every call timed and its bytes counted), data-parallel training
// through Fit's step and evaluation hooks, the energy of a job across ranks and
// nodes without counting a node twice, and federated learning (FedAvg,
// FedProx) with a server rank and simulated clients on the others.
//
// Dist layer (src/dist/*.cpp, library joule_dist): links train, meter and MPI.
// Built only when CMake finds MPI (option JOULE_WITH_MPI); the core builds
// without it, and the command then says how to get it. mpi.h stays inside
// src/dist/: nothing here needs it.
//
// Threads: one thread per rank calls into this layer (MPI_THREAD_FUNNELED);
// the meter's and oneDNN's threads never touch MPI.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "joule/energy_report.hpp"
#include "joule/train.hpp"

namespace joule::dist {

// What one rank handed to MPI and how long it waited in it. bytes_sent counts
// the payload a rank contributes (an all-reduce of n floats counts 4n, a
// broadcast counts 4n at the root and 0 elsewhere, a send its bytes); what an
// all-reduce algorithm puts on the wire is about 2 (R-1)/R times that for a
// ring (docs/distributed.md).
struct CommStats {
  std::int64_t bytes_sent = 0;
  std::int64_t bytes_received = 0;
  double mpi_s = 0;  // wall time inside MPI calls (waiting included)
  std::int64_t calls = 0;
};

// MPI_COMM_WORLD and this rank's node. Construction initialises MPI
// (MPI_Init_thread, FUNNELED) when it is not yet, sets MPI_ERRORS_RETURN (a
// failed call throws Error naming it instead of aborting inside MPI) and
// splits the world by shared memory (MPI_Comm_split_type SHARED): one node
// per split, numbered by its lowest world rank, whose rank 0 is the node's
// leader. Destruction calls MPI_Finalize unless SkipFinalize() was called
// (after a peer died, MPI_Finalize would wait for it forever). One per
// process; not copyable.
class Communicator {
 public:
  Communicator(int* argc, char*** argv);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int node() const { return node_; }    // 0-based node index
  int nodes() const { return nodes_; }  // number of nodes
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  bool leader() const { return local_rank_ == 0; }
  const std::string& host() const { return host_; }

  // Collectives over every rank; each throws Error when MPI reports one.
  void Broadcast(float* data, std::int64_t n, int root);
  void Broadcast(std::string& text, int root);
  // In place: every rank ends with the element-wise sum.
  void AllreduceSum(float* data, std::int64_t n);
  void AllreduceSum(double* data, std::int64_t n);
  // Rank 0 receives every rank's `mine` (all the same length), rank by rank;
  // other ranks receive an empty vector.
  std::vector<double> GatherToRoot(const std::vector<double>& mine);
  void Barrier();

  // Point to point, for the federated server and clients. Send posts the
  // message and waits up to timeout_s for MPI to take it: false when it did
  // not (the peer stopped reading; the message is then abandoned).
  bool Send(const std::vector<char>& bytes, int dest, int tag, double timeout_s);
  // Waits up to timeout_s for a message from `source` (kAnySource: any) with
  // `tag`, polling (MPI_Iprobe) so that a dead peer costs the timeout, not a
  // hang. Returns the sender's rank, or -1 on timeout.
  static constexpr int kAnySource = -1;
  int Receive(std::vector<char>& bytes, int source, int tag, double timeout_s);

  // Ends every rank: MPI_Abort(MPI_COMM_WORLD, code). Does not return.
  [[noreturn]] void Abort(int code);
  void SkipFinalize() { finalize_ = false; }

  const CommStats& stats() const { return stats_; }

 private:
  struct Handles;
  std::unique_ptr<Handles> h_;
  int rank_ = 0, size_ = 1, node_ = 0, nodes_ = 1, local_rank_ = 0, local_size_ = 1;
  std::string host_;
  bool finalize_ = true;
  CommStats stats_;
};

// ---------------------------------------------------------------------------
// Data-parallel training
// ---------------------------------------------------------------------------

struct DataParallelOptions {
  // Gradients are all-reduced in buckets of at most this many floats, so a
  // model of many small layers costs a few calls per step, not one per layer.
  std::int64_t bucket_floats = 1 << 20;
};

// Rank r of R trains on rows [b r / R, b (r+1) / R) of every global batch of
// b rows: every rank runs Fit with the global batch size and the same seed,
// so the batch iterator draws the same global batch everywhere, and each
// takes its disjoint slice. Each rank's gradient of its slice's mean loss is
// weighted by its rows / b and the weighted gradients are summed with
// MPI_Allreduce: the result is the gradient of the global batch's mean loss,
// as one process computes it (up to the order of float summation). The
// optimizer then steps identically on every rank.
//
// Evaluation is sharded the same way (each rank evaluates a slice of the set,
// the sums are all-reduced), so every rank's callbacks see the same figures
// and stop at the same step. Not overlapped with backward: Sequential's
// Backward is one call, and on two cores the all-reduce of an MLP's 0.9 MB
// costs under a millisecond (bench/RESULTS.md).
class DataParallel {
 public:
  // `comm`, `model` and `loss` must outlive this object.
  DataParallel(Communicator& comm, Sequential& model, Loss& loss, DataParallelOptions options = {});
  // Rank 0's parameters and buffers to every rank.
  void BroadcastWeights();
  // FitOptions::step: this rank's slice, forward, loss, backward, all-reduce.
  FitStepResult Step(const Tensor& x, const Tensor& y);
  // FitOptions::evaluate: this rank's slice of `set`, the figures all-reduced.
  EvalResult Evaluate(const Dataset& set, const TargetScaler& scaler);
  // Sets options.step and options.evaluate to the two above, and gives the
  // checkpoints one directory per rank: rank 0 keeps options.checkpoint.dir,
  // rank r > 0 uses DIR/rank-r (its own energy so far; the weights are the
  // same everywhere). `scaler` must outlive the Fit.
  void Install(FitOptions& options, const TargetScaler& scaler);

 private:
  void ReduceGradients(double weight);
  Communicator& comm_;
  Sequential& model_;
  Loss& loss_;
  DataParallelOptions options_;
  std::vector<float> bucket_;
  Tensor x_, y_, grad_;
};

// ---------------------------------------------------------------------------
// Energy across ranks and nodes
// ---------------------------------------------------------------------------

// One rank's figures as rank 0 receives them.
struct RankEnergy {
  int rank = 0, node = 0;
  bool leader = false;
  std::string host;
  double energy_j = 0;          // this rank's process tree (its attributed share)
  double machine_energy_j = 0;  // what this rank's meter saw of its whole machine
  double co2_g = 0;             // with this rank's own carbon zone
  double duration_s = 0;
  CommStats comm;
};

struct NodeEnergy {
  int node = 0;
  std::string host;
  int ranks = 0;
  double machine_energy_j = 0;  // the leader's measurement, once per node
  double process_energy_j = 0;  // the node's ranks' shares, summed
  double co2_g = 0;
};

// A job's energy: per rank, per node, and the job's totals. A node's machine
// energy is its leader's measurement alone (R ranks on one machine are one
// machine, not R); the process share of a node is the sum of its ranks'
// shares; the job's machine energy is the sum over nodes and its attributed
// energy the sum over ranks. `method` is the method label of the ranks'
// meters ("estimated:tdp-model" here), joined by "+" when they differ.
struct JobEnergy {
  std::vector<RankEnergy> ranks;
  std::vector<NodeEnergy> nodes;
  double machine_energy_j = 0;
  double energy_j = 0;
  double co2_g = 0;
  std::string method;
  CommStats comm;  // summed over ranks
};

// Collective: every rank passes its own report (its meter over the work) and
// its communicator's figures; rank 0 gets the job's figures, the others an
// empty JobEnergy. `report` unmetered (method "") counts as 0 J.
JobEnergy ReduceJobEnergy(Communicator& comm, const EnergyReport& report);

// The job's figures as the ledger's metrics hold them: {"ranks": [...],
// "nodes": [...], "machine_energy_j", "energy_j", "co2_g", "method",
// "bytes_sent", "mpi_s"}.
nlohmann::json JobEnergyJson(const JobEnergy& energy);

// rank 0's report with the job's totals: energy_j, machine_energy_j and grams
// replaced by the job's, components scaled to them (their split is rank 0's).
EnergyReport JobEnergyReport(const EnergyReport& rank0, const JobEnergy& job);

// ---------------------------------------------------------------------------
// Federated learning
// ---------------------------------------------------------------------------

struct FederatedOptions {
  int rounds = 10;
  int clients = 0;                  // simulated clients in all; 0: one per client rank
  int clients_per_round = 0;        // K sampled per round; 0: all
  std::string strategy = "fedavg";  // fedavg | fedprox
  double mu = 0.01;                 // fedprox's proximal weight, >= 0
  std::string partition = "iid";    // iid | dirichlet:ALPHA
  int local_epochs = 1;
  std::int64_t batch_size = 32;
  double lr = 0.05;
  double momentum = 0.0;
  std::string model = "mlp";
  std::uint64_t seed = 1;
  // Seconds the server waits for a client rank's updates in a round; a rank
  // that misses it is dropped (its clients are skipped from then on).
  double client_timeout_s = 60;
  std::int64_t train_rows = 0;  // 0: every training row; else the first N (tests)
  MeteringOptions metering;     // each client's local training is metered
};

// What one client did in one round.
struct ClientRound {
  int client = 0;
  int rank = 0;
  bool dropped = false;  // its rank missed the round: no figures
  std::int64_t examples = 0;
  double energy_j = 0;  // its local training, attributed to its rank's process
  std::string energy_method;
  std::int64_t bytes_down = 0, bytes_up = 0;  // the model down, its update up
  double local_accuracy = 0;                  // on its own data, after training
  double seconds = 0;
};

struct FederatedRound {
  int round = 0;  // 1-based
  std::vector<ClientRound> clients;
  double global_accuracy = 0;  // the test set, with the aggregated model
  double global_loss = 0;
  double seconds = 0;
};

struct FederatedResult {
  std::vector<FederatedRound> rounds;  // rank 0 only
  int clients = 0;
  std::vector<int> dropped_ranks;
  double final_accuracy = 0;
  double seconds = 0;
  JobEnergy energy;  // rank 0: every rank that finished, per rank and node
  // Rank 0's own meter over the job (times, intensity, labels); with
  // JobEnergyReport(server_report, energy) the job's report for the ledger.
  EnergyReport server_report;
};

// Throws Error naming the option (its flag) when one is out of range, the
// strategy or partition is unknown, or there are fewer than 2 ranks.
void CheckFederatedOptions(const FederatedOptions& options, int ranks);

// The server (rank 0) and client ranks (1..R-1) of one federated job. Client
// c lives on rank 1 + c % (R-1). Each round the server samples K clients
// (seeded), sends their ranks the global weights, waits for the updates and
// averages them weighted by examples (FedAvg; FedProx adds mu/2 |w - w_g|^2 to
// each client's loss), then evaluates the global model on the test set.
// Local training is Fit (the one loop), metered. on_round (rank 0) is called
// after each round. A client rank that misses client_timeout_s is dropped: its
// clients are skipped, the job goes on. Collective over MPI_COMM_WORLD.
FederatedResult RunFederated(Communicator& comm, const FederatedOptions& options,
                             const std::function<void(const FederatedRound&)>& on_round);

// The Dirichlet or IID split of `labels` (class indices) over `clients`: one
// list of row indices per client. iid: a seeded shuffle cut evenly. dirichlet:
// per class, proportions drawn from Dir(alpha) over the clients. Every row
// goes to exactly one client.
std::vector<std::vector<std::int64_t>> PartitionRows(const std::vector<int>& labels, int classes,
                                                     int clients, const std::string& partition,
                                                     std::uint64_t seed);

// The federated rounds as the ledger's metrics hold them.
nlohmann::json FederatedJson(const FederatedResult& result);

}  // namespace joule::dist
