// The meter of one training run: a joule::Meter plus a cheap per-step
// estimate between its samples.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "joule/carbon.hpp"
#include "joule/meter.hpp"
#include "joule/train.hpp"

namespace joule::train_internal {

struct EnergyFigures {
  double energy_j = 0;
  double co2_g = 0;  // operational + embodied
};

// Not thread safe except where noted: one training thread calls it, while the
// meter's sampling thread feeds the estimate through OnSample.
class TrainMeter {
 public:
  // Builds the sources (options.sources or DiscoverSensors), the carbon model
  // (from DataDir()) and the Meter. Throws what those throw.
  explicit TrainMeter(const MeteringOptions& options);
  ~TrainMeter();

  void Start();
  // Since Start. With a background thread: the last sample's figures plus the
  // power of the latest window of at least half an interval times the time
  // since that sample (one clock read, one uncontended lock, no /proc read).
  // Without: a fresh sample.
  EnergyFigures Estimate();
  EnergyFigures Sample();  // a fresh sample
  EnergyFigures Stop();

  // The distinct method labels of the sources with counted channels, "+"-joined.
  const std::string& method() const { return method_; }
  bool estimated() const { return estimated_; }
  const CarbonModel& carbon() const { return *carbon_; }
  double start_unix_s() const { return start_unix_s_; }
  double end_unix_s() const { return end_unix_s_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  void OnSample(const MeterReading& reading);  // on the sampling thread

  const Clock* clock_;
  bool background_;
  double interval_s_;
  std::optional<CarbonModel> carbon_;
  std::unique_ptr<Meter> meter_;
  std::string method_;
  bool estimated_ = false;
  std::vector<std::string> warnings_;
  double start_unix_s_ = 0, end_unix_s_ = 0;

  std::mutex mutex_;  // guards the fields below
  double last_mono_ = 0, last_energy_j_ = 0, last_co2_g_ = 0;
  double anchor_mono_ = 0, anchor_energy_j_ = 0;
  double power_w_ = 0, g_per_j_ = 0;
};

}  // namespace joule::train_internal
