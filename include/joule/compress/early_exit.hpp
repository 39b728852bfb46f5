// joule/compress/early_exit.hpp: models with early exits. The network is cut
// into trunk segments; after each segment an exit head turns the features
// into class scores (the last head is the rest of the original network). At
// inference a sample leaves at the first exit whose softmax entropy is below
// a threshold, so easy samples skip the expensive tail of the network.
//
// Model directory: model.safetensors with tensors "segment<i>.<name>" and
// "exit<i>.<name>" (names from Sequential::NamedTensors) and model.json
//   {"format": "joule-early-exit", "version": 1, "sample_shape": [1, 1, 28, 28],
//    "segments": [architecture...], "exits": [architecture...],
//    "threshold": t, "metadata": {...}}
// written weights first, json last, each atomically.
//
// Nothing here is thread safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "joule/compress/distill.hpp"
#include "joule/compress/inference.hpp"

namespace joule {

class EarlyExitModel final : public InferenceModel {
 public:
  // segments[i] feeds segments[i + 1] and exits[i]; exits[i] gives [B,
  // classes]. sample_shape: one sample's shape [1, ...] as CountMacs takes it
  // ([1, 1, 28, 28] for MNIST).
  // threshold in nats, >= 0 (0: every sample takes the whole network).
  // Throws Error when the counts differ or are 0, threshold is negative or
  // NaN, or the pieces do not fit together on a sample of sample_shape.
  EarlyExitModel(std::vector<Sequential> segments, std::vector<Sequential> exits,
                 Shape sample_shape, double threshold);

  std::string kind() const override { return "early-exit"; }
  // Routes each sample (inference mode): run segment 0 and exit 0 on the
  // batch; samples whose softmax entropy is < threshold leave with exit 0's
  // scores; the rest continue through segment 1 and exit 1, and so on; the
  // last exit takes whoever is left. Adds the routed cost to MacsPerSample.
  const Tensor& Predict(const Tensor& x) override;
  // Before any Predict since ResetCost: MacsToExit(last) (the worst case: a
  // sample that takes every segment and every exit).
  double MacsPerSample() const override;
  // The network without its early exits (every segment and the last exit):
  // what the model would cost had it no exits; savings are measured against it.
  double FullMacsPerSample() const override { return plain_macs_; }
  void ResetCost() override;
  std::int64_t ParameterCount() override;

  // Every exit's logits on the whole batch (no routing), for training
  // (training = true) and threshold sweeps. Valid until the next call.
  const std::vector<Tensor>& ForwardAll(const Tensor& x, bool training);
  // Back-propagates dL/d(exit i logits) = exit_grads[i] (shapes of the last
  // ForwardAll) through the exits and the trunk; sets every parameter's grad.
  void BackwardAll(const std::vector<Tensor>& exit_grads);
  std::vector<Parameter*> Parameters();

  std::size_t num_exits() const { return segments_.size(); }
  // MACs per sample of a sample that leaves at exit i: segments 0..i and
  // exits 0..i.
  double MacsToExit(std::size_t i) const { return macs_to_exit_[i]; }
  double threshold() const { return threshold_; }
  void set_threshold(double threshold);  // throws Error for a negative or NaN value
  const Shape& sample_shape() const { return sample_shape_; }

  // Writes the model directory (format above). metadata: any JSON object.
  // Throws Error when the directory cannot be created or written.
  void Save(const std::string& dir, const nlohmann::json& metadata);
  // Reads a directory written by Save. Throws Error naming the file for a
  // missing or malformed model.json (wrong format or version, missing or
  // mistyped fields) and the tensor for a missing, extra or mis-shaped one.
  static std::unique_ptr<EarlyExitModel> Load(const std::string& dir,
                                              nlohmann::json* metadata = nullptr);

 private:
  std::vector<Sequential> segments_, exits_;
  Shape sample_shape_;
  double threshold_;
  std::vector<double> macs_to_exit_;
  double plain_macs_ = 0;
  std::vector<double> entropy_;
  std::vector<std::int64_t> rows_, keep_;
  Tensor gathered_[2];
  Tensor grad_sum_[2];  // alternated: a layer may pass dy through as its dx
  double routed_macs_ = 0;
  std::int64_t routed_samples_ = 0;
  std::vector<Tensor> exit_logits_;
  Tensor output_;
};

// Loads a directory whose model.json has "format": "joule-early-exit".
std::unique_ptr<InferenceModel> LoadEarlyExitModel(const std::string& dir);

// Softmax entropy (nats) of each row of logits [B, C], into entropy [B].
void SoftmaxEntropy(const Tensor& logits, std::vector<double>& entropy);

// An early-exit version of MakeModel(name): the same layers (so the same
// seed gives the same trunk), cut into segments, plus small exit heads.
// "cnn": segments conv16-BN-ReLU-pool | conv32-BN-ReLU-pool |
// flatten-fc128-ReLU, exits maxpool2-flatten-fc64-ReLU-fc | flatten-fc |
// fc10 (the original last layer). "mlp": segments fc256-ReLU | fc128-ReLU,
// exits fc(256, classes) | fc(128, classes). Throws Error for another name or
// a shape the model cannot take.
EarlyExitModel MakeEarlyExitModel(const std::string& name, const Shape& input_shape,
                                  std::int64_t classes, Rng& rng);

// Trains every exit at once on sum_i exit_weights[i] x CE(exit i, labels)
// with the loop of distill.hpp; the per-epoch accuracy is the last exit's.
// Throws Error unless there is one weight per exit, each >= 0 and finite,
// and at least one > 0; and for what TrainStudent throws for bad options.
CompressTrainResult TrainEarlyExit(EarlyExitModel& model, const std::vector<double>& exit_weights,
                                   const PreparedData& data, const CompressTrainOptions& options);

// One threshold's figures on a dataset.
struct ThresholdPoint {
  double threshold = 0;
  double accuracy = 0;                // fraction correct, routed
  double macs_per_sample = 0;         // mean over the rows, routed
  double cost_vs_full = 0;            // macs_per_sample / FullMacsPerSample (no exits)
  std::vector<double> exit_fraction;  // rows leaving at each exit
};

struct ThresholdSweep {
  std::vector<ThresholdPoint> points;  // in the order of the thresholds given
  double final_exit_accuracy = 0;      // every row through the last exit
  std::size_t chosen = 0;              // index into points
};

// The thresholds tried when none are given: 0 (all to the last exit) up to
// 2.5 nats (above ln 10: every MNIST sample leaves at exit 0).
std::vector<double> DefaultThresholds();

// Routes every row of `data` at each threshold (inference mode; the model's
// own threshold is left unchanged) and chooses the cheapest threshold whose
// accuracy is within max_drop_points percentage points of the last exit's.
// Use a validation split, never the test set, to choose. Threshold 0 always
// qualifies; when it is not among `thresholds` and none does, the most
// accurate is chosen. Throws Error for an empty `data`, no
// thresholds, a negative threshold or max_drop_points < 0.
ThresholdSweep SweepThresholds(EarlyExitModel& model, const Dataset& data,
                               const std::vector<double>& thresholds, double max_drop_points);

}  // namespace joule
