// Small text helpers shared by the carbon table and series readers: CSV line
// splitting, trimming, strict number and timestamp parsing, close-match
// suggestions for error messages. Internal to the meter layer.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joule/util.hpp"

namespace joule::carbon_text {

// Splits one CSV line (no line break inside) into fields, RFC 4180 quoting:
// a field may be wrapped in double quotes, with "" standing for one quote.
// Returns std::nullopt when a quoted field is not closed or text follows its
// closing quote, so callers can report the line as malformed.
std::optional<std::vector<std::string>> SplitCsvLine(std::string_view line);

// Removes leading and trailing spaces and tabs.
std::string_view Trim(std::string_view text);

std::string ToLower(std::string_view text);

// Whole-string decimal number (leading/trailing blanks allowed); std::nullopt
// for anything else, including "", "12abc", "nan" and "inf".
std::optional<double> ParseFiniteDouble(std::string_view text);

// Seconds since the Unix epoch for an ISO 8601 date-time
// ("2022-01-01", "2022-01-01 00:00", "2022-01-01T00:00:00.5Z",
// "2022-01-01T01:00:00+01:00"; no offset means UTC) or a plain number of unix
// seconds ("1640995200", "1640995200.25"). std::nullopt when it is neither or
// a field is out of range (month 13, February 30, hour 24, ...).
std::optional<double> ParseTimestamp(std::string_view text);

// "2022-01-01T00:00:00Z" (fraction dropped) for unix seconds.
std::string FormatUtc(double unix_s);

// Shared with the other layers through joule/util.hpp.
using Candidate = joule::NameCandidate;
using joule::CloseMatches;
using joule::JoinList;

}  // namespace joule::carbon_text
