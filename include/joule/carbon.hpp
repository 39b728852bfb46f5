// joule/carbon.hpp: grams of CO2eq for a measured amount of energy.
//
// Part of the meter layer (sources in src/meter/carbon*.cpp, library joule_meter).
// A CarbonModel turns joules into grams of CO2eq from one carbon-intensity source
// (a country, a cloud region, a US state or Nordic bidding zone, a fixed figure,
// or an hourly-or-finer time series), applies the data centre's PUE, and adds
// embodied (manufacturing) carbon amortised over the hardware's lifetime.
//
// Units: energy in joules, intensity in gCO2eq/kWh, times in unix seconds (UTC,
// wall clock), durations in seconds, results in grams CO2eq.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace joule {

// What the user asked for; each field maps to one `joule measure` flag. Empty
// strings and empty optionals mean "not given".
//
// At most one intensity source may be given among: series_path, intensity_g_per_kwh,
// (cloud_provider + cloud_region), grid_region. country_iso3 may be given with any
// of them: alone it sets the intensity; with another source it only fills the
// country fields of the report, and must agree with the country the other
// source implies (a cloud region or grid region lies in exactly one country).
struct CarbonOptions {
  std::string country_iso3;                  // --country FRA (ISO 3166 alpha-3, any case)
  std::string cloud_provider, cloud_region;  // --cloud gcp --region europe-west1 (both or neither)
  std::string grid_region;  // --grid-region: US state name or 2-letter code, or Nordic zone
                            // (SE1-SE4, NO1-NO5, FI); any case, e.g. "california", "SE3"
  std::optional<double> intensity_g_per_kwh;  // --intensity: fixed, >= 0
  std::string series_path;                    // --intensity-series FILE
  std::string series_kind = "lca";            // --intensity-kind direct|lca (series only)
  double pue = 1.0;                           // --pue: >= 1
  // --wue: litres of water per kWh (PUE applied), >= 0; the CodeCarbon CSV's
  // water_consumed = WUE x energy. 0: no water figure (CodeCarbon's default).
  double wue = 0.0;
  std::optional<double> embodied_kg, lifetime_years;  // --embodied-kg --lifetime-years: both
                                                      // or neither, both > 0
};

// Immutable once resolved; all methods are const and safe to call from several
// threads at once. Copyable and movable.
class CarbonModel {
 public:
  // Builds the model from the options, reading the tables under
  // `data_dir`/carbon/ (global_energy_mix.json, impact.csv, usa_emissions.json,
  // nordic_emissions.json) and the series file when one is given. Only the files
  // the options need are read.
  //
  // Throws joule::Error, naming the flag or file and how to fix it, when: two
  // intensity sources are given; the country code, cloud provider, cloud region
  // or grid region is not in the tables (the message lists close matches and
  // says which file holds the valid ones); --country disagrees with the cloud or
  // grid region; a number is out of range (intensity < 0, pue < 1, embodied_kg or
  // lifetime_years <= 0 or only one of them given, series_kind not direct|lca);
  // a table or the series file cannot be read or is malformed (file, line
  // number, what was expected).
  //
  // Series files: a plain CSV `timestamp,g_per_kwh` (optional header line whose
  // first field is "timestamp"; timestamps ISO 8601, UTC unless an offset is
  // given, e.g. 2022-01-01T00:00:00Z or "2022-01-01 00:00:00", or unix seconds),
  // or an Electricity Maps export as downloaded (`Datetime (UTC)` and
  // `Carbon Intensity gCO₂eq/kWh (direct)` / `(LCA)` columns; series_kind picks
  // the column; the plain format has one column and ignores series_kind).
  // Timestamps must be strictly increasing. Each value is in force from its
  // timestamp until the next one; the last one for one more step of the same
  // length as the step before it.
  //
  // Outside the series' range the value at the nearest end is used (no error:
  // the job has already run when its carbon is computed, and a year-old series
  // is still the best figure the user has). source() states the covered range
  // and this rule; CoverageWarning() says when a given interval falls outside.
  static CarbonModel Resolve(const CarbonOptions& options, const std::string& data_dir);

