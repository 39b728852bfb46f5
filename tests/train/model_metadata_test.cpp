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

TEST(ModelMetadata, RoundTripKeepsEveryFieldAndUnknownKeys) {
  ModelMetadata m;
  m.data = "t.csv";
  m.target = "y";
  m.task = "regression";
  m.model = "mlp";
  m.loss = "huber";
  m.precision = "bf16";
  m.epochs = 7;
  m.seed = 42;
  m.eval_name = "holdout";
  m.target_scaler = TargetScaler{2.5f, 0.5f};
  m.SetNormalizer(Normalizer{{1, 2, 3}, {1, 1, 2}});
  m.compression = "int8-ptq";
  m.extra = {{"quantization", {{"samples", 512}}}};
  const nlohmann::json j = m.ToJson();
  EXPECT_EQ(j["loss"], "huber");
  EXPECT_EQ(j["target_mean"], 2.5);
  EXPECT_EQ(j["quantization"]["samples"], 512);
  ModelMetadata back = ModelMetadata::FromJson(j);
  EXPECT_EQ(back.ToJson(), j);
  EXPECT_EQ(back.seed, 42u);
  ASSERT_TRUE(back.target_scaler.has_value());
  EXPECT_EQ(back.target_scaler->stddev, 0.5f);
  EXPECT_EQ(back.FeatureNormalizer(3).stddev, (std::vector<float>{1, 1, 2}));
  EXPECT_THROW(back.FeatureNormalizer(4), Error);
}

TEST(ModelMetadata, DefaultsForAnOldOrEmptyFileAndTypedErrors) {
  ModelMetadata m = ModelMetadata::FromJson(nlohmann::json::object());
  EXPECT_EQ(m.task, "classification");
  EXPECT_EQ(m.loss, "cross-entropy");
  EXPECT_EQ(m.seed, 1u);
  EXPECT_FALSE(m.target_scaler.has_value());
  EXPECT_TRUE(m.FeatureNormalizer(784).mean.empty());
  try {
    ModelMetadata::FromJson({{"seed", "one"}});
    ADD_FAILURE() << "no Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"seed\""), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace joule
