// Federated learning: rank 0 is the server, ranks 1..R-1 host the simulated
// clients. Messages are point to point (a JSON header and the weights), so
// every byte is counted and a client that stops answering costs a timeout.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include "joule/dist.hpp"
#include "joule/util.hpp"

namespace joule::dist {
namespace {

constexpr int kTagRound = 11;   // server -> client rank: the round's clients and weights
constexpr int kTagUpdate = 12;  // client rank -> server: its clients' updates
constexpr int kTagFinal = 13;   // client rank -> server: its energy over the job
constexpr double kForever = 7 * 24 * 3600.0;

// A message: the header's length (8 bytes), the JSON header, then floats.
std::vector<char> Pack(const nlohmann::json& header, const std::vector<float>& floats) {
  std::string text = header.dump();
  std::uint64_t n = text.size();
  std::vector<char> out(8 + text.size() + floats.size() * sizeof(float));
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, text.data(), text.size());
  if (!floats.empty()) {
    std::memcpy(out.data() + 8 + text.size(), floats.data(), floats.size() * sizeof(float));
  }
  return out;
}

void Unpack(const std::vector<char>& bytes, nlohmann::json& header, std::vector<float>& floats) {
  std::uint64_t n = 0;
  if (bytes.size() < 8)
    throw Error("federated: a message of " + std::to_string(bytes.size()) + " bytes");
  std::memcpy(&n, bytes.data(), 8);
  if (n > bytes.size() - 8) throw Error("federated: a message's header overruns it");
  header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n));
  std::size_t rest = bytes.size() - 8 - n;
  floats.resize(rest / sizeof(float));
  if (rest > 0) std::memcpy(floats.data(), bytes.data() + 8 + n, rest);
}

std::vector<Tensor*> Tensors(Sequential& model) {
  std::vector<Tensor*> out;
  for (auto& [name, t] : model.NamedTensors()) {
    if (t->dtype() == DType::kF32 && !t->empty()) out.push_back(t);
  }
  return out;
}

std::vector<float> Flatten(Sequential& model) {
  std::vector<float> out;
  for (Tensor* t : Tensors(model)) out.insert(out.end(), t->f32(), t->f32() + t->numel());
  return out;
}

void Unflatten(Sequential& model, const std::vector<float>& w) {
  std::size_t off = 0;
  for (Tensor* t : Tensors(model)) {
    if (off + static_cast<std::size_t>(t->numel()) > w.size()) {
      throw Error("federated: a model message of " + std::to_string(w.size()) +
                  " floats is shorter than the model");
    }
    std::memcpy(t->f32(), w.data() + off, static_cast<std::size_t>(t->numel()) * sizeof(float));
    off += static_cast<std::size_t>(t->numel());
  }
}

int RankOfClient(int client, int ranks) { return 1 + client % (ranks - 1); }

// What every rank builds the same way from the options: the data, the model
// and the partition.
struct Setup {
  PreparedData data;
  std::vector<std::vector<std::int64_t>> parts;
  Sequential model;
  std::unique_ptr<Loss> loss;
};

Setup MakeSetup(const FederatedOptions& o, int clients) {
  Setup s;
  s.data = PrepareData("mnist", "", "classification", o.seed);
  if (o.train_rows > 0 && o.train_rows < s.data.train.rows()) {
    std::vector<std::int64_t> first(static_cast<std::size_t>(o.train_rows));
    for (std::int64_t i = 0; i < o.train_rows; ++i) first[static_cast<std::size_t>(i)] = i;
    s.data.train = Subset(s.data.train, first);
  }
  std::vector<int> labels(static_cast<std::size_t>(s.data.train.rows()));
  const float* y = s.data.train.y.f32();
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int>(y[i]);
  s.parts = PartitionRows(labels, s.data.train.num_classes, clients, o.partition, o.seed);
  Rng rng(o.seed);
  s.model = MakeModel(o.model, s.data.train.x.shape(), s.data.train.num_classes, rng);
  s.loss = MakeSoftmaxCrossEntropy();
  return s;
}

// One client's local training from the global weights: Fit over its rows for
// local_epochs, FedProx's proximal gradient mu (w - w_global) added to each
// step's gradients.
struct LocalResult {
  std::vector<float> weights;
  double train_accuracy = 0;
};

