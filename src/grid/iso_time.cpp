// ISO 8601 timestamps for the provider clients (see iso_time.hpp).
#include "grid/iso_time.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>

#include "joule/util.hpp"

namespace joule::grid::detail {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil), exact for every year we accept.
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void CivilFromDays(std::int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2));
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// Reads exactly `n` digits at `pos`; false when they are not there.
bool Digits(std::string_view s, std::size_t& pos, int n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (int i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

bool Expect(std::string_view s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

[[noreturn]] void Bad(std::string_view text) {
  std::string shown(text.substr(0, 40));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  throw Error("bad timestamp '" + shown +
              "': expected ISO 8601 UTC like 2022-01-01T00:00:00Z or +00:00");
}

}  // namespace

double ParseIsoTime(std::string_view s) {
  std::size_t p = 0;
  int y, mo, d, h, mi, sec = 0;
  if (!Digits(s, p, 4, y) || !Expect(s, p, '-') || !Digits(s, p, 2, mo) || !Expect(s, p, '-') ||
      !Digits(s, p, 2, d)) {
    Bad(s);
  }
  if (p >= s.size() || (s[p] != 'T' && s[p] != ' ')) Bad(s);
  ++p;
  if (!Digits(s, p, 2, h) || !Expect(s, p, ':') || !Digits(s, p, 2, mi)) Bad(s);
  double frac = 0;
  if (p < s.size() && s[p] == ':') {
    ++p;
    if (!Digits(s, p, 2, sec)) Bad(s);
    if (p < s.size() && s[p] == '.') {
      ++p;
      double scale = 0.1;
      const std::size_t start = p;
      while (p < s.size() && s[p] >= '0' && s[p] <= '9' && p - start < 9) {
        frac += (s[p] - '0') * scale;
        scale /= 10;
        ++p;
      }
      if (p == start) Bad(s);
    }
  }
  int offset_s = 0;
  if (p < s.size() && s[p] == 'Z') {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    const int sign = s[p] == '+' ? 1 : -1;
    ++p;
    int oh, om;
    if (!Digits(s, p, 2, oh) || !Expect(s, p, ':') || !Digits(s, p, 2, om) || oh > 23 || om > 59) {
      Bad(s);
    }
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    Bad(s);
  }
  if (p != s.size()) Bad(s);
  static constexpr int kMonthDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60) Bad(s);
  if (d > kMonthDays[mo - 1] + (mo == 2 && IsLeap(y) ? 1 : 0)) Bad(s);
  const std::int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return static_cast<double>(days * 86400 + h * 3600 + mi * 60 + sec - offset_s) + frac;
}

std::string FormatIsoTime(double unix_s, bool with_seconds) {
  const auto t = static_cast<std::int64_t>(std::floor(unix_s));
  std::int64_t days = t / 86400, rem = t % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  int y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  char buf[40];
  const int hh = static_cast<int>(rem / 3600), mm = static_cast<int>(rem / 60 % 60),
            ss = static_cast<int>(rem % 60);
  if (with_seconds) {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", y, m, d, hh, mm, ss);
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02dZ", y, m, d, hh, mm);
  }
  return buf;
}

double StartOfYear(double unix_s) {
  std::int64_t days = static_cast<std::int64_t>(std::floor(unix_s / 86400));
  int y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  return static_cast<double>(DaysFromCivil(y, 1, 1) * 86400);
}

}  // namespace joule::grid::detail
