// A live provider with the bundled tables behind it, and the choice of source
// by name.
#include "joule/grid_providers.hpp"
#include "joule/util.hpp"

namespace joule::grid {

namespace {

class FallbackSource : public IntensitySource {
 public:
  FallbackSource(std::unique_ptr<IntensitySource> live, Signal table_signal, std::string data_dir,
                 std::function<double()> clock)
      : live_(std::move(live)),
        table_signal_(table_signal == Signal::kDirect ? Signal::kDirect : Signal::kLca),
        data_dir_(std::move(data_dir)),
        clock_(std::move(clock)) {}

  std::string name() const override { return "fallback(" + live_->name() + ")"; }

  IntensitySeries History(const std::string& zone, double t0, double t1) override {
    try {
      return live_->History(zone, t0, t1);
    } catch (const Error& e) {
      return FromTable(zone, e, [&](IntensitySource& t) { return t.History(zone, t0, t1); });
    }
  }

  IntensitySeries Latest(const std::string& zone) override {
    try {
      return live_->Latest(zone);
    } catch (const Error& e) {
      return FromTable(zone, e, [&](IntensitySource& t) { return t.Latest(zone); });
    }
  }

  // A live std::nullopt (no forecast) is an answer and stays one; a failure
  // falls back to the table's values over the window.
  std::optional<IntensitySeries> Forecast(const std::string& zone, double from,
                                          double horizon_s) override {
    try {
      return live_->Forecast(zone, from, horizon_s);
    } catch (const Error& e) {
      return FromTable(zone, e,
                       [&](IntensitySource& t) { return t.History(zone, from, from + horizon_s); });
    }
  }

 private:
  // Called inside the catch block, so `throw;` rethrows the live error.
  template <typename Ask>
  IntensitySeries FromTable(const std::string& zone, const Error& live_error, Ask ask) {
    if (!HasBundledTable(zone, data_dir_)) throw;
    auto bundled = MakeBundledSource(table_signal_, data_dir_, clock_);
    IntensitySeries s = ask(*bundled);
    s.provenance = "fallback:" + s.provenance + " (" + live_error.what() + ")";
    return s;
  }

  std::unique_ptr<IntensitySource> live_;
  Signal table_signal_;
  std::string data_dir_;
  std::function<double()> clock_;
};

}  // namespace

std::unique_ptr<IntensitySource> MakeFallbackSource(std::unique_ptr<IntensitySource> live,
                                                    Signal table_signal, std::string data_dir,
                                                    std::function<double()> clock) {
  return std::make_unique<FallbackSource>(std::move(live), table_signal, std::move(data_dir),
                                          std::move(clock));
}

std::unique_ptr<IntensitySource> OpenIntensitySource(const ProviderChoice& choice) {
  const std::string& p = choice.provider;
  if (p == "bundled") return MakeBundledSource(choice.signal, choice.data_dir, choice.http.clock);
  if (p == "series") {
    if (choice.series_path.empty()) throw Error("intensity source series: no file given");
    return MakeSeriesFileSource(choice.series_path, choice.series_zone, choice.signal);
  }
  std::unique_ptr<IntensitySource> live;
  Signal table_signal = Signal::kLca;
  if (p == "electricitymaps") {
    live = MakeElectricityMapsSource(choice.http, choice.signal);
    table_signal = choice.signal;
  } else if (p == "watttime") {
    live = MakeWattTimeSource(choice.http);
  } else if (p == "carbonintensity") {
    live = MakeCarbonIntensityUkSource(choice.http);
    table_signal = Signal::kDirect;  // what the UK API counts
  } else {
    throw Error("intensity source '" + p +
                "': expected electricitymaps, watttime, carbonintensity, bundled or series");
  }
  if (!choice.fallback) return live;
  return MakeFallbackSource(std::move(live), table_signal, choice.data_dir, choice.http.clock);
}

}  // namespace joule::grid