LocalResult TrainLocal(Setup& s, const FederatedOptions& o, const std::vector<float>& global,
                       const Dataset& rows, std::uint64_t seed) {
  Unflatten(s.model, global);
  PreparedData local;
  local.train = rows;
  local.eval_name = "test";
  std::unique_ptr<Optimizer> opt =
      MakeOptimizer(OptimizerConfig{.kind = "sgd", .lr = o.lr, .momentum = o.momentum});
  FitOptions fit;
  fit.epochs = o.local_epochs;
  fit.batch_size = o.batch_size;
  fit.seed = seed;
  fit.evaluate = [](const Dataset&) { return EvalResult{}; };
  std::vector<Parameter*> params = s.model.Parameters();
  std::vector<float> anchor;
  if (o.strategy == "fedprox" && o.mu > 0) {
    for (Parameter* p : params)
      anchor.insert(anchor.end(), p->value.f32(), p->value.f32() + p->value.numel());
    fit.step = [&](const Tensor& x, const Tensor& y) {
      const Tensor& pred = s.model.Forward(x, /*training=*/true);
      Tensor grad;
      FitStepResult r;
      r.loss = s.loss->Compute(pred, y, grad);
      std::int64_t classes = pred.dim(1);
      for (std::int64_t i = 0; i < pred.dim(0); ++i) {
        const float* row = pred.f32() + i * classes;
        r.correct +=
            (std::max_element(row, row + classes) - row) == static_cast<std::int64_t>(y.f32()[i]);
      }
      s.model.Backward(grad);
      const float mu = static_cast<float>(o.mu);
      std::size_t off = 0;
      for (Parameter* p : params) {
        float* g = p->grad.f32();
        const float* w = p->value.f32();
        for (std::int64_t k = 0; k < p->value.numel(); ++k)
          g[k] += mu * (w[k] - anchor[off + static_cast<std::size_t>(k)]);
        off += static_cast<std::size_t>(p->value.numel());
      }
      return r;
    };
  }
  FitResult r = Fit(s.model, *s.loss, *opt, local, fit);
  LocalResult out;
  out.weights = Flatten(s.model);
  if (!r.history.empty()) out.train_accuracy = r.history.back().train_accuracy;
  return out;
}

std::vector<double> FinalFigures(Communicator& comm, const EnergyReport& e) {
  return {static_cast<double>(comm.node()),
          comm.leader() ? 1.0 : 0.0,
          e.energy_j,
          e.machine_energy_j,
          e.co2_g(),
          e.duration_s};
}

RankEnergy RankEnergyOf(int rank, const nlohmann::json& h, const CommStats& stats) {
  RankEnergy r;
  r.rank = rank;
  r.node = h.at("node").get<int>();
  r.leader = h.at("leader").get<bool>();
  r.energy_j = h.at("energy_j").get<double>();
  r.machine_energy_j = h.at("machine_energy_j").get<double>();
  r.co2_g = h.at("co2_g").get<double>();
  r.duration_s = h.at("duration_s").get<double>();
  r.comm = stats;
  return r;
}

nlohmann::json FinalHeader(Communicator& comm, const EnergyReport& e) {
  std::vector<double> f = FinalFigures(comm, e);
  return {{"node", comm.node()},
          {"leader", comm.leader()},
          {"energy_j", f[2]},
          {"machine_energy_j", f[3]},
          {"co2_g", f[4]},
          {"duration_s", f[5]},
          {"method", e.method},
          {"bytes_sent", comm.stats().bytes_sent},
          {"bytes_received", comm.stats().bytes_received},
          {"mpi_s", comm.stats().mpi_s},
          {"mpi_calls", comm.stats().calls}};
}

