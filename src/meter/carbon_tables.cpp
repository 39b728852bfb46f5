#include "meter/carbon_tables.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "joule/util.hpp"
#include "meter/carbon_text.hpp"

namespace joule::carbon_tables {
namespace {

using carbon_text::Candidate;
using carbon_text::CloseMatches;
using carbon_text::JoinList;
using carbon_text::ToLower;

constexpr std::size_t kSuggestions = 5;

// One pound is 453.59237 g exactly (international avoirdupois pound) and one
// MWh is 1000 kWh, so lbs/MWh x 0.45359237 = g/kWh.
constexpr double kGramsPerKwhPerLbsPerMwh = 453.59237 / 1000.0;

std::string ToUpper(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return text;
}

nlohmann::json ReadJsonTable(const std::string& path) {
  std::string text = ReadFile(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e400
    throw Error(path + ": not valid JSON (" + e.what() +
                "); restore the file from the repository's data/carbon/");
  }
}

double NumberField(const nlohmann::json& entry, const char* field, const std::string& path,
                   const std::string& key) {
  auto it = entry.find(field);
  if (it == entry.end() || !it->is_number()) {
    throw Error(path + ": entry \"" + key + "\" has no numeric \"" + field +
                "\"; restore the file from the repository's data/carbon/");
  }
  return it->get<double>();
}

std::string StringField(const nlohmann::json& entry, const char* field) {
  auto it = entry.find(field);
  return (it != entry.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

int YearField(const nlohmann::json& entry) {
  auto it = entry.find("year");
  return (it != entry.end() && it->is_number_integer()) ? it->get<int>() : 0;
}

// Country of each Nordic bidding-zone prefix in nordic_emissions.json.
std::string NordicCountry(const std::string& zone) {
  static const std::map<std::string, std::string> kPrefixToIso3 = {
      {"SE", "SWE"}, {"NO", "NOR"}, {"FI", "FIN"}, {"DK", "DNK"}};
  auto it = kPrefixToIso3.find(zone.substr(0, 2));
  return it == kPrefixToIso3.end() ? std::string() : it->second;
}

}  // namespace

CountryFigure LookupCountry(const std::string& data_dir, const std::string& iso3) {
  const std::string path = data_dir + "/carbon/global_energy_mix.json";
  nlohmann::json table = ReadJsonTable(path);
  if (!table.is_object()) throw Error(path + ": expected a JSON object keyed by ISO3 code");
  std::string code = ToUpper(std::string(carbon_text::Trim(iso3)));
  auto it = table.find(code);
  if (it == table.end() || !it->is_object()) {
    std::vector<Candidate> candidates;
    for (const auto& [key, entry] : table.items()) {
      std::string name = entry.is_object() ? StringField(entry, "country_name") : "";
      candidates.push_back({key + " (" + name + ")", {key, name}});
    }
    throw Error("--country " + iso3 + ": not an ISO 3166 alpha-3 code in " + path +
                "; closest: " + JoinList(CloseMatches(iso3, candidates, kSuggestions)) +
                " (the file's top-level keys are the valid codes)");
  }
  CountryFigure figure;
  figure.iso3 = code;
  figure.name = StringField(*it, "country_name");
  figure.g_per_kwh = NumberField(*it, "carbon_intensity", path, code);
  figure.year = YearField(*it);
  return figure;
}

CloudFigure LookupCloud(const std::string& data_dir, const std::string& provider,
                        const std::string& region) {
  const std::string path = data_dir + "/carbon/impact.csv";
  std::string text = ReadFile(path);
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);  // the file starts with a BOM

  std::map<std::string, std::size_t> column;
  std::vector<std::vector<std::string>> rows;
  std::size_t line_number = 0, start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (carbon_text::Trim(line).empty()) continue;
    auto fields = carbon_text::SplitCsvLine(line);
    if (!fields) throw Error(path + ":" + std::to_string(line_number) + ": unbalanced quotes");
    if (column.empty()) {
      for (std::size_t i = 0; i < fields->size(); ++i) column[(*fields)[i]] = i;
      for (const char* needed :
           {"provider", "region", "impact", "countryIsoCode", "country_name"}) {
        if (!column.count(needed)) {
          throw Error(path + ":1: header lacks the column \"" + std::string(needed) +
                      "\"; restore the file from the repository's data/carbon/");
        }
      }
      continue;
    }
    fields->resize(std::max(fields->size(), column.size()));
    rows.push_back(std::move(*fields));
  }
  auto cell = [&](const std::vector<std::string>& row, const char* name) -> const std::string& {
    return row[column.at(name)];
  };

