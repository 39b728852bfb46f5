// The federated partitions: every row to exactly one client; Dirichlet skew.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "joule/dist.hpp"
#include "joule/util.hpp"

namespace joule::dist {
namespace {

std::vector<int> Labels(int n, int classes) {
  std::vector<int> labels(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) labels[static_cast<std::size_t>(i)] = (i * 7) % classes;
  return labels;
}

void ExpectEveryRowOnce(const std::vector<std::vector<std::int64_t>>& parts, int n) {
  std::vector<int> seen(static_cast<std::size_t>(n), 0);
  for (const auto& p : parts) {
    for (std::int64_t r : p) ++seen[static_cast<std::size_t>(r)];
  }
  for (int i = 0; i < n; ++i) ASSERT_EQ(seen[static_cast<std::size_t>(i)], 1) << "row " << i;
}

TEST(Partition, IidCutsEvenlyAndCoversEveryRowOnce) {
  auto parts = PartitionRows(Labels(1003, 10), 10, 4, "iid", 5);
  ASSERT_EQ(parts.size(), 4u);
  ExpectEveryRowOnce(parts, 1003);
  for (const auto& p : parts) {
    EXPECT_GE(p.size(), 250u);
    EXPECT_LE(p.size(), 251u);
  }
  EXPECT_EQ(parts, PartitionRows(Labels(1003, 10), 10, 4, "iid", 5));  // seeded
}

// Alpha 0.1 gives each client a few dominant classes; alpha 100 nearly the
// global mix (10 % each).
TEST(Partition, DirichletSkewFollowsAlpha) {
  const int n = 20000, classes = 10, clients = 8;
  std::vector<int> labels = Labels(n, classes);
  auto share_of_top_class = [&](const std::vector<std::vector<std::int64_t>>& parts) {
    double worst = 0;
    for (const auto& p : parts) {
      if (p.size() < 100) continue;
      std::vector<int> count(classes, 0);
      for (std::int64_t r : p)
        ++count[static_cast<std::size_t>(labels[static_cast<std::size_t>(r)])];
      worst = std::max(
          worst, *std::max_element(count.begin(), count.end()) / static_cast<double>(p.size()));
    }
    return worst;
  };
  auto skewed = PartitionRows(labels, classes, clients, "dirichlet:0.1", 1);
  auto mixed = PartitionRows(labels, classes, clients, "dirichlet:100", 1);
  ExpectEveryRowOnce(skewed, n);
  ExpectEveryRowOnce(mixed, n);
  EXPECT_GT(share_of_top_class(skewed), 0.5);
  EXPECT_LT(share_of_top_class(mixed), 0.2);
}

TEST(Partition, BadNamesAreOneLineErrors) {
  for (const char* bad : {"dirichlet", "dirichlet:", "dirichlet:-1", "dirichlet:0.1x", "shards"}) {
    try {
      PartitionRows(Labels(10, 2), 2, 2, bad, 1);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--partition"), std::string::npos) << e.what();
    }
  }
}

TEST(Federated, OptionsOutOfRangeNameTheirFlag) {
  FederatedOptions o;
  EXPECT_THROW(CheckFederatedOptions(o, 1), Error);  // no client rank
  o.clients_per_round = 5;
  try {
    CheckFederatedOptions(o, 3);  // 2 clients
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--clients-per-round"), std::string::npos);
  }
  o = FederatedOptions{};
  o.strategy = "fedsgd";
  EXPECT_THROW(CheckFederatedOptions(o, 3), Error);
}

}  // namespace
}  // namespace joule::dist
