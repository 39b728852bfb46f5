#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "joule/data.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;

// rows x [1, 2, 2] "images" whose pixels encode the row (x = 10 * row + k) and
// y = row, so every test can tell which row went where and that x and y
// travelled together.
Dataset RowTaggedSet(std::int64_t rows) {
  Dataset d;
  d.x = Tensor({rows, 1, 2, 2});
  d.y = Tensor({rows});
  for (std::int64_t r = 0; r < rows; ++r) {
    for (int k = 0; k < 4; ++k) d.x.f32()[r * 4 + k] = static_cast<float>(10 * r + k);
    d.y.f32()[r] = static_cast<float>(r);
  }
  d.task = Task::kClassification;
  d.num_classes = 7;
  d.feature_names = {"p0", "p1", "p2", "p3"};
  return d;
}

// Row ids of a set built by RowTaggedSet, checking x still matches y.
std::vector<std::int64_t> RowIds(const Tensor& x, const Tensor& y) {
  std::vector<std::int64_t> ids;
  for (std::int64_t i = 0; i < y.numel(); ++i) {
    auto r = static_cast<std::int64_t>(y.f32()[i]);
    for (int k = 0; k < 4; ++k) {
      EXPECT_EQ(x.f32()[i * 4 + k], static_cast<float>(10 * r + k)) << "row " << r;
    }
    ids.push_back(r);
  }
  return ids;
}

std::vector<std::int64_t> EpochOrder(BatchIterator& it, int epoch) {
  it.StartEpoch(epoch);
  Tensor x, y;
  std::vector<std::int64_t> order;
  while (it.Next(x, y)) {
    std::vector<std::int64_t> ids = RowIds(x, y);
    order.insert(order.end(), ids.begin(), ids.end());
  }
  return order;
}

std::vector<std::int64_t> Iota(std::int64_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

TEST(Dataset, RowsAndFeatures) {
  Dataset d = RowTaggedSet(5);
  EXPECT_EQ(d.rows(), 5);
  EXPECT_EQ(d.features(), 4);
  EXPECT_EQ(Dataset{}.rows(), 0);
  EXPECT_EQ(Dataset{}.features(), 0);
}

TEST(Dataset, SubsetCopiesRowsAndKeepsMetadata) {
  Dataset d = RowTaggedSet(5);
  Dataset s = Subset(d, {4, 1, 1});
  EXPECT_EQ(s.x.shape(), (Shape{3, 1, 2, 2}));
  EXPECT_EQ(RowIds(s.x, s.y), (std::vector<std::int64_t>{4, 1, 1}));
  EXPECT_EQ(s.num_classes, 7);
  EXPECT_EQ(s.feature_names, d.feature_names);
  s.x.f32()[0] = -1;  // a copy, not an alias
  EXPECT_EQ(d.x.f32()[16], 40.0f);
  EXPECT_THROW(Subset(d, {5}), Error);
  EXPECT_THROW(Subset(d, {-1}), Error);
}

TEST(Dataset, ClassCounts) {
  Dataset d = RowTaggedSet(5);  // y = 0..4, num_classes 7
  EXPECT_EQ(ClassCounts(d), (std::vector<std::int64_t>{1, 1, 1, 1, 1, 0, 0}));
  d.task = Task::kRegression;
  EXPECT_THROW(ClassCounts(d), Error);
}

TEST(Split, SizesDisjointAndComplete) {
  Dataset d = RowTaggedSet(100);
  auto [train, validation] = SplitTrainValidation(d, 0.2, 42);
  EXPECT_EQ(train.rows(), 80);
  EXPECT_EQ(validation.rows(), 20);
  std::vector<std::int64_t> a = RowIds(train.x, train.y);
  std::vector<std::int64_t> b = RowIds(validation.x, validation.y);
  std::set<std::int64_t> all(a.begin(), a.end());
  all.insert(b.begin(), b.end());
  EXPECT_EQ(all.size(), 100u);  // disjoint (no row twice) and complete
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
  // A shuffle, not the last 20 rows.
  EXPECT_NE(b, (std::vector<std::int64_t>(a.end() - 20, a.end())));
  EXPECT_NE(b.front(), 80);
  EXPECT_EQ(train.num_classes, 7);
  EXPECT_EQ(validation.feature_names, d.feature_names);
}

TEST(Split, RoundsTheValidationSize) {
  Dataset d = RowTaggedSet(10);
  EXPECT_EQ(SplitTrainValidation(d, 0.25, 1).second.rows(), 3);  // round(2.5) = 3
  EXPECT_EQ(SplitTrainValidation(d, 0.12, 1).second.rows(), 1);
}

TEST(Split, SameSeedSameSplitOtherSeedOther) {
  Dataset d = RowTaggedSet(200);
  auto first = SplitTrainValidation(d, 0.1, 7).second;
  auto again = SplitTrainValidation(d, 0.1, 7).second;
  auto other = SplitTrainValidation(d, 0.1, 8).second;
  EXPECT_EQ(RowIds(first.x, first.y), RowIds(again.x, again.y));
  EXPECT_NE(RowIds(first.x, first.y), RowIds(other.x, other.y));
}

TEST(Split, RefusesBadFractions) {
  Dataset d = RowTaggedSet(10);
  EXPECT_THROW(SplitTrainValidation(d, 0.0, 1), Error);
  EXPECT_THROW(SplitTrainValidation(d, 1.0, 1), Error);
  EXPECT_THROW(SplitTrainValidation(d, -0.5, 1), Error);
  EXPECT_THROW(SplitTrainValidation(d, std::nan(""), 1), Error);
  try {
    SplitTrainValidation(d, 0.01, 1);  // round(0.1) = 0 rows
    ADD_FAILURE() << "accepted an empty validation set";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("validation set empty"));
  }
}

