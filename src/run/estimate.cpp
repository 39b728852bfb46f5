// joule estimate: energy and carbon of a job before it runs (see
// joule/estimate.hpp for the arithmetic).
#include "joule/estimate.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "joule/meter.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

constexpr std::size_t kSuggestions = 5;

struct GpuRow {
  std::string name, vendor, kind;
  double tdp_w = 0;
  std::string source;
};

// data/hardware/gpus.csv: name,vendor,kind,tdp_w,memory_gb,source; the source
// (the last column) may hold commas.
std::vector<GpuRow> ReadGpuTable(const std::string& path) {
  std::istringstream in(ReadFile(path));
  std::string line;
  std::vector<GpuRow> rows;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1 || line.empty()) continue;
    std::vector<std::string> f;
    std::size_t start = 0;
    for (int k = 0; k < 5; ++k) {
      std::size_t comma = line.find(',', start);
      if (comma == std::string::npos) break;
      f.push_back(line.substr(start, comma - start));
      start = comma + 1;
    }
    f.push_back(line.substr(start));
    char* end = nullptr;
    double tdp = f.size() == 6 ? std::strtod(f[3].c_str(), &end) : 0;
    if (f.size() != 6 || end == f[3].c_str() || *end != '\0' || !(tdp > 0)) {
      throw Error(path + ":" + std::to_string(line_no) +
                  ": expected name,vendor,kind,tdp_w,memory_gb,source with tdp_w > 0");
    }
    rows.push_back({f[0], f[1], f[2], tdp, f[5]});
  }
  return rows;
}

// Lower case, letters and digits only: "NVIDIA A100-SXM4" ~ "nvidiaa100sxm4".
std::string Squash(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

const GpuRow& FindGpu(const std::vector<GpuRow>& rows, const std::string& query,
                      const std::string& path) {
  std::string q = Squash(query);
  for (const GpuRow& r : rows) {
    if (q == Squash(r.name) || q == Squash(r.vendor + r.name)) return r;
  }
  std::vector<NameCandidate> candidates;
  for (const GpuRow& r : rows) candidates.push_back({r.name, {r.name, r.vendor + " " + r.name}});
  throw Error("--gpu: unknown model '" + query + "' (the names are in " + path +
              "); closest: " + JoinList(CloseMatches(query, candidates, kSuggestions)));
}

std::vector<std::string> CpuNames(const std::string& path) {
  std::istringstream in(ReadFile(path));
  std::string line;
  std::vector<std::string> names;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::size_t comma = line.find(',');
    if (comma != std::string::npos && comma > 0) names.push_back(line.substr(0, comma));
  }
  return names;
}

void Check(bool ok, const std::string& message) {
  if (!ok) throw Error(message);
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// The recorded run's joules, duration and the factor the request scales them by.
EstimateLine ScaledRun(const EstimateRequest& req, double* hours, std::string* basis) {
  const RunRecord& run = *req.like_run;
  Check(run.energy.duration_s > 0 && run.energy.energy_j > 0,
        "--like " + run.id + ": the run has no energy or duration to scale");
  Check(!(req.like_epochs && req.like_samples), "--epochs and --samples: give one, not both");
  double factor = 1;
  std::string scaled = "as recorded";
  if (req.like_epochs) {
    Check(*req.like_epochs > 0, "--epochs must be > 0");
    double done = run.epochs.size();
    if (run.metrics.contains("epochs") && run.metrics["epochs"].is_number()) {
      done = run.metrics["epochs"].get<double>();
    }
    Check(done > 0, "--epochs: run " + run.id + " recorded no epochs; use --samples or none");
    factor = *req.like_epochs / done;
    scaled = "x " + Fixed(factor, 4) + " (" + Fixed(*req.like_epochs, 0) + " epochs for its " +
             Fixed(done, 0) + ")";
  } else if (req.like_samples) {
    Check(*req.like_samples > 0, "--samples must be > 0");
    bool known = run.metrics.contains("samples_seen") && run.metrics["samples_seen"].is_number();
    Check(known, "--samples: run " + run.id + " recorded no samples_seen; use --epochs or none");
    double done = run.metrics["samples_seen"].get<double>();
    Check(done > 0, "--samples: run " + run.id + " saw no samples");
    factor = *req.like_samples / done;
    scaled = "x " + Fixed(factor, 4) + " (" + Fixed(*req.like_samples, 0) + " samples for its " +
             Fixed(done, 0) + ")";
  }
  *hours = run.energy.duration_s / 3600.0 * factor;
  EstimateLine line;
  line.component = "recorded run";
  line.model = run.id;
  line.power_w = run.energy.energy_j / run.energy.duration_s;
  line.watts_each = line.power_w;
  line.energy_kwh = run.energy.energy_j * factor / 3.6e6;
  line.source = "run " + run.id + " (" + run.kind + ", " + run.energy.method + ")";
  *basis = "the recorded run " + run.id + "'s energy and duration " + scaled +
           "; its own figures were " + run.energy.method;
  return line;
}

}  // namespace

