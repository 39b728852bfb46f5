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
    return Ask(
        zone, [&](IntensitySource& s) { return s.History(zone, t0, t1); },
        [&](IntensitySource& t) { return t.History(zone, t0, t1); });
  }

  IntensitySeries Latest(const std::string& zone) override {
    return Ask(
        zone, [&](IntensitySource& s) { return s.Latest(zone); },
        [&](IntensitySource& t) { return t.Latest(zone); });
  }

  // A live std::nullopt (no forecast) is an answer and stays one; a failure
  // falls back to the table's values over the window.
  std::optional<IntensitySeries> Forecast(const std::string& zone, double from,
                                          double horizon_s) override {
    if (live_error_.empty()) {
      try {
        return live_->Forecast(zone, from, horizon_s);
      } catch (const Error& e) {
        live_error_ = e.what();
      }
    }
    return FromTable(zone,
                     [&](IntensitySource& t) { return t.History(zone, from, from + horizon_s); });
  }

 private:
  // The live source until it fails once; then, for the rest of this
  // source's life, the table: an offline machine pays one round of time-outs
  // and retries, not one per question.
  template <typename Live, typename Table>
  IntensitySeries Ask(const std::string& zone, Live live, Table table) {
    if (live_error_.empty()) {
      try {
        return live(*live_);
      } catch (const Error& e) {
        live_error_ = e.what();
      }
    }
    return FromTable(zone, table);
  }

  // The table's answer labelled as a fallback; without a table, the live error.
  template <typename Table>
  IntensitySeries FromTable(const std::string& zone, Table ask) {
    if (!HasBundledTable(zone, data_dir_)) throw Error(live_error_);
    auto bundled = MakeBundledSource(table_signal_, data_dir_, clock_);
    IntensitySeries s = ask(*bundled);
    s.provenance = "fallback:" + s.provenance + " (" + live_error_ + ")";
    return s;
  }

  std::unique_ptr<IntensitySource> live_;
  Signal table_signal_;
  std::string data_dir_;
  std::function<double()> clock_;
  std::string live_error_;  // the live source's first failure; "" while it answers
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
