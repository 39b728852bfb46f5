// Recording one run as it goes: the RunRecorder a command holds, and the
// pieces it is made from (a run id, a sample row, the host record).
#include <cstdio>
#include <map>
#include <random>

#include "joule/run_record.hpp"
#include "joule/util.hpp"

namespace joule {

std::string NewRunId() {
  std::random_device device;
  std::uint64_t bits = (static_cast<std::uint64_t>(device()) << 32) | device();
  char buf[16];
  std::snprintf(buf, sizeof buf, "%012llx",
                static_cast<unsigned long long>(bits & 0xFFFFFFFFFFFFull));
  return buf;
}

SampleRow SampleRowFromReading(const MeterReading& reading) {
  SampleRow row;
  row.t_unix_s = reading.end_unix_s;
  row.energy_j = reading.energy_j;
  row.machine_energy_j = reading.machine_energy_j;
  row.cpu_share = reading.last_cpu_share;
  row.co2_g = reading.operational_g + reading.embodied_g;
  for (const ChannelEnergy& ch : reading.channels) {
    if (!ch.counted) continue;
    row.power_w += ch.attributed ? ch.last_power_w * reading.last_cpu_share : ch.last_power_w;
  }
  return row;
}

HostRecord ReadHostRecord(const std::vector<std::unique_ptr<PowerSource>>& sources,
                          const std::string& proc_root) {
  MachineFacts facts = ReadMachineFacts(proc_root);
  HostRecord host;
  host.hostname = facts.hostname;
  host.os = facts.os;
  host.cpu_model = facts.cpu_model;
  host.cpu_count = facts.cpu_count;
  host.ram_total_bytes = facts.ram_total_bytes;
  host.ram_used_bytes = facts.ram_used_bytes;
  // A GPU channel's detail starts with the device name ("NVIDIA A100, ...").
  std::map<std::string, int> gpus;
  for (const auto& source : sources) {
    for (const Channel& ch : source->channels()) {
      if (ch.component != Component::kGpu) continue;
      ++host.gpu_count;
      ++gpus[ch.detail.substr(0, ch.detail.find(','))];
    }
  }
  for (const auto& [name, count] : gpus) {
    host.gpu_model += (host.gpu_model.empty() ? "" : ", ") + std::to_string(count) + " x " + name;
  }
  return host;
}

EnergyReport EnergyLabels(const std::vector<std::unique_ptr<PowerSource>>& sources,
                          Attribution attribution, const CarbonModel* carbon) {
  EnergyReport labels;
  labels.attribution = attribution;
  for (const auto& source : sources) {
    bool counted = false;
    for (const Channel& ch : source->channels()) counted = counted || ch.counted;
    if (!counted) continue;
    const std::string method(source->method());
    bool seen = false;
    std::size_t pos = 0;
    while (pos < labels.method.size()) {
      std::size_t end = labels.method.find('+', pos);
      if (end == std::string::npos) end = labels.method.size();
      seen = seen || labels.method.compare(pos, end - pos, method) == 0;
      pos = end + 1;
    }
    if (!seen) labels.method += (labels.method.empty() ? "" : "+") + method;
    labels.estimated = labels.estimated || !IsMeasuredMethod(method);
  }
  if (carbon != nullptr) {
    labels.intensity_source = carbon->source();
    labels.pue = carbon->pue();
    labels.country_name = carbon->country_name();
    labels.country_iso = carbon->country_iso();
    labels.region = carbon->region();
    labels.cloud_provider = carbon->cloud_provider();
    labels.cloud_region = carbon->cloud_region();
  }
  return labels;
}

RunRecorder::RunRecorder(const LedgerTarget& target, const RunRecord& header, WarnFn warn)
    : warn_(std::move(warn)), header_energy_(header.energy) {
  if (!warn_) {
    warn_ = [](const std::string& line) {
      std::fprintf(stderr, "joule: warning: %s\n", line.c_str());
    };
  }
  if (target.path.empty()) {
    id_ = NewRunId();
    return;
  }
  try {
    ledger_ = Ledger::Open(target.path);
    id_ = ledger_->BeginRun(header);
  } catch (const Error& e) {
    if (target.required) throw;
    ledger_.reset();
    id_ = NewRunId();
    warn_(std::string(e.what()) + "; this run is not recorded");
    return;
  }
  writer_ = std::thread([this] { WriteSamples(); });
}

RunRecorder::~RunRecorder() {
  StopWriter();
  std::lock_guard<std::mutex> lock(mutex_);
  if (ledger_ == nullptr || finished_) return;
  // Unwound by an exception: keep what the samples said, and say it failed.
  EnergyReport energy = header_energy_;
  if (last_sample_) {
    energy.end_unix_s = last_sample_->t_unix_s;
    energy.energy_j = last_sample_->energy_j;
    energy.machine_energy_j = last_sample_->machine_energy_j;
    energy.operational_g = last_sample_->co2_g;
  }
  try {
    ledger_->FinishRun(id_, RunStatus::kFailed, "ended by an error before its end was recorded",
                       energy, nlohmann::json::object());
  } catch (const Error&) {
    // Nothing more to do: the run reads back as incomplete once we exit.
  }
}

bool RunRecorder::recording() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ledger_ != nullptr;
}

void RunRecorder::Fail(const std::string& what) {
  warn_(what + "; recording of run " + id_ + " stops here, the job goes on");
  ledger_.reset();
}

std::function<void(const MeterReading&)> RunRecorder::SampleCallback() {
  return [this](const MeterReading& reading) { AppendSample(SampleRowFromReading(reading)); };
}

void RunRecorder::AppendSample(const SampleRow& sample) {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  last_sample_ = sample;
  if (!writer_.joinable() || stopping_) return;
  queue_.push_back(sample);
  queue_ready_.notify_one();
}

void RunRecorder::WriteSamples() {
  std::vector<SampleRow> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mutex_);
      queue_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to write
      batch.swap(queue_);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    for (const SampleRow& sample : batch) {
      if (ledger_ == nullptr || finished_) break;
      try {
        ledger_->AppendSample(id_, sample);
      } catch (const Error& e) {
        Fail(e.what());
      }
    }
    batch.clear();
  }
}

void RunRecorder::StopWriter() {
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    stopping_ = true;
  }
  queue_ready_.notify_one();
  if (writer_.joinable()) writer_.join();
}

void RunRecorder::AppendEpoch(const EpochRow& epoch) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (ledger_ == nullptr || finished_) return;
  try {
    ledger_->AppendEpoch(id_, epoch);
  } catch (const Error& e) {
    Fail(e.what());
  }
}

void RunRecorder::Finish(RunStatus status, const std::string& message, const EnergyReport& energy,
                         const nlohmann::json& metrics) {
  StopWriter();  // the samples first, so the run's end follows its last sample
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (ledger_ == nullptr) return;
  try {
    ledger_->FinishRun(id_, status, message, energy, metrics);
  } catch (const Error& e) {
    Fail(e.what());
  }
}

}  // namespace joule