void RunClient(Communicator& comm, const FederatedOptions& o, Setup& s, MeterSession* meter) {
  nlohmann::json header;
  std::vector<float> global, payload;
  std::vector<char> bytes;
  bool finalize = true;
  for (;;) {
    // The server writes to every live client rank each round (an empty list
    // when none of its clients was drawn), and a round lasts at most the
    // client timeout plus the server's own work: silence for much longer
    // means the server is gone (under mpirun --enable-recovery nothing else
    // would end this rank).
    const double server_timeout_s = 2 * o.client_timeout_s + 120;
    if (comm.Receive(bytes, 0, kTagRound, server_timeout_s) < 0) {
      comm.SkipFinalize();
      throw Error("the server (rank 0) sent nothing for " +
                  std::to_string(static_cast<int>(server_timeout_s)) +
                  " s: it stopped, so this client rank ends");
    }
    std::vector<float> received;
    Unpack(bytes, header, received);
    if (header.at("stop").get<bool>()) {
      finalize = header.value("finalize", true);
      break;
    }
    const std::vector<int> drawn = header.at("clients").get<std::vector<int>>();
    if (drawn.empty()) continue;  // not drawn this round: nothing to send back
    global = std::move(received);
    int round = header.at("round").get<int>();
    nlohmann::json updates = nlohmann::json::array();
    payload.clear();
    for (int client : drawn) {
      const std::vector<std::int64_t>& rows = s.parts[static_cast<std::size_t>(client)];
      double start_s = MonotonicSeconds();
      double start_j = meter != nullptr ? meter->Sample().energy_j : 0;
      LocalResult local;
      if (rows.empty()) {
        local.weights = global;
      } else {
        Dataset mine = Subset(s.data.train, rows);
        local = TrainLocal(s, o, global, mine,
                           o.seed * 1000003ULL + static_cast<std::uint64_t>(round) * 1009ULL +
                               static_cast<std::uint64_t>(client));
      }
      double joules = meter != nullptr ? meter->Sample().energy_j - start_j : 0;
      updates.push_back({{"client", client},
                         {"examples", static_cast<std::int64_t>(rows.size())},
                         {"energy_j", joules},
                         {"energy_method", meter != nullptr ? meter->method() : ""},
                         {"local_accuracy", local.train_accuracy},
                         {"seconds", MonotonicSeconds() - start_s},
                         {"floats", local.weights.size()}});
      payload.insert(payload.end(), local.weights.begin(), local.weights.end());
    }
    comm.Send(Pack({{"round", round}, {"updates", updates}}, payload), 0, kTagUpdate, kForever);
  }
  EnergyReport e;
  if (meter != nullptr) {
    meter->Stop();
    e = meter->Report();
  }
  comm.Send(Pack(FinalHeader(comm, e), {}), 0, kTagFinal, 60);
  if (!finalize) comm.SkipFinalize();
}

}  // namespace

void CheckFederatedOptions(const FederatedOptions& o, int ranks) {
  if (ranks < 2) {
    throw Error(
        "joule federated needs at least 2 ranks (rank 0 is the server): run it as "
        "mpirun -n 3 joule federated ...");
  }
  if (o.rounds < 1) throw Error("--rounds " + std::to_string(o.rounds) + ": must be >= 1");
  if (o.clients < 0) throw Error("--clients " + std::to_string(o.clients) + ": must be >= 0");
  int clients = o.clients == 0 ? ranks - 1 : o.clients;
  if (o.clients_per_round < 0 || o.clients_per_round > clients) {
    throw Error("--clients-per-round " + std::to_string(o.clients_per_round) +
                ": must be within [0, " + std::to_string(clients) + "] (0: every client)");
  }
  if (o.strategy != "fedavg" && o.strategy != "fedprox") {
    throw Error("--strategy " + o.strategy + ": expected fedavg or fedprox");
  }
  if (!(o.mu >= 0) || !std::isfinite(o.mu)) throw Error("--mu: must be a number >= 0");
  if (o.local_epochs < 1) throw Error("--local-epochs: must be >= 1");
  if (o.batch_size < 1) throw Error("--batch-size: must be >= 1");
  if (!(o.lr > 0) || !std::isfinite(o.lr)) throw Error("--lr: must be a number > 0");
  if (!(o.client_timeout_s > 0)) throw Error("--client-timeout: must be > 0 seconds");
  if (o.train_rows < 0) throw Error("--train-rows: must be >= 0");
  // The partition's syntax, on a toy set.
  PartitionRows({0, 1}, 2, 1, o.partition, 1);
}

