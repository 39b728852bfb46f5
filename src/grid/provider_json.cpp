// JSON access and series finishing shared by the provider parsers.
#include "grid/provider_json.hpp"

#include <algorithm>
#include <cmath>

#include "grid/iso_time.hpp"
#include "joule/util.hpp"

namespace joule::grid::detail {

nlohmann::json ParseJsonReply(std::string_view body) {
  try {
    return nlohmann::json::parse(body.begin(), body.end());
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte counts from 1 and passes the end when the text stops early: a
    // reply cut short, which deserves saying so.
    if (e.byte > body.size()) {
      throw Error("malformed JSON reply (ends after " + std::to_string(body.size()) +
                  " bytes, incomplete)");
    }
    throw Error("malformed JSON reply (at byte " + std::to_string(e.byte) + " of " +
                std::to_string(body.size()) + ")");
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("malformed JSON reply (") + e.what() + ")");
  }
}

const nlohmann::json& Field(const nlohmann::json& obj, const char* name, const std::string& where) {
  if (!obj.is_object()) throw Error(where + ": expected a JSON object, found " + obj.type_name());
  auto it = obj.find(name);
  if (it == obj.end()) throw Error(where + ": no field \"" + name + "\"");
  return *it;
}

const std::string& StringField(const nlohmann::json& obj, const char* name,
                               const std::string& where) {
  const nlohmann::json& v = Field(obj, name, where);
  if (!v.is_string()) {
    throw Error(where + "." + name + ": expected a string, found " + v.type_name());
  }
  return v.get_ref<const std::string&>();
}

const nlohmann::json& ArrayField(const nlohmann::json& obj, const char* name,
                                 const std::string& where) {
  const nlohmann::json& v = Field(obj, name, where);
  if (!v.is_array())
    throw Error(where + "." + name + ": expected an array, found " + v.type_name());
  return v;
}

std::optional<double> NumberOrNull(const nlohmann::json& value, const std::string& where) {
  if (value.is_null()) return std::nullopt;
  if (!value.is_number()) throw Error(where + ": expected a number, found " + value.type_name());
  const double v = value.get<double>();
  if (!std::isfinite(v)) throw Error(where + ": expected a finite number");
  return v;
}

void FinishSeries(IntensitySeries& series, double default_step_s) {
  auto& pts = series.points;
  if (pts.empty()) throw Error("no values in the reply");
  std::stable_sort(pts.begin(), pts.end(), [](const IntensityPoint& a, const IntensityPoint& b) {
    return a.unix_s < b.unix_s;
  });
  double min_gap = 0;
  for (std::size_t i = 1; i < pts.size(); ++i) {
    const double gap = pts[i].unix_s - pts[i - 1].unix_s;
    if (gap <= 0) throw Error("two values for " + FormatIsoTime(pts[i].unix_s));
    if (min_gap == 0 || gap < min_gap) min_gap = gap;
  }
  if (series.step_s <= 0) series.step_s = min_gap > 0 ? min_gap : default_step_s;
}

IntensitySeries Window(IntensitySeries series, double t0, double t1) {
  auto& pts = series.points;
  pts.erase(
      std::remove_if(pts.begin(), pts.end(),
                     [&](const IntensityPoint& p) { return p.unix_s < t0 || p.unix_s >= t1; }),
      pts.end());
  return series;
}

IntensitySeries FetchInChunks(double t0, double t1, double chunk_s,
                              const std::function<IntensitySeries(double, double)>& fetch) {
  IntensitySeries out;
  for (double start = t0; start < t1; start += chunk_s) {
    IntensitySeries part = fetch(start, std::min(start + chunk_s, t1));
    if (out.points.empty()) {
      out = std::move(part);
      continue;
    }
    for (const IntensityPoint& p : part.points) {
      if (p.unix_s > out.points.back().unix_s) out.points.push_back(p);
    }
  }
  return out;
}

}  // namespace joule::grid::detail