Estimate EstimateJob(const EstimateRequest& req, const std::string& data_dir) {
  bool hardware = !req.gpu_model.empty() || !req.cpu_model.empty() || req.ram_gb > 0;
  Check(hardware || req.like_run, "give the hardware (--gpu, --cpu, --ram-gb) or --like RUN_ID");
  Check(!(hardware && req.like_run),
        "--like scales a recorded run's own energy: give it without --gpu, --cpu or --ram-gb");
  Check(req.utilisation > 0 && req.utilisation <= 1, "--utilisation must be in (0, 1]");
  Check(req.ram_gb >= 0 && std::isfinite(req.ram_gb), "--ram-gb must be >= 0");
  Estimate est;
  if (req.like_run) {
    Check(!req.hours,
          "--hours: a run given with --like has its own duration (scale it with "
          "--epochs or --samples)");
    est.lines.push_back(ScaledRun(req, &est.hours, &est.basis));
  } else {
    Check(req.hours.has_value(), "--hours is required with --gpu, --cpu or --ram-gb");
    Check(*req.hours > 0 && std::isfinite(*req.hours), "--hours must be > 0");
    est.hours = *req.hours;
    if (!req.gpu_model.empty()) {
      Check(req.gpu_count >= 1, "--count must be >= 1");
      std::string path = req.gpu_table.empty() ? data_dir + "/hardware/gpus.csv" : req.gpu_table;
      std::vector<GpuRow> rows = ReadGpuTable(path);
      const GpuRow& g = FindGpu(rows, req.gpu_model, path);
      est.lines.push_back(
          {g.kind, g.name, req.gpu_count, g.tdp_w, req.utilisation, 0, 0, "gpus.csv: " + g.source});
    }
    if (!req.cpu_model.empty()) {
      Check(req.cpu_count >= 1, "--cpu-count must be >= 1");
      std::string path = req.cpu_table.empty() ? data_dir + "/carbon/cpu_power.csv" : req.cpu_table;
      std::string row;
      std::optional<double> tdp = CodeCarbonTableTdp(path, req.cpu_model, &row);
      if (!tdp) {
        std::vector<NameCandidate> candidates;
        for (const std::string& n : CpuNames(path)) candidates.push_back({n, {n}});
        throw Error(
            "--cpu: unknown model '" + req.cpu_model + "' (the names are in " + path +
            "); closest: " + JoinList(CloseMatches(req.cpu_model, candidates, kSuggestions)));
      }
      est.lines.push_back(
          {"cpu", row, req.cpu_count, *tdp, req.utilisation, 0, 0, "cpu_power.csv: " + row});
    }
    if (req.ram_gb > 0) {
      est.lines.push_back({"ram", Fixed(req.ram_gb, 1) + " GB", 1, kRamWattsPerGb * req.ram_gb, 1,
                           0, 0, "3 W per 8 GB (joule's RAM model)"});
    }
    for (EstimateLine& l : est.lines) {
      l.power_w = l.watts_each * l.count * l.utilisation;
      l.energy_kwh = l.power_w * est.hours / 1000.0;
    }
    est.basis = "board power x count x utilisation x hours, from the tables; not measured";
  }
  for (const EstimateLine& l : est.lines) est.energy_kwh += l.energy_kwh;
  CarbonModel carbon = CarbonModel::Resolve(req.carbon, data_dir);
  est.pue = carbon.pue();
  est.facility_kwh = est.energy_kwh * est.pue;
  // The intensity now: a series is a forecast's job (joule plan); here its mean.
  est.intensity_g_per_kwh =
      carbon.series().empty()
          ? carbon.IntensityAt(0)
          : carbon.MeanIntensity(carbon.series().front().unix_s, carbon.series().back().unix_s);
  est.intensity_source = carbon.source();
  est.co2_g = est.facility_kwh * est.intensity_g_per_kwh;
  return est;
}

std::string EstimateText(const Estimate& e) {
  std::string out;
  out += "joule estimate (" + e.method + ": nothing was measured)\n";
  for (const EstimateLine& l : e.lines) {
    out += "  " + l.component + "  " + l.model;
    if (l.component != "recorded run") {
      out += "  " + std::to_string(l.count) + " x " + Fixed(l.watts_each, 1) + " W x " +
             Fixed(l.utilisation * 100, 0) + "% = " + Fixed(l.power_w, 1) + " W";
    } else {
      out += "  mean " + Fixed(l.power_w, 1) + " W";
    }
    out += "  -> " + Fixed(l.energy_kwh, 3) + " kWh  [" + l.source + "]\n";
  }
  out += "  hours          " + Fixed(e.hours, 3) + "\n";
  out += "  energy         " + Fixed(e.energy_kwh, 3) + " kWh at the hardware, x PUE " +
         Fixed(e.pue, 2) + " = " + Fixed(e.facility_kwh, 3) + " kWh  " + e.method + "\n";
  out += "  intensity      " + Fixed(e.intensity_g_per_kwh, 1) + " gCO2eq/kWh  (" +
         e.intensity_source + ")\n";
  out += "  carbon         " + Fixed(e.co2_g / 1000.0, 3) + " kgCO2eq  " + e.method + "\n";
  out += "  basis: " + e.basis + "\n";
  return out;
}

nlohmann::json EstimateJson(const Estimate& e) {
  nlohmann::json lines = nlohmann::json::array();
  for (const EstimateLine& l : e.lines) {
    lines.push_back({{"component", l.component},
                     {"model", l.model},
                     {"count", l.count},
                     {"watts_each", l.watts_each},
                     {"utilisation", l.utilisation},
                     {"power_w", l.power_w},
                     {"energy_kwh", l.energy_kwh},
                     {"source", l.source}});
  }
  return {{"method", e.method},
          {"basis", e.basis},
          {"lines", lines},
          {"hours", e.hours},
          {"energy_kwh", e.energy_kwh},
          {"pue", e.pue},
          {"facility_kwh", e.facility_kwh},
          {"intensity_g_per_kwh", e.intensity_g_per_kwh},
          {"intensity_source", e.intensity_source},
          {"co2_g", e.co2_g}};
}

}  // namespace joule
