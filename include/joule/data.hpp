// joule/data.hpp: datasets in memory, their readers (IDX, CSV), splits,
// normalisation and batching.
//
// Every reader refuses bad input with a joule::Error whose message starts with
// the file's path and the place (byte offset for IDX, line for CSV), says what
// was expected and what was found. Nothing here prints or exits.
//
// Randomness (splits, shuffles) comes only from joule::Rng, so a seed gives the
// same rows in the same order on every platform and standard library.
//
// Thread safety: the free functions are reentrant; a Dataset, Normalizer,
// TargetScaler or BatchIterator is used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "joule/tensor.hpp"

namespace joule {

enum class Task { kClassification, kRegression };

// "classification" / "regression".
const char* TaskName(Task task);

// A whole dataset in memory. x and y share storage when a Dataset is copied
// (Tensor copies alias); use Subset or Tensor::Clone for an independent copy.
struct Dataset {
  // f32 [rows, ...features]: images [rows, 1, 28, 28] scaled to [0, 1];
  // tables [rows, columns].
  Tensor x;
  // f32 [rows]: the class index (classification) or the target value (regression).
  Tensor y;
  Task task = Task::kClassification;
  // Classification: max label + 1 (kept by Subset/Split, so both halves agree
  // even when one lacks the largest class). Regression: 0.
  int num_classes = 0;
  // The CSV header's names of x's columns, in order (the target excluded);
  // empty for images.
  std::vector<std::string> feature_names;

  // x's first dimension; 0 for an empty dataset.
  std::int64_t rows() const;
  // Product of x's dimensions after the first (784 for MNIST); 0 when x is empty.
  std::int64_t features() const;
};

// A new dataset holding copies of the given rows of `data`, in the given order
// (indices may repeat). Keeps task, num_classes and feature_names.
// Throws Error for an index outside [0, rows) or inconsistent x/y row counts.
Dataset Subset(const Dataset& data, const std::vector<std::int64_t>& row_indices);

// Rows per class, indexed by class id (size num_classes). Classification only;
// throws Error for a regression set.
std::vector<std::int64_t> ClassCounts(const Dataset& data);

// ---------------------------------------------------------------------------
// IDX (the MNIST format).
//
// Reads an images file and a labels file, each gzip-compressed or plain
// (recognised by the gzip magic bytes 1f 8b, not by the name), with zlib.
// Images: big-endian u32 magic 2051, count, rows, cols, then count*rows*cols
// u8 pixels. Labels: magic 2049, count, then count u8 labels.
// Returns x f32 [count, 1, rows, cols] = pixel / 255, y = label, classification,
// num_classes = max label + 1.
// Throws Error naming the file and the byte offset (of the decompressed
// contents for a .gz) for: a file that cannot be opened, a wrong magic number
// (expected vs found), a truncated header or truncated data (expected N bytes,
// found M), a zero count or dimension, an image count different from the label
// count, trailing bytes after the data, and a corrupt or truncated gzip stream
// (then the offset is into the compressed file).
Dataset LoadIdx(const std::string& images_path, const std::string& labels_path);

// Loads one split from a directory holding the four files under MNIST's names,
// each with or without ".gz": train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (Fashion-MNIST and KMNIST
// ship that way). `train` picks train-* (true) or t10k-* (false); ".gz" is
// preferred when both exist. Throws Error naming the missing file or directory,
// and whatever LoadIdx throws.
Dataset LoadIdxDir(const std::string& dir, bool train);

// The bundled MNIST: LoadIdxDir(DataDir() + "/mnist", train). 60000 training
// and 10000 test images of 28x28.
Dataset LoadMnist(bool train);

// ---------------------------------------------------------------------------
// CSV.
//
// Reads a CSV file whose first row is a header of unique, non-empty column
// names and whose every other cell is a number; `target` names the column that
// becomes y, every other column becomes a feature (x [rows, columns - 1], in
// file order, names in feature_names). Fields are separated by ',' and may be
// double-quoted (RFC 4180: "" is a quote, a quoted field may hold commas and
// newlines); spaces around a number are ignored; lines end in \n or \r\n; the
// last line may lack its newline; blank lines are skipped; a UTF-8 byte-order
// mark is ignored.
// Classification: target values must be non-negative integers below 65536
// (class ids); num_classes = max + 1. Regression: any finite number.
// Throws Error naming the file (and the line, where there is one) for: a file
// that cannot be read; an empty file or a header without data rows; a missing
// target column (the message lists the header's names); a duplicate or empty
// column name; no feature column; a ragged row (expected N fields, found M); an
// empty cell; a non-numeric cell (quoted in the message); NaN or infinity; a
// value outside f32's range; an unterminated quote; a bad class id.
Dataset LoadCsv(const std::string& path, const std::string& target, Task task);

// ---------------------------------------------------------------------------
// Splits the rows into (train, validation) after a seeded shuffle: validation
// gets round(rows * validation_fraction) rows, train the rest; each half keeps
// its rows in their original relative order. The same (data, fraction, seed)
// always gives the same split. Both halves are copies (no shared storage).
// Throws Error unless 0 < validation_fraction < 1 and both halves are non-empty.
std::pair<Dataset, Dataset> SplitTrainValidation(const Dataset& data, double validation_fraction,
                                                 std::uint64_t seed);

// Per-feature standardisation, fitted on one set (usually train) and applied
// to others so that all see the same transform: x' = (x - mean) / stddev.
// stddev is the population standard deviation (divide by rows), so the fitted
// set comes out with mean 0 and stddev 1 per feature; a constant feature gets
// stddev 1 (it becomes 0 instead of a division by zero).
struct Normalizer {
  std::vector<float> mean, stddev;  // one per feature (Dataset::features())

