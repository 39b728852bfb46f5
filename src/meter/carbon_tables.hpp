// Lookups in the bundled carbon-intensity tables (data/carbon/, copied from
// CodeCarbon; see data/PROVENANCE.md). Internal to the meter layer; the public
// face is joule::CarbonModel.
#pragma once

#include <string>

namespace joule::carbon_tables {

struct CountryFigure {
  std::string iso3;  // "FRA"
  std::string name;  // "France"
  double g_per_kwh;  // annual mean carbon intensity of generation
  int year;          // the year the figure is for
};

struct CloudFigure {
  std::string provider, region;  // as in impact.csv ("gcp", "europe-west1")
  std::string country_iso3, country_name;
  std::string place;  // state, else city ("St. Ghislain")
  double g_per_kwh;
};

struct GridFigure {
  std::string key;          // table key: "california", "SE3"
  std::string description;  // "california (CA)", "SE3 (Sweden Bidding Zone 3 (Southern Sweden))"
  std::string country_iso3;
  std::string table;  // file name and any unit note, for source()
  int year;           // 0 when the table does not say
  double g_per_kwh;
};

// `iso3` in any case. Throws joule::Error when the table cannot be read or the
// code is not in it (message: close matches, and where the valid codes are).
CountryFigure LookupCountry(const std::string& data_dir, const std::string& iso3);

// Provider and region in any case. Throws joule::Error for an unknown provider
// (impact.csv has Google Cloud only) or region (with close matches).
CloudFigure LookupCloud(const std::string& data_dir, const std::string& provider,
                        const std::string& region);

// A US state by name or two-letter code (usa_emissions.json, converted from
// lbs/MWh), or a Nordic bidding zone (nordic_emissions.json). Throws
// joule::Error when it is in neither (with close matches).
GridFigure LookupGridRegion(const std::string& data_dir, const std::string& name);

}  // namespace joule::carbon_tables