std::vector<std::vector<std::int64_t>> PartitionRows(const std::vector<int>& labels, int classes,
                                                     int clients, const std::string& partition,
                                                     std::uint64_t seed) {
  if (clients < 1) throw Error("a partition needs at least one client");
  std::mt19937_64 rng(seed ^ 0x6665646572ULL);  // "feder"
  std::vector<std::vector<std::int64_t>> parts(static_cast<std::size_t>(clients));
  const auto n = static_cast<std::int64_t>(labels.size());
  if (partition == "iid") {
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (int c = 0; c < clients; ++c) {
      std::int64_t lo = n * c / clients, hi = n * (c + 1) / clients;
      parts[static_cast<std::size_t>(c)].assign(order.begin() + lo, order.begin() + hi);
    }
    return parts;
  }
  const std::string prefix = "dirichlet:";
  if (partition.rfind(prefix, 0) != 0) {
    throw Error("--partition " + partition +
                ": expected iid or dirichlet:ALPHA (e.g. dirichlet:0.1)");
  }
  double alpha = 0;
  try {
    std::size_t used = 0;
    alpha = std::stod(partition.substr(prefix.size()), &used);
    if (used != partition.size() - prefix.size()) alpha = -1;
  } catch (const std::exception&) {
    alpha = -1;
  }
  if (!(alpha > 0) || !std::isfinite(alpha)) {
    throw Error("--partition " + partition + ": ALPHA must be a number > 0 (e.g. dirichlet:0.1)");
  }
  std::vector<std::vector<std::int64_t>> by_class(static_cast<std::size_t>(std::max(classes, 1)));
  for (std::int64_t i = 0; i < n; ++i) {
    int c = std::clamp(labels[static_cast<std::size_t>(i)], 0, std::max(classes, 1) - 1);
    by_class[static_cast<std::size_t>(c)].push_back(i);
  }
  std::gamma_distribution<double> gamma(alpha, 1.0);
  for (auto& rows : by_class) {
    std::shuffle(rows.begin(), rows.end(), rng);
    std::vector<double> p(static_cast<std::size_t>(clients));
    double sum = 0;
    for (double& v : p) sum += (v = gamma(rng));
    if (!(sum > 0)) {
      std::fill(p.begin(), p.end(), 1.0);
      sum = clients;
    }
    // Cumulative cut points, so every row goes to exactly one client.
    double acc = 0;
    std::int64_t lo = 0, m = static_cast<std::int64_t>(rows.size());
    for (int c = 0; c < clients; ++c) {
      acc += p[static_cast<std::size_t>(c)];
      std::int64_t hi =
          c == clients - 1 ? m : static_cast<std::int64_t>(std::llround(m * acc / sum));
      hi = std::clamp(hi, lo, m);
      parts[static_cast<std::size_t>(c)].insert(parts[static_cast<std::size_t>(c)].end(),
                                                rows.begin() + lo, rows.begin() + hi);
      lo = hi;
    }
  }
  return parts;
}