  std::string want_provider = ToLower(carbon_text::Trim(provider));
  std::string want_region = ToLower(carbon_text::Trim(region));
  std::vector<std::string> providers;
  std::vector<Candidate> regions;
  for (const auto& row : rows) {
    const std::string& p = cell(row, "provider");
    if (std::find(providers.begin(), providers.end(), p) == providers.end()) providers.push_back(p);
    if (ToLower(p) != want_provider) continue;
    const std::string& r = cell(row, "region");
    regions.push_back({r + " (" + cell(row, "city") + ")", {r, cell(row, "city")}});
    if (ToLower(r) != want_region) continue;
    auto impact = carbon_text::ParseFiniteDouble(cell(row, "impact"));
    if (!impact) throw Error(path + ": region " + r + " has a non-numeric impact");
    CloudFigure figure;
    figure.provider = p;
    figure.region = r;
    figure.country_iso3 = cell(row, "countryIsoCode");
    figure.country_name = cell(row, "country_name");
    figure.place = cell(row, "state").empty() ? cell(row, "city") : cell(row, "state");
    figure.g_per_kwh = *impact;
    return figure;
  }
  if (regions.empty()) {
    // CodeCarbon removed AWS and Azure rows in 2023 because those providers
    // publish no per-region intensity; say so rather than only "unknown".
    throw Error("--cloud " + provider + ": no regions for this provider in " + path +
                " (it has: " + JoinList(providers) +
                "; AWS and Azure publish no per-region carbon intensity); use --country with "
                "the region's country instead");
  }
  throw Error("--region " + region + ": not a " + want_provider + " region in " + path +
              "; closest: " + JoinList(CloseMatches(region, regions, kSuggestions)) +
              " (the file's \"region\" column lists them all)");
}

GridFigure LookupGridRegion(const std::string& data_dir, const std::string& name) {
  const std::string usa_path = data_dir + "/carbon/usa_emissions.json";
  const std::string nordic_path = data_dir + "/carbon/nordic_emissions.json";
  std::string lower = ToLower(carbon_text::Trim(name));
  std::string upper = ToUpper(lower);
  std::vector<Candidate> candidates;

  nlohmann::json usa = ReadJsonTable(usa_path);
  // The table says its unit in a "_unit" entry; refuse anything but the
  // lbs/MWh the conversion below assumes.
  if (!usa.is_object() || !usa.contains("_unit") ||
      StringField(usa["_unit"], "emissions") != "lbs/MWh") {
    throw Error(usa_path +
                ": expected \"_unit\": {\"emissions\": \"lbs/MWh\"}; restore the file "
                "from the repository's data/carbon/");
  }
  for (const auto& [key, entry] : usa.items()) {
    if (key.empty() || key[0] == '_' || !entry.is_object()) continue;
    std::string code = StringField(entry, "regionCode");
    if (key == lower || ToUpper(code) == upper) {
      GridFigure figure;
      figure.key = key;
      figure.description = key + " (" + code + ")";
      figure.country_iso3 = "USA";
      figure.table = "usa_emissions.json, converted from lbs/MWh";
      figure.year = 0;
      figure.g_per_kwh = NumberField(entry, "emissions", usa_path, key) * kGramsPerKwhPerLbsPerMwh;
      return figure;
    }
    candidates.push_back({key + " (" + code + ")", {key, code}});
  }

  nlohmann::json nordic = ReadJsonTable(nordic_path);
  if (!nordic.is_object() || !nordic.contains("data") || !nordic["data"].is_object()) {
    throw Error(nordic_path +
                ": expected {\"data\": {ZONE: {...}}}; restore the file from the "
                "repository's data/carbon/");
  }
  for (const auto& [zone, entry] : nordic["data"].items()) {
    if (!entry.is_object()) continue;
    std::string description = StringField(entry, "description");
    if (ToUpper(zone) == upper) {
      if (StringField(entry, "unit") != "gCO2eq/kWh") {
        throw Error(nordic_path + ": zone " + zone + " is not in gCO2eq/kWh");
      }
      GridFigure figure;
      figure.key = zone;
      figure.description = zone + " (" + description + ")";
      figure.country_iso3 = NordicCountry(ToUpper(zone));
      figure.table = "nordic_emissions.json";
      figure.year = YearField(entry);
      figure.g_per_kwh = NumberField(entry, "emission_factor", nordic_path, zone);
      return figure;
    }
    candidates.push_back({zone + " (" + description + ")", {zone, description}});
  }
  throw Error("--grid-region " + name + ": not a US state (" + usa_path + ") or Nordic zone (" +
              nordic_path +
              "); closest: " + JoinList(CloseMatches(name, candidates, kSuggestions)));
}

}  // namespace joule::carbon_tables
