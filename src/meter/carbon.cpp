#include "joule/carbon.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "joule/util.hpp"
#include "meter/carbon_series.hpp"
#include "meter/carbon_tables.hpp"
#include "meter/carbon_text.hpp"

namespace joule {
namespace {

// CodeCarbon's fallback when it knows no location: the world average
// "world_average": 475 gCO2eq/kWh in codecarbon/data/private_infra/
// carbon_intensity_per_source.json, sourced there to the IEA "Global Energy &
// CO2 Status Report 2019"
// (https://www.iea.org/reports/global-energy-co2-status-report-2019/emissions). Using the same
// figure keeps joule's default comparable with CodeCarbon's.
constexpr double kWorldAverageGPerKwh = 475.0;

constexpr double kJoulesPerKwh = 3.6e6;
constexpr double kSecondsPerYear = 365.25 * 86400.0;

std::string FormatNumber(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", value);
  return buffer;
}

std::string YearNote(int year) { return year > 0 ? ", " + std::to_string(year) : ""; }

void ValidateNumbers(const CarbonOptions& options) {
  if (options.intensity_g_per_kwh &&
      !(std::isfinite(*options.intensity_g_per_kwh) && *options.intensity_g_per_kwh >= 0)) {
    throw Error("--intensity " + FormatNumber(*options.intensity_g_per_kwh) +
                ": expected a carbon intensity >= 0 in gCO2eq/kWh (world average is about 475)");
  }
  if (!(std::isfinite(options.pue) && options.pue >= 1.0)) {
    throw Error("--pue " + FormatNumber(options.pue) +
                ": expected a power usage effectiveness >= 1 (1.0 for a machine outside a data "
                "centre; 1.1-1.6 is typical for data centres)");
  }
  if (!(std::isfinite(options.wue) && options.wue >= 0 && options.wue < 1000)) {
    throw Error("--wue " + FormatNumber(options.wue) +
                ": expected the data centre's water usage effectiveness in litres per kWh, >= 0 "
                "(about 1.8 is an industry average; 0 for none)");
  }
  if (options.embodied_kg.has_value() != options.lifetime_years.has_value()) {
    throw Error(
        "--embodied-kg and --lifetime-years must be given together: the manufacturing "
        "emissions are spread over the device's lifetime");
  }
  if (options.embodied_kg && !(std::isfinite(*options.embodied_kg) && *options.embodied_kg > 0)) {
    throw Error("--embodied-kg " + FormatNumber(*options.embodied_kg) +
                ": expected the device's manufacturing emissions in kg CO2eq, > 0");
  }
  if (options.lifetime_years &&
      !(std::isfinite(*options.lifetime_years) && *options.lifetime_years > 0)) {
    throw Error("--lifetime-years " + FormatNumber(*options.lifetime_years) +
                ": expected the device's service life in years, > 0 (3-5 is typical)");
  }
  std::string kind = carbon_text::ToLower(options.series_kind);
  if (kind != "direct" && kind != "lca") {
    throw Error("--intensity-kind " + options.series_kind + ": expected direct or lca");
  }
  if (options.cloud_provider.empty() != options.cloud_region.empty()) {
    throw Error(options.cloud_provider.empty()
                    ? "--region " + options.cloud_region + " needs --cloud PROVIDER (e.g. gcp)"
                    : "--cloud " + options.cloud_provider +
                          " needs --region REGION (e.g. europe-west1)");
  }
  int sources = (options.series_path.empty() ? 0 : 1) + (options.intensity_g_per_kwh ? 1 : 0) +
                (options.cloud_provider.empty() ? 0 : 1) + (options.grid_region.empty() ? 0 : 1);
  if (sources > 1) {
    throw Error(
        "more than one carbon-intensity source given (--intensity-series, --intensity, "
        "--cloud/--region, --grid-region): keep one");
  }
}

// --country alongside a cloud or grid region must name the same country.
void CheckCountryAgrees(const CarbonOptions& options, const std::string& implied_iso3,
                        const std::string& flag) {
  if (options.country_iso3.empty() || implied_iso3.empty()) return;
  std::string given = carbon_text::ToLower(carbon_text::Trim(options.country_iso3));
  if (given != carbon_text::ToLower(implied_iso3)) {
    throw Error("--country " + options.country_iso3 + " disagrees with " + flag + ", which is in " +
                implied_iso3 + "; drop --country or fix it");
  }
}

}  // namespace

CarbonModel CarbonModel::Resolve(const CarbonOptions& options, const std::string& data_dir) {
  ValidateNumbers(options);
  CarbonModel model;
  model.pue_ = options.pue;
  model.wue_ = options.wue;
  if (options.embodied_kg) {
    model.embodied_kg_ = *options.embodied_kg;
    model.lifetime_years_ = *options.lifetime_years;
  }

  std::optional<carbon_tables::CountryFigure> country;
  if (!options.country_iso3.empty()) {
    country = carbon_tables::LookupCountry(data_dir, options.country_iso3);
  }
  auto set_country = [&](const std::string& iso3) {
    if (country) {
      model.country_iso_ = country->iso3;
      model.country_name_ = country->name;
    } else if (!iso3.empty()) {
      model.country_iso_ = iso3;
      // The name is only for the report; a table without it is no error.
      try {
        model.country_name_ = carbon_tables::LookupCountry(data_dir, iso3).name;
      } catch (const Error&) {
      }
    }
  };

  if (!options.series_path.empty()) {
    std::string kind = carbon_text::ToLower(options.series_kind);
    auto series =
        carbon_series::ParseSeries(options.series_path, ReadFile(options.series_path), kind);
    model.series_ = std::move(series.points);
    const auto& points = model.series_;
    // The last value holds for one more step like the one before it, so an
    // hourly series covers its last hour.
    model.series_end_s_ = points.back().unix_s;
    if (points.size() >= 2)
      model.series_end_s_ += points.back().unix_s - points[points.size() - 2].unix_s;
    std::string what = series.format == carbon_series::Format::kPlain ? "timestamp,g_per_kwh"
                                                                      : "Electricity Maps, " + kind;
    model.source_ = "series " + options.series_path + " (" + what + ", " +
                    std::to_string(points.size()) + " points, " +
                    carbon_text::FormatUtc(points.front().unix_s) + ".." +
                    carbon_text::FormatUtc(model.series_end_s_) +
                    "; the nearest end's value is used outside that range)";
    set_country("");
  } else if (options.intensity_g_per_kwh) {
    model.constant_g_per_kwh_ = *options.intensity_g_per_kwh;
    model.source_ = "fixed " + FormatNumber(model.constant_g_per_kwh_) + " g/kWh (--intensity)";
    set_country("");
  } else if (!options.cloud_provider.empty()) {
    auto cloud = carbon_tables::LookupCloud(data_dir, options.cloud_provider, options.cloud_region);
    CheckCountryAgrees(options, cloud.country_iso3, "--region " + cloud.region);
    model.constant_g_per_kwh_ = cloud.g_per_kwh;
    model.cloud_provider_ = cloud.provider;
    model.cloud_region_ = cloud.region;
    model.region_ = cloud.place;
    model.source_ = cloud.provider + " " + cloud.region + " (impact.csv, " +
                    FormatNumber(cloud.g_per_kwh) + " g/kWh)";
    set_country(cloud.country_iso3);
    if (!country) model.country_name_ = cloud.country_name;  // impact.csv's own name
  } else if (!options.grid_region.empty()) {
    auto grid = carbon_tables::LookupGridRegion(data_dir, options.grid_region);
    CheckCountryAgrees(options, grid.country_iso3, "--grid-region " + grid.key);
    model.constant_g_per_kwh_ = grid.g_per_kwh;
    model.region_ = grid.key;
    model.source_ = "grid region " + grid.description + " (" + grid.table + YearNote(grid.year) +
                    ", " + FormatNumber(grid.g_per_kwh) + " g/kWh)";
    set_country(grid.country_iso3);
  } else if (country) {
    model.constant_g_per_kwh_ = country->g_per_kwh;
    model.source_ = "country " + country->iso3 + " (global_energy_mix.json" +
                    YearNote(country->year) + ", " + FormatNumber(country->g_per_kwh) + " g/kWh)";
    set_country("");
  } else {
    model.constant_g_per_kwh_ = kWorldAverageGPerKwh;
    model.is_default_ = true;
    model.source_ =
        "world average 475 g/kWh: no location given (use --country, --cloud/--region, "
        "--grid-region, --intensity or --intensity-series)";
  }
  return model;
}

double CarbonModel::IntensityAt(double unix_s) const {
  if (series_.empty()) return constant_g_per_kwh_;
  // The point in force is the last one at or before unix_s; before the first
  // point, the first one (nearest end).
  auto after = std::upper_bound(series_.begin(), series_.end(), unix_s,
                                [](double t, const SeriesPoint& p) { return t < p.unix_s; });
  if (after == series_.begin()) return series_.front().g_per_kwh;
  return std::prev(after)->g_per_kwh;
}

double CarbonModel::MeanIntensity(double t0_unix_s, double t1_unix_s) const {
  JOULE_ASSERT(std::isfinite(t0_unix_s) && std::isfinite(t1_unix_s));
  if (t1_unix_s < t0_unix_s) std::swap(t0_unix_s, t1_unix_s);
  if (series_.empty() || t1_unix_s == t0_unix_s) return IntensityAt(t0_unix_s);

  // Integrate the step function over [t0, t1]. Step i holds series_[i] on
  // [t_i, t_{i+1}); the first value extends to -inf and the last to +inf.
  auto after = std::upper_bound(series_.begin(), series_.end(), t0_unix_s,
                                [](double t, const SeriesPoint& p) { return t < p.unix_s; });
  std::size_t i =
      after == series_.begin() ? 0 : static_cast<std::size_t>(after - series_.begin()) - 1;
  double integral = 0, cursor = t0_unix_s;
  while (cursor < t1_unix_s) {
    double step_end = i + 1 < series_.size() ? series_[i + 1].unix_s : t1_unix_s;
    double piece_end = std::min(step_end, t1_unix_s);
    integral += series_[i].g_per_kwh * (piece_end - cursor);
    cursor = piece_end;
    ++i;
  }
  return integral / (t1_unix_s - t0_unix_s);
}

double CarbonModel::OperationalGrams(double energy_j, double t0_unix_s, double t1_unix_s) const {
  JOULE_ASSERT(energy_j >= 0);
  return energy_j / kJoulesPerKwh * pue_ * MeanIntensity(t0_unix_s, t1_unix_s);
}

double CarbonModel::EmbodiedGrams(double duration_s) const {
  if (lifetime_years_ <= 0) return 0;
  return embodied_kg_ * 1000.0 * duration_s / (lifetime_years_ * kSecondsPerYear);
}

std::string CarbonModel::CoverageWarning(double t0_unix_s, double t1_unix_s) const {
  if (series_.empty()) return "";
  if (t1_unix_s < t0_unix_s) std::swap(t0_unix_s, t1_unix_s);
  double first = series_.front().unix_s;
  if (t0_unix_s >= first && t1_unix_s <= series_end_s_) return "";
  bool wholly = t1_unix_s <= first || t0_unix_s >= series_end_s_;
  return std::string("the run (") + carbon_text::FormatUtc(t0_unix_s) + ".." +
         carbon_text::FormatUtc(t1_unix_s) + ") lies " + (wholly ? "wholly" : "partly") +
         " outside the intensity series (" + carbon_text::FormatUtc(first) + ".." +
         carbon_text::FormatUtc(series_end_s_) +
         "); the value at the series' nearest end was used there";
}

const std::string& CarbonModel::source() const { return source_; }
bool CarbonModel::is_default() const { return is_default_; }
double CarbonModel::pue() const { return pue_; }
double CarbonModel::wue() const { return wue_; }
const std::string& CarbonModel::country_name() const { return country_name_; }
const std::string& CarbonModel::country_iso() const { return country_iso_; }
const std::string& CarbonModel::region() const { return region_; }
const std::string& CarbonModel::cloud_provider() const { return cloud_provider_; }
const std::string& CarbonModel::cloud_region() const { return cloud_region_; }
const std::vector<CarbonModel::SeriesPoint>& CarbonModel::series() const { return series_; }

}  // namespace joule
