// What the provider parsers share: JSON access that throws joule::Error only,
// and the finishing of a series (order, duplicates, step). Internal.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "joule/grid.hpp"

namespace joule::grid::detail {

// Parses `body`; Error "malformed JSON reply (at byte N)" when it is not JSON.
nlohmann::json ParseJsonReply(std::string_view body);

// obj[name], where obj must be an object holding `name`; Error naming `where`
// ("forecast[3]") and the field otherwise.
const nlohmann::json& Field(const nlohmann::json& obj, const char* name, const std::string& where);
// The field as a string / an array; Error when it is something else.
const std::string& StringField(const nlohmann::json& obj, const char* name,
                               const std::string& where);
const nlohmann::json& ArrayField(const nlohmann::json& obj, const char* name,
                                 const std::string& where);
// A number, or std::nullopt for null; Error for anything else.
std::optional<double> NumberOrNull(const nlohmann::json& value, const std::string& where);

// Sorts the points by time; Error "two values for <time>" for a duplicate and
// "no values in the reply" when empty. step_s: when > 0 it is kept, else the
// smallest gap between points, else `default_step_s`.
void FinishSeries(IntensitySeries& series, double default_step_s);

// [t0, t1) asked for in pieces of at most `chunk_s` (the providers cap one
// request's range), `fetch(start, end)` per piece, joined; a piece's points
// at or before the joined series' last one are dropped (neighbouring pieces
// share their boundary when a provider counts `end` in).
IntensitySeries FetchInChunks(double t0, double t1, double chunk_s,
                              const std::function<IntensitySeries(double, double)>& fetch);

// The points of `series` that start in [t0, t1).
IntensitySeries Window(IntensitySeries series, double t0, double t1);

}  // namespace joule::grid::detail
