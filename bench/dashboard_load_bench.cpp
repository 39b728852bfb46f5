// The dashboard under load, and a report of a long run.
//
//   dashboard_load_bench [--ledger FILE] [--runs 1000] [--samples 1000]
//                        [--clients 200] [--requests 50] [--big 100000]
//
// Makes (once; kept for the next call) a ledger of RUNS runs of SAMPLES
// samples each (1,000 x 1,000 = a million samples) and one run of BIG
// samples, serves it with the dashboard on loopback, and lets CLIENTS
// threads send REQUESTS requests each, one keep-alive connection per client,
// cycling through the runs page, a run's page, the API's runs, run, samples
// and compare, and two requests that must be refused (404, 400). Prints the
// latency percentiles, the errors (a transport failure or an unexpected
// status), and then the time to write the HTML report of the BIG run. The
// same numbers go to bench/RESULTS.md.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "joule/http_server.hpp"
#include "joule/report.hpp"
#include "joule/util.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::string Recorded(joule::Ledger& ledger, const std::string& kind, int index, int samples,
                     std::mt19937& rng) {
  joule::RunRecord header;
  header.kind = kind;
  header.name = kind + " #" + std::to_string(index);
  header.start_unix_s = 1'700'000'000 + index * 3600.0;
  header.host.cpu_model = "load fixture";
  header.energy.method = "estimated:tdp-model";
  std::string id = ledger.BeginRun(header);
  std::uniform_real_distribution<double> watts(20, 60);
  std::vector<joule::SampleRow> rows;
  double cpu = 0, ram = 0;
  for (int i = 1; i <= samples; ++i) {
    joule::SampleRow s;
    s.t_unix_s = header.start_unix_s + i;
    cpu += watts(rng);
    ram += 3;
    s.component_j = {cpu, ram, 0, 0, 0};
    s.energy_j = s.machine_energy_j = cpu + ram;
    s.power_w = 40;
    rows.push_back(s);
    if (rows.size() == 10000) {
      ledger.AppendSamples(id, rows);
      rows.clear();
    }
  }
  ledger.AppendSamples(id, rows);
  if (kind == "train") {
    for (int e = 1; e <= 5; ++e) {
      ledger.AppendEpoch(
          id, {e, samples / 5.0, (cpu + ram) / 5, 0.001, {{"accuracy", 0.9 + e * 0.01}}});
    }
  }
  joule::EnergyReport energy;
  energy.method = "estimated:tdp-model";
  energy.estimated = true;
  energy.energy_j = cpu + ram;
  energy.duration_s = samples;
  energy.operational_g = energy.kwh() * 400;
  energy.intensity_g_per_kwh = 400;
  joule::ComponentReport c;
  c.component = joule::Component::kCpu;
  c.energy_j = cpu;
  c.method = energy.method;
  energy.components.push_back(c);
  c.component = joule::Component::kRam;
  c.energy_j = ram;
  energy.components.push_back(c);
  std::uniform_real_distribution<double> accuracy(0.9, 0.99);
  ledger.FinishRun(id, joule::RunStatus::kCompleted, "", energy, {{"accuracy", accuracy(rng)}});
  return id;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::size_t k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = "build/bench-dashboard/ledger.db";
  int runs = 1000, samples = 1000, clients = 200, requests = 50, big = 100000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    int value = std::atoi(argv[i + 1]);
    if (flag == "--ledger")
      path = argv[i + 1];
    else if (flag == "--runs")
      runs = value;
    else if (flag == "--samples")
      samples = value;
    else if (flag == "--clients")
      clients = value;
    else if (flag == "--requests")
      requests = value;
    else if (flag == "--big")
      big = value;
    else {
      std::fprintf(stderr, "dashboard_load_bench: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  try {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::vector<std::string> ids;
    std::string big_id;
    {
      auto ledger = joule::Ledger::Open(path);
      // The big run is the one that starts before the others (index -1).
      for (const joule::RunRecord& r : ledger->List({})) {
        if (r.start_unix_s < 1'700'000'000) {
          big_id = r.id;
        } else {
          ids.push_back(r.id);
        }
      }
      if (ids.size() != static_cast<std::size_t>(runs) || big_id.empty()) {
        std::printf("making the ledger: %d runs x %d samples and one of %d samples...\n", runs,
                    samples, big);
        ledger.reset();
        std::filesystem::remove(path);
        ledger = joule::Ledger::Open(path);
        std::mt19937 rng(42);
        ids.clear();
        auto t0 = Clock::now();
        const char* kinds[] = {"train", "measure", "bench-infer", "compress.quantize"};
        for (int r = 0; r < runs; ++r)
          ids.push_back(Recorded(*ledger, kinds[r % 4], r, samples, rng));
        big_id = Recorded(*ledger, "bench-infer", -1, big, rng);
        std::printf("  made in %.1f s\n", Seconds(t0));
      }
    }
    joule::Dashboard dashboard(path, "127.0.0.1:0");
    std::vector<std::vector<double>> latencies(static_cast<std::size_t>(clients));
    std::atomic<int> errors{0};
    std::atomic<int> first_error_logged{0};
    auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        httplib::Client client("127.0.0.1", dashboard.port());
        client.set_keep_alive(true);
        client.set_read_timeout(60, 0);
        std::mt19937 rng(static_cast<unsigned>(c));
        std::uniform_int_distribution<std::size_t> pick(0, ids.size() - 1);
        for (int i = 0; i < requests; ++i) {
          const std::string& id = ids[pick(rng)];
          std::string target;
          int expected = 200;
          switch ((c + i) % 8) {
            case 0:
              target = "/?kind=train&limit=100";
              break;
            case 1:
              target = "/run/" + id;
              break;
            case 2:
              target = "/api/runs?limit=50";
              break;
            case 3:
              target = "/api/run/" + id;
              break;
            case 4:
              target = "/api/samples/" + id;
              break;
            case 5:
              target = "/api/compare?ids=" + id + "," + ids[pick(rng)];
              break;
            case 6:
              target = "/api/run/ffffffffffff";
              expected = 404;
              break;
            default:
              target = "/api/runs?limit=x";
              expected = 400;
              break;
          }
          auto start = Clock::now();
          httplib::Result r = client.Get(target.c_str());
          latencies[static_cast<std::size_t>(c)].push_back(Seconds(start) * 1000);
          if (!r || r->status != expected) {
            ++errors;
            if (first_error_logged++ == 0) {
              std::fprintf(
                  stderr, "error: %s -> %s\n", target.c_str(),
                  r ? std::to_string(r->status).c_str() : httplib::to_string(r.error()).c_str());
            }
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    double wall = Seconds(t0);
    std::vector<double> all;
    for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
    std::size_t n = all.size();
    double p50 = Percentile(all, 0.50), p90 = Percentile(all, 0.90), p99 = Percentile(all, 0.99);
    double max = *std::max_element(all.begin(), all.end());
    std::printf(
        "load: %d clients x %d requests = %zu on %d runs (+1 of %d samples), %d errors, "
        "%.1f s, %.0f requests/s\n",
        clients, requests, n, runs, big, errors.load(), wall, static_cast<double>(n) / wall);
    std::printf("latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", p50, p90, p99, max);
    httplib::Client after("127.0.0.1", dashboard.port());
    httplib::Result alive = after.Get("/api/runs?limit=1");
    std::printf("still serving after the load: %s\n", alive && alive->status == 200 ? "yes" : "NO");

    // The report of the long run, as `joule report ID --out F.html` writes it.
    auto r0 = Clock::now();
    auto ledger = joule::Ledger::Open(path);
    joule::ReportRun run{ledger->Get(big_id), ledger->Samples(big_id)};
    std::string html = joule::ReportHtml({run}, {});
    joule::WriteFileAtomic(std::filesystem::path(path).parent_path() / "big-report.html", html);
    std::printf("report of one run with %zu samples: %.3f s, %zu bytes of HTML\n",
                run.samples.size(), Seconds(r0), html.size());
    return errors == 0 && alive && alive->status == 200 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dashboard_load_bench: %s\n", e.what());
    return 1;
  }
}
