// src/data/seeded_permutation.hpp: the one way the data layer shuffles rows.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "joule/util.hpp"

namespace joule::data_internal {

// Fisher-Yates over 0..n-1 drawing from joule's portable Rng (std::shuffle's
// draws differ between standard libraries), so a seed means the same order
// everywhere.
inline std::vector<std::int64_t> SeededPermutation(std::int64_t n, Rng& rng) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  for (std::int64_t i = n - 1; i > 0; --i) {
    auto j = static_cast<std::int64_t>(rng.Below(static_cast<std::uint64_t>(i) + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

}  // namespace joule::data_internal
