// joule/compress/inference.hpp: any model directory loaded for inference, its
// cost in multiply-accumulates, and the inference benchmark behind
// `joule bench-infer`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "joule/energy_report.hpp"
#include "joule/nn.hpp"
#include "joule/train.hpp"

namespace joule {

// A model directory loaded for inference: a plain Sequential model (f32,
// int8, pruned, distilled: model.json "format": "joule-model") or an
// early-exit model ("format": "joule-early-exit").
class InferenceModel {
 public:
  virtual ~InferenceModel() = default;
  virtual std::string kind() const = 0;  // "sequential" | "early-exit"
  // Class scores f32 [B, classes] for x f32 [B, ...] in the dataset's layout
  // (MNIST: [B, 1, 28, 28]). The reference stays valid until the next call.
  virtual const Tensor& Predict(const Tensor& x) = 0;
  // Multiply-accumulates per sample, averaged over the samples of every
  // Predict call since the last ResetCost (early exit: depends on where
  // samples left; otherwise a constant).
  virtual double MacsPerSample() const = 0;
  // The MACs per sample of the same network without early exits (for an
  // early-exit model: every segment and only the last exit's head): what a
  // saving is measured against.
  virtual double FullMacsPerSample() const = 0;
  virtual void ResetCost() {}
  virtual std::int64_t ParameterCount() = 0;
};

// Reads DIR/model.json's "format" and loads accordingly. Throws Error naming
// the file for a missing or malformed model.
std::unique_ptr<InferenceModel> LoadInferenceModel(const std::string& dir);
// Wraps an in-memory Sequential model (not owned; must outlive the wrapper).
std::unique_ptr<InferenceModel> WrapSequential(Sequential& model, const Shape& sample_shape);

// Multiply-accumulates of one sample of shape sample_shape ([1, ...]) through
// the model: every layer holding a "weight" tensor (parameter or buffer, any
// dtype) costs weight.numel() x (its output's numel / output channels), i.e.
// in x out for Linear and kh x kw x cin x cout x oh x ow for Conv2d. Other
// layers count 0 (they are memory-bound and small beside these).
double CountMacs(Sequential& model, const Shape& sample_shape);

// Total bytes of the regular files directly inside `dir`.
std::int64_t DirectorySize(const std::string& dir);

struct InferenceBenchOptions {
  std::int64_t latency_samples = 1000;  // batch-1 calls timed for p50/p99
  std::int64_t throughput_batch = 256;
  double throughput_seconds = 2.0;            // at least this long of batch-256 calls
  const MeteringOptions* metering = nullptr;  // null: energy not measured
};

struct InferenceBenchResult {
  double accuracy = 0;  // over the whole evaluation set
  std::int64_t rows = 0;
  double latency_p50_ms = 0, latency_p99_ms = 0;  // batch 1
  double throughput_per_s = 0;                    // batch throughput_batch
  double j_per_1000 = 0;                          // over the throughput run
  EnergyReport energy;          // the throughput run; metered() false when not metered
  std::int64_t size_bytes = 0;  // on disk (0 for in-memory models)
  double macs_per_sample = 0;   // over the accuracy pass
  double full_macs_per_sample = 0;
  std::int64_t parameters = 0;
};

// Accuracy over `data` (classification), then latency at batch 1 over the
// first latency_samples rows, then throughput on repeated batches, metered.
InferenceBenchResult BenchInference(InferenceModel& model, const Dataset& data,
                                    const InferenceBenchOptions& options);

}  // namespace joule