  // Throws Error for an empty dataset.
  static Normalizer Fit(const Dataset& data);
  // One mean and stddev over all of x's values, repeated for every feature
  // (the usual choice for images: per-pixel statistics divide rarely-lit
  // border pixels by a tiny stddev and blow them up on other sets; MNIST's
  // global figures are 0.1307 and 0.3081). Throws Error for an empty dataset.
  static Normalizer FitGlobal(const Dataset& data);
  // Transforms data.x in place (storage shared with other copies changes too).
  // Throws Error when data's feature count differs from the fitted one.
  void Apply(Dataset& data) const;
};

// Target standardisation for regression, so that losses see unit-scale
// targets: y' = (y - mean) / stddev; Invert maps a prediction back to the
// original unit. stddev 1 when the target is constant.
struct TargetScaler {
  float mean = 0, stddev = 1;

  // Throws Error for an empty or a classification dataset (class ids must not be scaled).
  static TargetScaler Fit(const Dataset& data);
  void Apply(Dataset& data) const;  // in place, data.y only
  float Invert(float v) const { return v * stddev + mean; }
};

// ---------------------------------------------------------------------------
// Hands out a dataset's rows in batches, epoch after epoch.
//
// With shuffle, each epoch's order is a permutation that depends only on
// (seed, epoch) — not on earlier epochs — so a run resumed at epoch e sees the
// same order as an uninterrupted one. Without shuffle, rows come in order.
// Every row appears exactly once per epoch; the last batch may be smaller.
// The iterator aliases the dataset's tensors (no copy): in-place changes such as
// Normalizer::Apply are seen, and the dataset's tensors must not be replaced by
// other shapes while it is in use.
class BatchIterator {
 public:
  // Starts at epoch 0 (as if StartEpoch(0) had been called).
  // Throws Error for batch_size <= 0 or x/y row counts that differ.
  BatchIterator(const Dataset& data, std::int64_t batch_size, bool shuffle, std::uint64_t seed);

  // Resets to the first batch of `epoch`; draws that epoch's order when shuffling;
  // applies a batch size given to set_batch_size.
  void StartEpoch(int epoch);
  // Fills x [b, ...features] and y [b] with the next batch (b = batch size,
  // fewer for the last) and returns true; returns false, leaving x and y
  // untouched, when the epoch has no rows left. Reuses x's and y's storage via
  // Tensor::Resize, so steady state allocates nothing (when the caller holds no
  // other alias of them).
  bool Next(Tensor& x, Tensor& y);
  // ceil(rows / batch size) for the batch size of the current epoch.
  std::int64_t batches_per_epoch() const;
  // The batch size of the current epoch.
  std::int64_t batch_size() const { return batch_size_; }
  // Sets the batch size from the next StartEpoch on (adaptive batch size); the
  // current epoch continues with the old one. Throws Error for b <= 0.
  void set_batch_size(std::int64_t b);

 private:
  Tensor x_, y_;
  // x_'s shape and y's, with dim 0 set per batch: kept so that Next builds no
  // Shape (a heap allocation) per batch.
  Shape batch_shape_;
  Shape label_shape_ = {0};
  std::int64_t rows_ = 0;
  std::int64_t row_floats_ = 0;  // floats per row of x
  std::int64_t batch_size_ = 0;
  std::int64_t next_batch_size_ = 0;
  bool shuffle_ = false;
  std::uint64_t seed_ = 0;
  std::vector<std::int64_t> order_;  // the epoch's row order (shuffle only)
  std::int64_t position_ = 0;        // rows handed out so far this epoch
};

}  // namespace joule