FederatedResult RunFederated(Communicator& comm, const FederatedOptions& o,
                             const std::function<void(const FederatedRound&)>& on_round) {
  CheckFederatedOptions(o, comm.size());
  const int ranks = comm.size();
  const int clients = o.clients == 0 ? ranks - 1 : o.clients;
  const int per_round = o.clients_per_round == 0 ? clients : o.clients_per_round;
  Setup s = MakeSetup(o, clients);
  std::unique_ptr<MeterSession> meter;
  if (o.metering.enabled) {
    meter = std::make_unique<MeterSession>(o.metering);
    meter->Start();
  }
  FederatedResult result;
  result.clients = clients;
  if (comm.rank() != 0) {
    RunClient(comm, o, s, meter.get());
    return result;
  }

  double job_start = MonotonicSeconds();
  std::vector<bool> alive(static_cast<std::size_t>(ranks), true);
  std::mt19937_64 rng(o.seed ^ 0x73616d706c65ULL);  // "sample"
  std::vector<float> global = Flatten(s.model);
  nlohmann::json header;
  std::vector<float> floats;
  std::vector<char> bytes;
  for (int round = 1; round <= o.rounds; ++round) {
    double round_start = MonotonicSeconds();
    FederatedRound fr;
    fr.round = round;
    // This round's clients: K drawn from those whose rank still answers.
    std::vector<int> candidates;
    for (int c = 0; c < clients; ++c) {
      if (alive[static_cast<std::size_t>(RankOfClient(c, ranks))]) candidates.push_back(c);
    }
    std::shuffle(candidates.begin(), candidates.end(), rng);
    if (static_cast<int>(candidates.size()) > per_round)
      candidates.resize(static_cast<std::size_t>(per_round));
    std::sort(candidates.begin(), candidates.end());
    std::map<int, std::vector<int>> by_rank;
    for (int c : candidates) by_rank[RankOfClient(c, ranks)].push_back(c);
    std::map<int, std::int64_t> down_bytes;
    std::set<int> waiting;
    // Live ranks none of whose clients was drawn hear of the round too (a
    // header, no weights), so that a client rank can tell a slow round from a
    // dead server.
    for (int rank = 1; rank < ranks; ++rank) {
      if (!alive[static_cast<std::size_t>(rank)] || by_rank.count(rank) > 0) continue;
      if (!comm.Send(
              Pack({{"round", round}, {"stop", false}, {"clients", nlohmann::json::array()}}, {}),
              rank, kTagRound, o.client_timeout_s)) {
        alive[static_cast<std::size_t>(rank)] = false;
      }
    }
    for (auto& [rank, list] : by_rank) {
      std::vector<char> msg = Pack({{"round", round}, {"stop", false}, {"clients", list}}, global);
      if (comm.Send(msg, rank, kTagRound, o.client_timeout_s)) {
        down_bytes[rank] = static_cast<std::int64_t>(msg.size());
        waiting.insert(rank);
      } else {
        alive[static_cast<std::size_t>(rank)] = false;
      }
    }
    // Updates, until every rank answered or the round's time is up.
    std::vector<double> sum(global.size(), 0.0);
    double examples = 0;
    std::map<int, ClientRound> got;
    double deadline = MonotonicSeconds() + o.client_timeout_s;
    while (!waiting.empty()) {
      double left = deadline - MonotonicSeconds();
      int from = left > 0 ? comm.Receive(bytes, Communicator::kAnySource, kTagUpdate, left) : -1;
      if (from < 0) break;
      Unpack(bytes, header, floats);
      if (header.at("round").get<int>() != round || waiting.count(from) == 0) continue;  // late
      waiting.erase(from);
      std::size_t off = 0;
      const nlohmann::json& updates = header.at("updates");
      for (const nlohmann::json& u : updates) {
        ClientRound cr;
        cr.client = u.at("client").get<int>();
        cr.rank = from;
        cr.examples = u.at("examples").get<std::int64_t>();
        cr.energy_j = u.at("energy_j").get<double>();
        cr.energy_method = u.at("energy_method").get<std::string>();
        cr.local_accuracy = u.at("local_accuracy").get<double>();
        cr.seconds = u.at("seconds").get<double>();
        std::size_t n = u.at("floats").get<std::size_t>();
        if (n != global.size() || off + n > floats.size()) {
          throw Error("federated: client " + std::to_string(cr.client) + " sent " +
                      std::to_string(n) + " weights, expected " + std::to_string(global.size()));
        }
        // As a real client would move them: the whole round message (the
        // global model) down, even when its rank hosts several simulated
        // clients and received it once; its own update and figures up.
        cr.bytes_down = down_bytes[from];
        cr.bytes_up = static_cast<std::int64_t>(n * sizeof(float) + u.dump().size());
        const double w = static_cast<double>(cr.examples);
        for (std::size_t k = 0; k < n; ++k) sum[k] += w * floats[off + k];
        examples += w;
        off += n;
        got[cr.client] = cr;
      }
    }
    for (int rank : waiting) alive[static_cast<std::size_t>(rank)] = false;
    // FedAvg: the example-weighted mean of the updates that arrived.
    if (examples > 0) {
      for (std::size_t k = 0; k < global.size(); ++k)
        global[k] = static_cast<float>(sum[k] / examples);
    }
    for (int c : candidates) {
      auto it = got.find(c);
      if (it != got.end()) {
        fr.clients.push_back(it->second);
      } else {
        ClientRound cr;
        cr.client = c;
        cr.rank = RankOfClient(c, ranks);
        cr.dropped = true;
        fr.clients.push_back(cr);
      }
    }
    Unflatten(s.model, global);
    EvalResult ev = joule::Evaluate(s.model, *s.loss, s.data.eval, s.data.target_scaler);
    fr.global_accuracy = ev.accuracy;
    fr.global_loss = ev.loss;
    fr.seconds = MonotonicSeconds() - round_start;
    result.final_accuracy = ev.accuracy;
    result.rounds.push_back(fr);
    if (on_round) on_round(fr);
  }
  // Stop every client rank; after a drop nobody finalizes (MPI_Finalize
  // would wait for the dead rank).
  bool any_dropped = false;
  for (int r = 1; r < ranks; ++r) {
    if (!alive[static_cast<std::size_t>(r)]) {
      any_dropped = true;
      result.dropped_ranks.push_back(r);
    }
  }
  for (int r = 1; r < ranks; ++r) {
    if (!alive[static_cast<std::size_t>(r)]) continue;
    comm.Send(Pack({{"stop", true}, {"finalize", !any_dropped}}, {}), r, kTagRound,
              o.client_timeout_s);
  }
  if (any_dropped) comm.SkipFinalize();
  EnergyReport mine;
  if (meter) {
    meter->Stop();
    mine = meter->Report();
  }
  // The job's energy from the ranks that finished: each sends its own share
  // and, when it leads its node, the node's machine energy.
  result.server_report = mine;
  JobEnergy& job = result.energy;
  job.method = mine.method;
  std::vector<RankEnergy> ranks_energy;
  nlohmann::json h0 = FinalHeader(comm, mine);
  ranks_energy.push_back(RankEnergyOf(0, h0, comm.stats()));
  for (int r = 1; r < ranks; ++r) {
    if (!alive[static_cast<std::size_t>(r)]) continue;
    if (comm.Receive(bytes, r, kTagFinal, o.client_timeout_s) < 0) continue;
    Unpack(bytes, header, floats);
    CommStats st;
    st.bytes_sent = header.value("bytes_sent", std::int64_t{0});
    st.bytes_received = header.value("bytes_received", std::int64_t{0});
    st.mpi_s = header.value("mpi_s", 0.0);
    st.calls = header.value("mpi_calls", std::int64_t{0});
    ranks_energy.push_back(RankEnergyOf(r, header, st));
  }
  std::map<int, NodeEnergy> nodes;
  for (RankEnergy& e : ranks_energy) {
    NodeEnergy& n = nodes[e.node];
    n.node = e.node;
    ++n.ranks;
    n.process_energy_j += e.energy_j;
    n.co2_g += e.co2_g;
    if (e.leader) n.machine_energy_j = e.machine_energy_j;
    if (e.rank == 0) n.host = comm.host();
    job.energy_j += e.energy_j;
    job.co2_g += e.co2_g;
    job.comm.bytes_sent += e.comm.bytes_sent;
    job.comm.bytes_received += e.comm.bytes_received;
    job.comm.mpi_s += e.comm.mpi_s;
    job.comm.calls += e.comm.calls;
  }
  for (auto& [id, n] : nodes) {
    job.machine_energy_j += n.machine_energy_j;
    job.nodes.push_back(n);
  }
  job.ranks = std::move(ranks_energy);
  result.seconds = MonotonicSeconds() - job_start;
  return result;
}

nlohmann::json FederatedJson(const FederatedResult& r) {
  nlohmann::json rounds = nlohmann::json::array();
  for (const FederatedRound& fr : r.rounds) {
    nlohmann::json clients = nlohmann::json::array();
    for (const ClientRound& c : fr.clients) {
      clients.push_back({{"client", c.client},
                         {"rank", c.rank},
                         {"dropped", c.dropped},
                         {"examples", c.examples},
                         {"energy_j", c.energy_j},
                         {"energy_method", c.energy_method},
                         {"bytes_down", c.bytes_down},
                         {"bytes_up", c.bytes_up},
                         {"local_accuracy", c.local_accuracy},
                         {"seconds", c.seconds}});
    }
    rounds.push_back({{"round", fr.round},
                      {"global_accuracy", fr.global_accuracy},
                      {"global_loss", fr.global_loss},
                      {"seconds", fr.seconds},
                      {"clients", clients}});
  }
  return {{"rounds", rounds},
          {"clients", r.clients},
          {"dropped_ranks", r.dropped_ranks},
          {"final_accuracy", r.final_accuracy},
          {"seconds", r.seconds},
          {"energy", JobEnergyJson(r.energy)}};
}

}  // namespace joule::dist