TEST(Batches, CoverEveryRowOncePerEpochWithSmallerLastBatch) {
  Dataset d = RowTaggedSet(103);
  BatchIterator it(d, 10, /*shuffle=*/true, 5);
  EXPECT_EQ(it.batches_per_epoch(), 11);
  for (int epoch = 0; epoch < 3; ++epoch) {
    it.StartEpoch(epoch);
    Tensor x, y;
    std::vector<std::int64_t> sizes, seen;
    while (it.Next(x, y)) {
      EXPECT_EQ(x.shape(), (Shape{y.dim(0), 1, 2, 2}));
      sizes.push_back(y.dim(0));
      std::vector<std::int64_t> ids = RowIds(x, y);
      seen.insert(seen.end(), ids.begin(), ids.end());
    }
    EXPECT_EQ(sizes.size(), 11u);
    EXPECT_EQ(sizes.back(), 3);
    EXPECT_NE(seen, Iota(103)) << "not shuffled";
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, Iota(103)) << "epoch " << epoch;
    EXPECT_FALSE(it.Next(x, y));  // stays at the end
  }
}

TEST(Batches, WithoutShuffleInOrder) {
  Dataset d = RowTaggedSet(25);
  BatchIterator it(d, 8, /*shuffle=*/false, 5);
  EXPECT_EQ(EpochOrder(it, 0), Iota(25));
  EXPECT_EQ(EpochOrder(it, 3), Iota(25));
}

TEST(Batches, ReproduciblePerSeedAndEpochAndDifferentBetweenEpochs) {
  Dataset d = RowTaggedSet(64);
  BatchIterator a(d, 16, true, 99), b(d, 16, true, 99), c(d, 16, true, 100);
  std::vector<std::int64_t> a0 = EpochOrder(a, 0), a1 = EpochOrder(a, 1), a2 = EpochOrder(a, 2);
  // b jumps straight to epoch 2, as a resumed run would.
  EXPECT_EQ(EpochOrder(b, 2), a2);
  EXPECT_EQ(EpochOrder(b, 0), a0);
  EXPECT_NE(a0, a1);
  EXPECT_NE(a1, a2);
  EXPECT_NE(EpochOrder(c, 0), a0);
  // Seeds s and s+1 must not replay each other one epoch apart.
  EXPECT_NE(EpochOrder(c, 0), a1);
}

TEST(Batches, ConstructorStartsEpochZero) {
  Dataset d = RowTaggedSet(20);
  BatchIterator fresh(d, 6, true, 3), other(d, 6, true, 3);
  Tensor x, y;
  ASSERT_TRUE(fresh.Next(x, y));
  std::vector<std::int64_t> first = RowIds(x, y);
  std::vector<std::int64_t> epoch0 = EpochOrder(other, 0);
  EXPECT_EQ(first, std::vector<std::int64_t>(epoch0.begin(), epoch0.begin() + 6));
}

TEST(Batches, ReuseStorageAcrossBatchesAndEpochs) {
  Dataset d = RowTaggedSet(50);
  BatchIterator it(d, 16, true, 1);
  Tensor x, y;
  ASSERT_TRUE(it.Next(x, y));
  const void* x_storage = x.raw();
  const void* y_storage = y.raw();
  for (int epoch = 0; epoch < 3; ++epoch) {
    it.StartEpoch(epoch);
    while (it.Next(x, y)) {  // includes the smaller last batch of 2
      EXPECT_EQ(x.raw(), x_storage);
      EXPECT_EQ(y.raw(), y_storage);
    }
  }
}

TEST(Batches, BatchSizeChangesAtTheNextEpoch) {
  Dataset d = RowTaggedSet(40);
  BatchIterator it(d, 10, false, 0);
  Tensor x, y;
  ASSERT_TRUE(it.Next(x, y));
  it.set_batch_size(25);
  ASSERT_TRUE(it.Next(x, y));
  EXPECT_EQ(y.dim(0), 10);  // this epoch keeps its batch size
  EXPECT_EQ(it.batches_per_epoch(), 4);
  it.StartEpoch(1);
  EXPECT_EQ(it.batch_size(), 25);
  EXPECT_EQ(it.batches_per_epoch(), 2);
  ASSERT_TRUE(it.Next(x, y));
  EXPECT_EQ(y.dim(0), 25);
  ASSERT_TRUE(it.Next(x, y));
  EXPECT_EQ(y.dim(0), 15);
  EXPECT_FALSE(it.Next(x, y));
  EXPECT_THROW(it.set_batch_size(0), Error);
  EXPECT_THROW(BatchIterator(d, -1, false, 0), Error);
}

