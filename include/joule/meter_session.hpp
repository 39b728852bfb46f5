// joule/meter_session.hpp: one metered piece of work (a training run, a
// compression job, an inference benchmark, a measured command): a
// joule::Meter over the sources DiscoverSensors finds, the carbon model the
// options name, and a cheap running estimate between samples, ending in an
// EnergyReport.
//
// Meter layer (src/meter/meter_session.cpp, library joule_meter). Train's Fit,
// compress's benchmarks and the run layer all meter through this one class.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "joule/carbon.hpp"
#include "joule/energy_report.hpp"
#include "joule/meter.hpp"

namespace joule {

// How a piece of work is metered. The defaults measure this process on this
// machine.
struct MeteringOptions {
  bool enabled = true;    // false: no meter; energy figures stay 0 and method ""
  SensorOptions sensors;  // where DiscoverSensors looks; --cpu-tdp, --power overrides
  // The carbon intensity. Default (nothing set): the world average, and the
  // report's intensity_source says so and how to give a location.
  CarbonOptions carbon;
  // `carbon` already resolved (CarbonModel::Resolve), shared by the sessions
  // of one command so the tables are read once; null: the session resolves
  // `carbon` itself.
  std::shared_ptr<const CarbonModel> resolved_carbon;
  double interval_s = 0.5;  // background sampling interval, [0.01, 3600]
  Attribution attribution = Attribution::kProcessTree;
  ProcessShare share = ProcessShare::kMarginal;  // how a process tree's CPU energy is taken

  // For tests and embedders. `sources`, when set, replaces DiscoverSensors
  // (called once per session). `clock` (null: the system clock) must outlive
  // the session. background = false: no sampling thread; then every figure,
  // per step too, is a fresh sample (exact, but costs a /proc read each:
  // meant for fake sources).
  std::function<std::vector<std::unique_ptr<PowerSource>>()> sources;
  const Clock* clock = nullptr;
  bool background = true;

  // Called after every sample with the meter's reading (totals since the
  // session's Start), on whichever thread took it, with the meter's lock
  // held: it must be quick and must not call back into the session. A run's
  // recorder passes RunRecorder::SampleCallback(), which only queues. Null:
  // nothing is called.
  std::function<void(const MeterReading&)> on_sample;
};

// Joules and grams CO2eq (operational + embodied) since a session started.
struct SessionFigures {
  double energy_j = 0;
  double co2_g = 0;
};

// Not thread safe except where noted: one thread drives it, while the
// meter's sampling thread feeds the estimate.
class MeterSession {
 public:
  // Builds the sources (options.sources or DiscoverSensors), the carbon model
  // (from DataDir()) and the Meter. Throws what those throw (an unknown
  // country or region: Error).
  explicit MeterSession(const MeteringOptions& options);
  ~MeterSession();
  MeterSession(const MeterSession&) = delete;
  MeterSession& operator=(const MeterSession&) = delete;

  void Start();
  // Since Start. With a background thread: the last sample's figures plus the
  // power of the latest window of at least half an interval times the time
  // since that sample (one clock read, one uncontended lock, no /proc read).
  // Without: a fresh sample.
  SessionFigures Estimate();
  SessionFigures Sample();  // a fresh sample
  SessionFigures Stop();
  // The whole session as a report, after Stop: joules by component, method,
  // intensity and its source, PUE, grams.
  EnergyReport Report() const;

  // The distinct method labels of the sources with counted channels, "+"-joined.
  const std::string& method() const { return method_; }
  bool estimated() const { return estimated_; }
  const CarbonModel& carbon() const { return *carbon_; }
  double start_unix_s() const { return start_unix_s_; }
  double end_unix_s() const { return end_unix_s_; }
  // Sensor discovery's warnings, one line each.
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
  MeterReading final_;  // Stop's reading
  std::function<void(const MeterReading&)> on_sample_;

  std::mutex mutex_;  // guards the fields below
  double last_mono_ = 0, last_energy_j_ = 0, last_co2_g_ = 0;
  double anchor_mono_ = 0, anchor_energy_j_ = 0;
  double power_w_ = 0, g_per_j_ = 0;
};

}  // namespace joule
