// ISO 8601 timestamps as the providers write them, to and from unix seconds.
// Internal to the grid layer.
#pragma once

#include <string>
#include <string_view>

namespace joule::grid::detail {

// "2019-05-21T00:00:00.000Z", "2026-04-01T00:00:00+00:00", "2018-01-20T12:00Z"
// (seconds and fraction optional; Z or an offset +HH:MM / -HH:MM required).
// Years 1970-9999. Throws Error "bad timestamp '...': expected ...".
double ParseIsoTime(std::string_view text);

// "2022-01-01T00:00:00Z"; with_seconds false: "2022-01-01T00:00Z" (the UK
// API's form). Whole seconds, rounded down.
std::string FormatIsoTime(double unix_s, bool with_seconds = true);

// Unix seconds of 1 January 00:00 UTC of the year holding unix_s.
double StartOfYear(double unix_s);

}  // namespace joule::grid::detail
