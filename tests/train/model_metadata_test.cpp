// The feature standardisation in a model's metadata: compact for images,
// exact per feature for tables, and refused when it does not fit the data.
#include <gtest/gtest.h>

#include "joule/train.hpp"

namespace joule {
namespace {

TEST(ModelMetadata, SharedNormalizerIsStoredOnceAndRepeatedOnRead) {
  Normalizer n{std::vector<float>(784, 0.1307f), std::vector<float>(784, 0.3081f)};
  nlohmann::json meta = nlohmann::json::object();
  WriteNormalizer(n, meta);
  EXPECT_EQ(meta["feature_mean"].size(), 1u);
  EXPECT_EQ(meta["feature_stddev"].size(), 1u);
  Normalizer back = ReadNormalizer(meta, 784);
  EXPECT_EQ(back.mean, n.mean);
  EXPECT_EQ(back.stddev, n.stddev);
}

TEST(ModelMetadata, PerFeatureNormalizerRoundTripsExactly) {
  Normalizer n{{1.5f, -2.25f, 3}, {0.5f, 1, 2}};
  nlohmann::json meta = nlohmann::json::object();
  WriteNormalizer(n, meta);
  EXPECT_EQ(meta["feature_mean"].size(), 3u);
  Normalizer back = ReadNormalizer(meta, 3);
  EXPECT_EQ(back.mean, n.mean);
  EXPECT_EQ(back.stddev, n.stddev);
}

TEST(ModelMetadata, MismatchedWidthOrNonNumbersAreErrors) {
  nlohmann::json meta = {{"feature_mean", {1, 2}}, {"feature_stddev", {1, 1}}};
  EXPECT_THROW(ReadNormalizer(meta, 3), Error);
  meta = {{"feature_mean", {"a"}}, {"feature_stddev", {1}}};
  EXPECT_THROW(ReadNormalizer(meta, 3), Error);
}

TEST(ModelMetadata, NoNormalizerGivesAnEmptyOne) {
  EXPECT_TRUE(ReadNormalizer(nlohmann::json::object(), 5).mean.empty());
}

}  // namespace
}  // namespace joule
