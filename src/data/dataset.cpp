// Dataset helpers: subsets, splits and standardisation.

#include <algorithm>
#include <cmath>
#include <cstring>

#include "data/seeded_permutation.hpp"
#include "joule/data.hpp"

namespace joule {
namespace {

void CheckRowsMatch(const Dataset& data, const char* caller) {
  std::int64_t y_rows = data.y.rank() == 0 ? 0 : data.y.dim(0);
  if (data.rows() != y_rows) {
    throw Error(std::string(caller) + ": the dataset's x has " + std::to_string(data.rows()) +
                " rows but y has " + std::to_string(y_rows));
  }
}

}  // namespace

const char* TaskName(Task task) {
  return task == Task::kClassification ? "classification" : "regression";
}

std::int64_t Dataset::rows() const { return x.rank() == 0 ? 0 : x.dim(0); }

std::int64_t Dataset::features() const {
  if (x.rank() == 0) return 0;
  std::int64_t n = 1;
  for (int d = 1; d < x.rank(); ++d) n *= x.dim(d);
  return n;
}

Dataset Subset(const Dataset& data, const std::vector<std::int64_t>& row_indices) {
  CheckRowsMatch(data, "Subset");
  const std::int64_t rows = data.rows();
  const std::int64_t row_floats = data.features();
  Shape shape = data.x.shape();
  shape[0] = static_cast<std::int64_t>(row_indices.size());

  Dataset out;
  out.x = Tensor(shape);
  out.y = Tensor({shape[0]});
  out.task = data.task;
  out.num_classes = data.num_classes;
  out.feature_names = data.feature_names;
  const float* src_x = data.x.f32();
  const float* src_y = data.y.f32();
  float* dst_x = out.x.f32();
  float* dst_y = out.y.f32();
  const std::size_t row_bytes = static_cast<std::size_t>(row_floats) * sizeof(float);
  for (std::size_t i = 0; i < row_indices.size(); ++i) {
    std::int64_t r = row_indices[i];
    if (r < 0 || r >= rows) {
      throw Error("Subset: row index " + std::to_string(r) + " is outside the dataset's " +
                  std::to_string(rows) + " rows");
    }
    std::memcpy(dst_x + static_cast<std::int64_t>(i) * row_floats, src_x + r * row_floats,
                row_bytes);
    dst_y[i] = src_y[r];
  }
  return out;
}

std::vector<std::int64_t> ClassCounts(const Dataset& data) {
  if (data.task != Task::kClassification) {
    throw Error("ClassCounts: the dataset is a regression set; class counts need class ids");
  }
  std::vector<std::int64_t> counts(static_cast<std::size_t>(std::max(data.num_classes, 0)), 0);
  const float* y = data.y.empty() ? nullptr : data.y.f32();
  for (std::int64_t i = 0; i < data.y.numel(); ++i) {
    auto c = static_cast<std::int64_t>(y[i]);
    if (c < 0 || c >= data.num_classes) {
      throw Error("ClassCounts: row " + std::to_string(i) + " has class " + std::to_string(c) +
                  ", outside 0.." + std::to_string(data.num_classes - 1) + " (num_classes " +
                  std::to_string(data.num_classes) + ")");
    }
    ++counts[static_cast<std::size_t>(c)];
  }
  return counts;
}

std::pair<Dataset, Dataset> SplitTrainValidation(const Dataset& data, double validation_fraction,
                                                 std::uint64_t seed) {
  CheckRowsMatch(data, "SplitTrainValidation");
  if (!(validation_fraction > 0 && validation_fraction < 1)) {
    throw Error("validation fraction " + std::to_string(validation_fraction) +
                " is outside (0, 1); use e.g. 0.1 for 10% of the rows");
  }
  const std::int64_t rows = data.rows();
  const auto validation_rows =
      static_cast<std::int64_t>(std::llround(static_cast<double>(rows) * validation_fraction));
  if (validation_rows == 0 || validation_rows == rows) {
    throw Error("validation fraction " + std::to_string(validation_fraction) + " of " +
                std::to_string(rows) + " rows leaves the " +
                (validation_rows == 0 ? "validation" : "training") +
                " set empty; use more rows or another fraction");
  }
  Rng rng(seed);
  std::vector<std::int64_t> order = data_internal::SeededPermutation(rows, rng);
  auto split_at = order.begin() + validation_rows;
  std::vector<std::int64_t> validation(order.begin(), split_at);
  std::vector<std::int64_t> train(split_at, order.end());
  // Which rows land where is random; their order within each half need not be.
  std::sort(validation.begin(), validation.end());
  std::sort(train.begin(), train.end());
  return {Subset(data, train), Subset(data, validation)};
}

Normalizer Normalizer::Fit(const Dataset& data) {
  const std::int64_t rows = data.rows();
  const std::int64_t features = data.features();
  if (rows == 0 || features == 0) throw Error("Normalizer::Fit: the dataset is empty");
  const float* x = data.x.f32();
  const auto f = static_cast<std::size_t>(features);
  // Two passes in double: the mean first, then squared deviations from it,
  // which stays accurate where sum-of-squares minus squared-sum would cancel.
  std::vector<double> sum(f, 0.0), sq(f, 0.0);
  std::vector<float> lo(x, x + f), hi(x, x + f);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * features;
    for (std::size_t j = 0; j < f; ++j) {
      sum[j] += row[j];
      lo[j] = std::min(lo[j], row[j]);
      hi[j] = std::max(hi[j], row[j]);
    }
  }
  Normalizer n;
  n.mean.resize(f);
  n.stddev.resize(f);
  for (std::size_t j = 0; j < f; ++j) sum[j] /= static_cast<double>(rows);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * features;
    for (std::size_t j = 0; j < f; ++j) {
      double d = row[j] - sum[j];
      sq[j] += d * d;
    }
  }
  for (std::size_t j = 0; j < f; ++j) {
    n.mean[j] = static_cast<float>(sum[j]);
    // Deciding "constant" by min == max is exact; a computed variance of a
    // constant column can come out as rounding noise instead of 0.
    n.stddev[j] =
        lo[j] == hi[j] ? 1.0f : static_cast<float>(std::sqrt(sq[j] / static_cast<double>(rows)));
  }
  return n;
}

