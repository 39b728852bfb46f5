// A job's energy across ranks and nodes: each node's machine measured once
// (by its leader), each rank's share by its own process tree.
#include <map>

#include "joule/dist.hpp"
#include "joule/util.hpp"

namespace joule::dist {
namespace {

// The figures each rank sends, in this order.
enum Field {
  kNode,
  kLeader,
  kEnergy,
  kMachine,
  kCo2,
  kDuration,
  kBytesSent,
  kBytesReceived,
  kMpiSeconds,
  kCalls,
  kFields
};

}  // namespace

JobEnergy ReduceJobEnergy(Communicator& comm, const EnergyReport& report) {
  // Taken before the gather, so the gather itself is not in the figures.
  CommStats stats = comm.stats();
  std::vector<double> mine(kFields, 0.0);
  mine[kNode] = comm.node();
  mine[kLeader] = comm.leader() ? 1 : 0;
  if (report.metered()) {
    mine[kEnergy] = report.energy_j;
    mine[kMachine] = report.machine_energy_j;
    mine[kCo2] = report.co2_g();
  }
  mine[kDuration] = report.duration_s;
  mine[kBytesSent] = static_cast<double>(stats.bytes_sent);
  mine[kBytesReceived] = static_cast<double>(stats.bytes_received);
  mine[kMpiSeconds] = stats.mpi_s;
  mine[kCalls] = static_cast<double>(stats.calls);
  std::vector<double> all = comm.GatherToRoot(mine);
  JobEnergy job;
  if (comm.rank() != 0) return job;
  job.method = report.method;
  std::map<int, NodeEnergy> nodes;
  for (int r = 0; r < comm.size(); ++r) {
    const double* f = all.data() + static_cast<std::size_t>(r) * kFields;
    RankEnergy e;
    e.rank = r;
    e.node = static_cast<int>(f[kNode]);
    e.leader = f[kLeader] != 0;
    e.energy_j = f[kEnergy];
    e.machine_energy_j = f[kMachine];
    e.co2_g = f[kCo2];
    e.duration_s = f[kDuration];
    e.comm.bytes_sent = static_cast<std::int64_t>(f[kBytesSent]);
    e.comm.bytes_received = static_cast<std::int64_t>(f[kBytesReceived]);
    e.comm.mpi_s = f[kMpiSeconds];
    e.comm.calls = static_cast<std::int64_t>(f[kCalls]);
    if (r == 0) e.host = comm.host();
    NodeEnergy& n = nodes[e.node];
    n.node = e.node;
    ++n.ranks;
    n.process_energy_j += e.energy_j;
    n.co2_g += e.co2_g;
    // The node's machine once: its leader's measurement, whatever the others saw.
    if (e.leader) n.machine_energy_j = e.machine_energy_j;
    job.energy_j += e.energy_j;
    job.co2_g += e.co2_g;
    job.comm.bytes_sent += e.comm.bytes_sent;
    job.comm.bytes_received += e.comm.bytes_received;
    job.comm.mpi_s += e.comm.mpi_s;
    job.comm.calls += e.comm.calls;
    job.ranks.push_back(e);
  }
  for (auto& [id, n] : nodes) {
    if (id == 0) n.host = comm.host();
    job.machine_energy_j += n.machine_energy_j;
    job.nodes.push_back(n);
  }
  return job;
}

nlohmann::json JobEnergyJson(const JobEnergy& energy) {
  nlohmann::json ranks = nlohmann::json::array(), nodes = nlohmann::json::array();
  for (const RankEnergy& r : energy.ranks) {
    ranks.push_back({{"rank", r.rank},
                     {"node", r.node},
                     {"leader", r.leader},
                     {"energy_j", r.energy_j},
                     {"machine_energy_j_seen", r.machine_energy_j},
                     {"co2_g", r.co2_g},
                     {"duration_s", r.duration_s},
                     {"bytes_sent", r.comm.bytes_sent},
                     {"bytes_received", r.comm.bytes_received},
                     {"mpi_s", r.comm.mpi_s},
                     {"mpi_calls", r.comm.calls}});
  }
  for (const NodeEnergy& n : energy.nodes) {
    nodes.push_back({{"node", n.node},
                     {"host", n.host},
                     {"ranks", n.ranks},
                     {"machine_energy_j", n.machine_energy_j},
                     {"process_energy_j", n.process_energy_j},
                     {"co2_g", n.co2_g}});
  }
  return {{"ranks", ranks},
          {"nodes", nodes},
          {"machine_energy_j", energy.machine_energy_j},
          {"energy_j", energy.energy_j},
          {"co2_g", energy.co2_g},
          {"method", energy.method},
          {"bytes_sent", energy.comm.bytes_sent},
          {"mpi_s", energy.comm.mpi_s}};
}

EnergyReport JobEnergyReport(const EnergyReport& rank0, const JobEnergy& job) {
  EnergyReport r = rank0;
  if (!r.metered()) return r;
  double scale = rank0.energy_j > 0 ? job.energy_j / rank0.energy_j : 0;
  double machine_scale =
      rank0.machine_energy_j > 0 ? job.machine_energy_j / rank0.machine_energy_j : 0;
  for (ComponentReport& c : r.components) {
    c.energy_j *= scale;
    c.machine_j *= machine_scale;
  }
  double co2_scale = rank0.co2_g() > 0 ? job.co2_g / rank0.co2_g() : 0;
  r.operational_g *= co2_scale;
  r.embodied_g *= co2_scale;
  r.energy_j = job.energy_j;
  r.machine_energy_j = job.machine_energy_j;
  return r;
}

}  // namespace joule::dist
