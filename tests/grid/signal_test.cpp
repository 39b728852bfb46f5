#include <gtest/gtest.h>

#include "joule/grid.hpp"

namespace joule::grid {
namespace {

TEST(Signal, NamesAreTheOnesTheLedgerStores) {
  EXPECT_EQ(SignalName(Signal::kDirect), "direct");
  EXPECT_EQ(SignalName(Signal::kLca), "lca");
  EXPECT_EQ(SignalName(Signal::kMarginal), "marginal");
}

}  // namespace
}  // namespace joule::grid