Normalizer Normalizer::FitGlobal(const Dataset& data) {
  const std::int64_t n = data.x.numel();
  if (data.rows() == 0 || n == 0) throw Error("Normalizer::FitGlobal: the dataset is empty");
  const float* x = data.x.f32();
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += x[i];
  const double mean = sum / static_cast<double>(n);
  double sq = 0;
  bool constant = true;
  for (std::int64_t i = 0; i < n; ++i) {
    sq += (x[i] - mean) * (x[i] - mean);
    constant = constant && x[i] == x[0];
  }
  const auto f = static_cast<std::size_t>(data.features());
  Normalizer out;
  out.mean.assign(f, static_cast<float>(mean));
  out.stddev.assign(f,
                    constant ? 1.0f : static_cast<float>(std::sqrt(sq / static_cast<double>(n))));
  return out;
}

void Normalizer::Apply(Dataset& data) const {
  const std::int64_t features = data.features();
  if (static_cast<std::size_t>(features) != mean.size() || mean.size() != stddev.size()) {
    throw Error("Normalizer::Apply: fitted on " + std::to_string(mean.size()) +
                " features, the dataset has " + std::to_string(features));
  }
  if (data.rows() == 0) return;
  const auto f = static_cast<std::size_t>(features);
  std::vector<float> inverse(f);
  for (std::size_t j = 0; j < f; ++j) inverse[j] = 1.0f / stddev[j];
  float* x = data.x.f32();
  for (std::int64_t r = 0; r < data.rows(); ++r) {
    float* row = x + r * features;
    for (std::size_t j = 0; j < f; ++j) row[j] = (row[j] - mean[j]) * inverse[j];
  }
}

TargetScaler TargetScaler::Fit(const Dataset& data) {
  if (data.task != Task::kRegression) {
    throw Error("TargetScaler::Fit: the dataset is a classification set; class ids are not scaled");
  }
  const std::int64_t n = data.y.numel();
  if (n == 0) throw Error("TargetScaler::Fit: the dataset is empty");
  const float* y = data.y.f32();
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += y[i];
  const double mean = sum / static_cast<double>(n);
  double sq = 0;
  bool constant = true;
  for (std::int64_t i = 0; i < n; ++i) {
    sq += (y[i] - mean) * (y[i] - mean);
    constant = constant && y[i] == y[0];
  }
  TargetScaler s;
  s.mean = static_cast<float>(mean);
  s.stddev = constant ? 1.0f : static_cast<float>(std::sqrt(sq / static_cast<double>(n)));
  return s;
}

void TargetScaler::Apply(Dataset& data) const {
  if (data.y.empty()) return;
  float* y = data.y.f32();
  for (std::int64_t i = 0; i < data.y.numel(); ++i) y[i] = (y[i] - mean) / stddev;
}

}  // namespace joule
