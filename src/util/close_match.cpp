// Suggestions for a misspelt name, shared by every "unknown X; closest: ..."
// message (countries, regions, recipe keys, hardware models).
#include <algorithm>
#include <cctype>
#include <numeric>
#include <utility>

#include "joule/util.hpp"

namespace joule {
namespace {

std::string LowerTrimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      std::size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::vector<std::string> CloseMatches(std::string_view query,
                                      const std::vector<NameCandidate>& candidates,
                                      std::size_t max_count) {
  std::string needle = LowerTrimmed(query);
  std::vector<std::pair<std::size_t, std::size_t>> scored;  // (distance, index)
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    std::size_t best = static_cast<std::size_t>(-1);
    for (const std::string& key : candidates[i].keys) {
      std::string lower = LowerTrimmed(key);
      bool prefix = !needle.empty() && lower.compare(0, needle.size(), needle) == 0;
      best = std::min(best, prefix ? 0 : EditDistance(needle, lower));
    }
    scored.emplace_back(best, i);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (std::size_t k = 0; k < scored.size() && out.size() < max_count; ++k) {
    out.push_back(candidates[scored[k].second].display);
  }
  return out;
}

std::string JoinList(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += items[i];
  }
  return out;
}

}  // namespace joule
