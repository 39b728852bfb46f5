#include "joule/util.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>

namespace joule {
namespace {

TEST(Rng, SameSeedSameSequenceDifferentSeedDifferent) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    std::uint64_t x = a.NextU64();
    EXPECT_EQ(x, b.NextU64());
    EXPECT_NE(x, c.NextU64());
  }
}

TEST(Rng, KnownFirstValueOfSplitMix64) {
  // SplitMix64 from state 0: the published first output 0xe220a8397b1dcdaf.
  Rng r(0);
  EXPECT_EQ(r.NextU64(), 0xe220a8397b1dcdafull);
}

TEST(Rng, UniformInRangeAndBelowCoversAllValues) {
  Rng r(7);
  std::set<std::uint64_t> seen;
  double sum = 0;
  for (int i = 0; i < 20000; ++i) {
    float u = r.Uniform();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum += u;
    std::uint64_t k = r.Below(7);
    ASSERT_LT(k, 7u);
    seen.insert(k);
  }
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_NEAR(sum / 20000, 0.5, 0.01);
}

TEST(Rng, NormalHasUnitVariance) {
  Rng r(9);
  double sum = 0, sq = 0;
  const int n = 50000;
  for (int i = 0; i < n; ++i) {
    double v = r.Normal();
    ASSERT_TRUE(std::isfinite(v));
    sum += v;
    sq += v * v;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.02);
  EXPECT_NEAR(sq / n, 1.0, 0.03);
}

TEST(Files, AtomicWriteThenReadBack) {
  auto dir = std::filesystem::path(JOULE_TEST_BINARY_DIR) / "util_files";
  std::filesystem::create_directories(dir);
  std::string path = (dir / "a.bin").string();
  std::string bytes("x\0y\nz", 5);
  WriteFileAtomic(path, bytes);
  EXPECT_EQ(ReadFile(path), bytes);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(Files, ErrorsNameThePath) {
  try {
    ReadFile("/nonexistent/dir/file.txt");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/file.txt"), std::string::npos);
  }
  EXPECT_THROW(WriteFileAtomic("/nonexistent/dir/out.txt", "x"), Error);
}

}  // namespace
}  // namespace joule