// Columns of very different scale and offset, plus a constant one.
Dataset RandomTable(std::int64_t rows, std::uint64_t seed) {
  Rng rng(seed);
  Dataset d;
  d.x = Tensor({rows, 4});
  d.y = Tensor({rows});
  d.task = Task::kRegression;
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = d.x.f32() + r * 4;
    row[0] = rng.Normal();
    row[1] = 1000.0f + 250.0f * rng.Normal();
    row[2] = 1e-3f * rng.Uniform();
    row[3] = 42.0f;
    d.y.f32()[r] = 5e5f + 1e5f * rng.Normal();
  }
  return d;
}

void ExpectStandardised(const Tensor& t, std::int64_t rows, std::int64_t cols, int col) {
  double sum = 0, sq = 0;
  for (std::int64_t r = 0; r < rows; ++r) sum += t.f32()[r * cols + col];
  double mean = sum / static_cast<double>(rows);
  for (std::int64_t r = 0; r < rows; ++r) {
    double dv = t.f32()[r * cols + col] - mean;
    sq += dv * dv;
  }
  EXPECT_NEAR(mean, 0.0, 1e-5) << "column " << col;
  EXPECT_NEAR(std::sqrt(sq / static_cast<double>(rows)), 1.0, 1e-4) << "column " << col;
}

TEST(Normalizer, FittedSetGetsMeanZeroStdOneAndConstantColumnZero) {
  Dataset d = RandomTable(2000, 11);
  Normalizer n = Normalizer::Fit(d);
  ASSERT_EQ(n.mean.size(), 4u);
  EXPECT_NEAR(n.mean[1], 1000.0f, 30.0f);
  EXPECT_NEAR(n.stddev[1], 250.0f, 20.0f);
  EXPECT_EQ(n.mean[3], 42.0f);
  EXPECT_EQ(n.stddev[3], 1.0f);
  n.Apply(d);
  for (int col = 0; col < 3; ++col) ExpectStandardised(d.x, 2000, 4, col);
  for (std::int64_t r = 0; r < 2000; ++r) EXPECT_EQ(d.x.f32()[r * 4 + 3], 0.0f);
}

TEST(Normalizer, GlobalUsesOneMeanAndStddevForAllFeatures) {
  Dataset d = RowTaggedSet(3);  // values 0..3, 10..13, 20..23
  Normalizer n = Normalizer::FitGlobal(d);
  ASSERT_EQ(n.mean.size(), 4u);
  EXPECT_FLOAT_EQ(n.mean[0], 11.5f);
  EXPECT_EQ(n.mean[3], n.mean[0]);
  EXPECT_EQ(n.stddev[3], n.stddev[0]);
  n.Apply(d);
  double sum = 0, sq = 0;
  for (std::int64_t i = 0; i < 12; ++i) sum += d.x.f32()[i];
  for (std::int64_t i = 0; i < 12; ++i) sq += d.x.f32()[i] * d.x.f32()[i];
  EXPECT_NEAR(sum / 12, 0.0, 1e-6);
  EXPECT_NEAR(std::sqrt(sq / 12), 1.0, 1e-6);
}

TEST(Normalizer, AppliesTheFittedStatisticsToOtherSets) {
  Dataset train = RandomTable(500, 1);
  Dataset other = RandomTable(3, 2);
  Normalizer n = Normalizer::Fit(train);
  float before = other.x.f32()[1];
  n.Apply(other);
  EXPECT_FLOAT_EQ(other.x.f32()[1], (before - n.mean[1]) / n.stddev[1]);
  Dataset images = RowTaggedSet(3);  // 4 features as well: fine
  EXPECT_NO_THROW(n.Apply(images));
  Dataset wide;
  wide.x = Tensor({2, 5});
  wide.y = Tensor({2});
  EXPECT_THROW(n.Apply(wide), Error);
  EXPECT_THROW(Normalizer::Fit(Dataset{}), Error);
}

TEST(TargetScaler, StandardisesAndInverts) {
  Dataset d = RandomTable(1000, 3);
  Dataset original = Subset(d, Iota(1000));
  TargetScaler s = TargetScaler::Fit(d);
  s.Apply(d);
  double sum = 0, sq = 0;
  for (std::int64_t i = 0; i < 1000; ++i) sum += d.y.f32()[i];
  for (std::int64_t i = 0; i < 1000; ++i) sq += d.y.f32()[i] * d.y.f32()[i];
  EXPECT_NEAR(sum / 1000, 0.0, 1e-5);
  EXPECT_NEAR(std::sqrt(sq / 1000), 1.0, 1e-4);
  for (std::int64_t i = 0; i < 1000; ++i) {
    EXPECT_NEAR(s.Invert(d.y.f32()[i]), original.y.f32()[i], 0.1f);
  }
  EXPECT_THROW(TargetScaler::Fit(RowTaggedSet(3)), Error);  // classification
}

}  // namespace
}  // namespace joule
