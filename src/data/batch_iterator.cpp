#include <algorithm>
#include <cstring>

#include "data/seeded_permutation.hpp"
#include "joule/data.hpp"

namespace joule {

BatchIterator::BatchIterator(const Dataset& data, std::int64_t batch_size, bool shuffle,
                             std::uint64_t seed)
    : x_(data.x),
      y_(data.y),
      batch_shape_(data.x.shape()),
      rows_(data.rows()),
      row_floats_(data.features()),
      shuffle_(shuffle),
      seed_(seed) {
  std::int64_t y_rows = data.y.rank() == 0 ? 0 : data.y.dim(0);
  if (rows_ != y_rows) {
    throw Error("BatchIterator: the dataset's x has " + std::to_string(rows_) + " rows but y has " +
                std::to_string(y_rows));
  }
  if (rows_ > 0 && (x_.dtype() != DType::kF32 || y_.dtype() != DType::kF32)) {
    throw Error("BatchIterator: the dataset's x and y must be f32");
  }
  set_batch_size(batch_size);
  StartEpoch(0);
}

void BatchIterator::set_batch_size(std::int64_t b) {
  if (b <= 0) throw Error("batch size must be positive, got " + std::to_string(b));
  next_batch_size_ = b;
}

void BatchIterator::StartEpoch(int epoch) {
  batch_size_ = next_batch_size_;
  position_ = 0;
  if (!shuffle_) return;
  // The epoch's generator is seeded from a hash of the run's seed plus the
  // epoch, not seed + epoch directly: with the latter, seeds s and s+1 would
  // replay each other's orders one epoch apart.
  Rng base(seed_);
  Rng rng(base.NextU64() + static_cast<std::uint64_t>(epoch));
  order_ = data_internal::SeededPermutation(rows_, rng);
}

bool BatchIterator::Next(Tensor& x, Tensor& y) {
  if (position_ >= rows_) return false;
  const std::int64_t b = std::min(batch_size_, rows_ - position_);
  batch_shape_[0] = b;
  x.Resize(batch_shape_);
  label_shape_[0] = b;
  y.Resize(label_shape_);
  const float* src_x = x_.f32();
  const float* src_y = y_.f32();
  float* dst_x = x.f32();
  float* dst_y = y.f32();
  if (!shuffle_) {
    std::memcpy(dst_x, src_x + position_ * row_floats_,
                static_cast<std::size_t>(b * row_floats_) * sizeof(float));
    std::memcpy(dst_y, src_y + position_, static_cast<std::size_t>(b) * sizeof(float));
  } else {
    const std::size_t row_bytes = static_cast<std::size_t>(row_floats_) * sizeof(float);
    const std::int64_t* rows = order_.data() + position_;
    for (std::int64_t i = 0; i < b; ++i) {
      std::memcpy(dst_x + i * row_floats_, src_x + rows[i] * row_floats_, row_bytes);
      dst_y[i] = src_y[rows[i]];
    }
  }
  position_ += b;
  return true;
}

std::int64_t BatchIterator::batches_per_epoch() const {
  return (rows_ + batch_size_ - 1) / batch_size_;
}

}  // namespace joule