  // Grams CO2eq for `energy_j` joules drawn at the IT equipment over the wall
  // clock interval [t0_unix_s, t1_unix_s]: kWh x PUE x intensity. With a
  // series, the energy is split over the interval pro rata by time (constant
  // power assumed within the interval) and each part is multiplied by the
  // intensity in force at that time; an interval of zero length uses
  // IntensityAt(t0). Without a series the times are ignored. If t1 < t0 (wall
  // clock stepped back) the interval is taken as [t1, t0]. energy_j >= 0.
  double OperationalGrams(double energy_j, double t0_unix_s, double t1_unix_s) const;

  // Embodied grams for a run of `duration_s` seconds:
  // embodied_kg * 1000 * duration_s / (lifetime_years * 365.25 * 86400).
  // 0 when embodied carbon was not configured.
  double EmbodiedGrams(double duration_s) const;

  // Intensity in gCO2eq/kWh in force at `unix_s` (without PUE). Constant unless
  // a series was given; outside a series' range, the nearest end's value.
  double IntensityAt(double unix_s) const;

  // Mean intensity in gCO2eq/kWh over [t0, t1] (time-weighted, without PUE);
  // equals IntensityAt(t0) for a constant source or a zero-length interval.
  double MeanIntensity(double t0_unix_s, double t1_unix_s) const;

  // One line saying where the intensity came from, for reports, e.g.
  // "country FRA (global_energy_mix.json, 2023, 56.039 g/kWh)",
  // "gcp europe-west1 (impact.csv, 122 g/kWh)", "fixed 100 g/kWh (--intensity)",
  // "world average 475 g/kWh: no location given (use --country, ...)", or
  // "series FILE (Electricity Maps, lca, 8760 points,
  // 2022-01-01T00:00:00Z..2023-01-01T00:00:00Z; the nearest end's value is
  // used outside that range)".
  const std::string& source() const;

  // Empty when [t0, t1] lies inside the series (or there is no series);
  // otherwise one sentence saying the run lies partly or wholly outside the
  // series' range and that the nearest end's value was used there.
  std::string CoverageWarning(double t0_unix_s, double t1_unix_s) const;

  bool is_default() const;  // true when no intensity source and no country was given
  double pue() const;
  double wue() const;  // L/kWh

  // Location fields for the CodeCarbon columns; empty when unknown. country_name
  // as the tables spell it ("France"), country_iso the ISO3 code ("FRA"),
  // region the grid region's table key ("california", "SE3") or, for a cloud
  // region, the state or city impact.csv gives ("Iowa", "St. Ghislain"), as
  // CodeCarbon fills it; cloud_provider and cloud_region as impact.csv spells
  // them ("gcp", "europe-west1"). With --country and a cloud or grid region,
  // the country fields come from --country (they must agree).
  const std::string& country_name() const;
  const std::string& country_iso() const;
  const std::string& region() const;
  const std::string& cloud_provider() const;
  const std::string& cloud_region() const;

  // The series' points (empty without a series); exposed for reports and tests.
  struct SeriesPoint {
    double unix_s;
    double g_per_kwh;
  };
  const std::vector<SeriesPoint>& series() const;

 private:
  CarbonModel() = default;

  std::string source_;
  bool is_default_ = false;
  double constant_g_per_kwh_ = 0;
  std::vector<SeriesPoint> series_;
  double series_end_s_ = 0;  // end of the last point's step
  double pue_ = 1.0;
  double wue_ = 0.0;
  double embodied_kg_ = 0, lifetime_years_ = 0;
  std::string country_name_, country_iso_, region_, cloud_provider_, cloud_region_;
};

}  // namespace joule
